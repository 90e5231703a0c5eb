"""Fixtures shared by the dataset and transform tests."""
import numpy as np
import pytest

from .utils import object_mask


@pytest.fixture
def realistic_mask() -> np.ndarray:
    """A 256x256 uint8 {0, 1} star with a hole and a thin rod."""
    return object_mask(256)
