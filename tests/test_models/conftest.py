"""Model tests: ``utils``/``tiny_models`` importable, one intra-op thread per test."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def single_thread():
    """Run each model test on one intra-op thread (restored afterwards).

    The tiny networks gain nothing from a second thread, and on a shared 2-core machine two
    threads per process made these tests 5-10x slower (e.g. ResidualRefiner's learning test:
    64 s with 2 threads, 7 s with 1, at a load of ~3).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
