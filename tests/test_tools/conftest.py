import sys
from pathlib import Path

# reference_unet.py lives beside the tests; the tools are scripts, imported from tools/.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools'))
