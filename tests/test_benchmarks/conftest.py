import sys
from pathlib import Path

# the benchmarks are scripts, imported from benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'benchmarks'))
