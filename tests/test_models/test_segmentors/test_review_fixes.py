"""Small review fixes (issue 9 §4): flip undo, the residual refiner's default schedule,
``_forward``'s annotation and the package's declared Python version."""
import ast
import inspect
import re
from pathlib import Path

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList

from segrefiner.models.segmentors.refiner import Refiner
from segrefiner.models.segmentors.residual_refiner import DEFAULT_TEST_CFG

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize('direction, dims', [('horizontal', (1, )), ('vertical', (0, )),
                                             ('diagonal', (0, 1))])
def test_set_prediction_undoes_each_flip(direction, dims):
    prob = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 12
    sample = SegDataSample(metainfo=dict(ori_shape=(3, 4), flip=True,
                                         flip_direction=direction))
    Refiner.set_prediction(sample, prob, 0.5)
    assert torch.equal(sample.seg_logits.data[0], prob.flip(dims=dims))
    assert torch.equal(sample.pred_sem_seg.data[0], (prob.flip(dims=dims) >= 0.5).long())


def test_set_prediction_rejects_an_unknown_flip_direction():
    sample = SegDataSample(metainfo=dict(ori_shape=(2, 2), flip=True, flip_direction='up'))
    with pytest.raises(ValueError, match="flip_direction 'up'"):
        Refiner.set_prediction(sample, torch.zeros(2, 2), 0.5)


def test_residual_refiner_defaults_to_the_seed_schedule():
    """The original's inference example: ``num_steps=5, t_level=150``."""
    assert DEFAULT_TEST_CFG == dict(num_steps=5, t_level=150)


def test_forward_annotates_samples_as_samples():
    annotation = inspect.signature(Refiner._forward).parameters['data_samples'].annotation
    assert annotation == OptSampleList


def _uses_py310_syntax(source: str) -> bool:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'zip' and any(
                k.arg == 'strict' for k in node.keywords):
            return True
        if isinstance(node, ast.Match):
            return True
    return False


def test_python_requires_covers_the_syntax_the_package_uses():
    uses_310 = any(_uses_py310_syntax(p.read_text())
                   for p in (ROOT / 'segrefiner').rglob('*.py'))
    found = re.search(r"python_requires='>=(\d+)\.(\d+)'", (ROOT / 'setup.py').read_text())
    assert found, 'setup.py declares no python_requires'
    minimum = (int(found.group(1)), int(found.group(2)))
    if uses_310:
        assert minimum >= (3, 10), f'the package uses 3.10 syntax but setup.py says {minimum}'
