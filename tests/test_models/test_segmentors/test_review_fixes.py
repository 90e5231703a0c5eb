"""Small review fixes (issue 9 §4): flip undo in the Refiner's post-processing, the residual
refiner's default schedule, ``_forward``'s annotation and the package's declared Python
version."""
import ast
import inspect
import re
from pathlib import Path

import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList

from segrefiner.models.segmentors.refiner import Refiner
from segrefiner.models.segmentors.residual_refiner import DEFAULT_TEST_CFG
from utils import tiny_refiner_cfg

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def refiner():
    return MODELS.build(tiny_refiner_cfg())


@pytest.mark.parametrize('direction, dims', [('horizontal', (1, )), ('vertical', (0, )),
                                             ('diagonal', (0, 1))])
def test_postprocess_result_undoes_each_flip(refiner, direction, dims):
    logits = torch.arange(-6, 6, dtype=torch.float32).reshape(3, 4)
    prob = logits.sigmoid()
    sample = SegDataSample(metainfo=dict(ori_shape=(3, 4), flip=True,
                                         flip_direction=direction))
    refiner.postprocess_result(logits[None, None], [sample])
    assert torch.equal(sample.seg_logits.data[0], prob.flip(dims=dims))
    assert torch.equal(sample.pred_sem_seg.data[0], (prob.flip(dims=dims) > 0.5).long())


def test_postprocess_result_undoes_a_diagonal_flip_inside_the_padding(refiner):
    logits = torch.full((1, 1, 5, 6), -20.0)
    logits[0, 0, :3, :4] = torch.arange(-6, 6, dtype=torch.float32).reshape(3, 4)
    sample = SegDataSample(metainfo=dict(ori_shape=(3, 4), flip=True, flip_direction='diagonal',
                                         img_padding_size=(0, 2, 0, 2)))
    refiner.postprocess_result(logits, [sample])
    assert torch.equal(sample.seg_logits.data[0], logits[0, 0, :3, :4].sigmoid().flip((0, 1)))
    assert sample.metainfo['flip_direction'] == 'diagonal'


def test_postprocess_result_rejects_an_unknown_flip_direction(refiner):
    sample = SegDataSample(metainfo=dict(ori_shape=(2, 2), flip=True, flip_direction='up'))
    with pytest.raises(ValueError, match="flip_direction 'up'"):
        refiner.postprocess_result(torch.zeros(1, 1, 2, 2), [sample])


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
