import sys
from pathlib import Path

# the study scripts import their shared module ``study`` from their own folder
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'tools' / 'analysis_tools'))
