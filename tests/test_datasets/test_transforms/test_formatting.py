import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample

from segrefiner.datasets.transforms import PackRefineInputs


def _results(with_gt=True):
    rng = np.random.default_rng(0)
    results = dict(
        img=rng.integers(0, 256, (20, 30, 3), dtype=np.uint8),
        coarse_seg_map=(rng.random((20, 30)) > 0.5).astype(np.uint8),
        img_path='a.jpg', seg_map_path='a.png', coarse_path='c.png', ori_shape=(20, 30),
        img_shape=(20, 30), crop_bbox=(0, 0, 30, 20), flip=False, flip_direction=None,
        unrelated='dropped')
    if with_gt:
        results['gt_seg_map'] = (rng.random((20, 30)) > 0.5).astype(np.uint8)
    return results


def test_pack_refine_inputs():
    results = _results()
    packed = PackRefineInputs()(dict(results))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(inputs, torch.Tensor) and inputs.dtype == torch.uint8
    assert inputs.shape == (3, 20, 30)
    np.testing.assert_array_equal(inputs.numpy(), results['img'].transpose(2, 0, 1))
    assert isinstance(sample, SegDataSample)
    for field, key in (('gt_sem_seg', 'gt_seg_map'), ('coarse_sem_seg', 'coarse_seg_map')):
        data = getattr(sample, field).data
        assert data.dtype == torch.int64 and data.shape == (1, 20, 30)
        np.testing.assert_array_equal(data[0].numpy(), results[key])
    assert sample.coarse_path == 'c.png' and sample.img_path == 'a.jpg'
    assert sample.crop_bbox == (0, 0, 30, 20) and sample.ori_shape == (20, 30)
    assert 'unrelated' not in sample.metainfo


def test_pack_without_gt():
    sample = PackRefineInputs()(_results(with_gt=False))['data_samples']
    assert 'gt_sem_seg' not in sample and 'coarse_sem_seg' in sample


def test_pack_needs_coarse():
    results = _results()
    del results['coarse_seg_map']
    with pytest.raises(KeyError, match='coarse_seg_map'):
        PackRefineInputs()(results)


def test_pack_non_contiguous_fields():
    results = _results()
    for key in ('img', 'gt_seg_map', 'coarse_seg_map'):
        results[key] = results[key][2:18, 5:25]
    sample = PackRefineInputs()(results)['data_samples']
    assert sample.coarse_sem_seg.data.shape == (1, 16, 20)
