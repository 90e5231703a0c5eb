"""Shared pytest setup: register segrefiner's components and use the mmseg scope."""
import pytest
from mmengine.registry import init_default_scope

import segrefiner  # noqa: F401  (registers components; pytest.ini filters the stack's warnings)

init_default_scope('mmseg')


@pytest.fixture
def rng():
    """A fresh, seeded numpy Generator for each test."""
    import numpy as np
    return np.random.default_rng(0)
