import sys
from pathlib import Path

# the study scripts import their shared module ``study`` from their own folder
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'tools' / 'analysis_tools'))
# the shared in-process tools/train.py runner of the training tests (tests/test_tools/train_utils.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
