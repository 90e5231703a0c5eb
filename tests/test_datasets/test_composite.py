"""Photo-composite renderer, coarse-mask sampler, CompositeRefineDataset and its config."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from segrefiner.datasets import CompositeRefineDataset
from segrefiner.datasets.generators.composite import (COARSE_KINDS, SHAPE_KINDS, photo_pool,
                                                      render_composite, render_silhouette,
                                                      sample_coarse_mask)
from segrefiner.datasets.transforms.coarse_mask import mask_iou

from .utils import object_mask

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'segrefiner', 'segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py')
SIZE = (96, 112)


def _render(seed, size=SIZE):
    return render_composite(np.random.default_rng(seed), size, return_info=True)


def test_photo_pool_is_bundled():
    pool = photo_pool()
    assert len(pool['colour']) >= 8 and len(pool['grey']) >= 6
    assert all(p.ndim == 3 and p.dtype == np.uint8 for p in pool['colour'])
    assert pool['horse'].dtype == bool and 0.1 < pool['horse'].mean() < 0.6


def test_render_deterministic_per_seed():
    img_a, mask_a, _ = _render(3)
    img_b, mask_b, _ = _render(3)
    img_c, mask_c, _ = _render(4)
    assert np.array_equal(img_a, img_b) and np.array_equal(mask_a, mask_b)
    assert not np.array_equal(img_a, img_c)


@pytest.mark.parametrize('seed', range(6))
def test_render_shapes_and_masks(seed):
    img, mask, info = _render(seed)
    assert img.shape == (*SIZE, 3) and img.dtype == np.uint8
    assert mask.shape == SIZE and mask.dtype == bool
    assert 0 < mask.sum() < mask.size
    assert info['shape'] in SHAPE_KINDS
    for distractor in info['distractors']:
        assert distractor.shape == SIZE and not (distractor & mask).any()
    plain = render_composite(np.random.default_rng(seed), SIZE)
    assert len(plain) == 2 and np.array_equal(plain[1], mask)


@pytest.mark.parametrize('kind', SHAPE_KINDS)
def test_every_silhouette_kind(kind):
    mask, got = render_silhouette(np.random.default_rng(0), 96, kind)
    assert got == kind and mask.shape == (96, 96) and mask.dtype == np.uint8
    assert mask.any() and set(np.unique(mask)) <= {0, 1}


@pytest.mark.parametrize('kind', COARSE_KINDS)
def test_every_coarse_kind_differs_but_overlaps(kind):
    _, mask, info = _render(1, (128, 128))
    coarse, got = sample_coarse_mask(np.random.default_rng(0), mask, kind=kind,
                                     distractors=info['distractors'])
    assert got == kind and coarse.shape == mask.shape and coarse.dtype == bool
    assert not np.array_equal(coarse, mask)
    assert (coarse & mask).any()
    assert 0.2 < mask_iou(coarse.astype(np.uint8), mask.astype(np.uint8)) < 1


def test_random_coarse_kinds_cover_all_and_stay_in_range():
    mask = object_mask(128).astype(bool)
    distractors = [np.zeros_like(mask)]
    distractors[0][100:, :30] = True
    rng = np.random.default_rng(0)
    seen, ious = set(), []
    for _ in range(60):
        coarse, kind = sample_coarse_mask(rng, mask, distractors=distractors, extra_prob=0.5)
        seen.add(kind)
        ious.append(mask_iou(coarse.astype(np.uint8), mask.astype(np.uint8)))
    assert seen == set(COARSE_KINDS)
    assert np.median(ious) > 0.45 and max(ious) < 1
    with pytest.raises(ValueError, match='unknown coarse kind'):
        sample_coarse_mask(rng, mask, kind='nope')


def test_dataset_items():
    dataset = CompositeRefineDataset(num_samples=3, img_size=SIZE, seed=5)
    assert len(dataset) == 3
    info = dataset.get_data_info(1)
    again = CompositeRefineDataset(num_samples=3, img_size=SIZE, seed=5).get_data_info(1)
    other = CompositeRefineDataset(num_samples=3, img_size=SIZE, seed=6).get_data_info(1)
    assert info['img'].shape == (*SIZE, 3) and info['img'].dtype == np.uint8
    for key in ('gt_seg_map', 'coarse_seg_map'):
        assert info[key].shape == SIZE and info[key].dtype == np.uint8
        assert set(np.unique(info[key])) <= {0, 1} and info[key].any()
        assert np.array_equal(info[key], again[key])
    assert info['seg_fields'] == ['gt_seg_map', 'coarse_seg_map']
    assert info['coarse_kind'] in COARSE_KINDS and info['sample_idx'] == info['index'] == 1
    subset = CompositeRefineDataset(num_samples=3, img_size=SIZE, seed=5, indices=[1])
    assert len(subset) == 1 and np.array_equal(subset.get_data_info(0)['img'], info['img'])
    assert not np.array_equal(info['img'], other['img'])
    plain = CompositeRefineDataset(num_samples=1, img_size=SIZE, coarse=False).get_data_info(0)
    assert 'coarse_seg_map' not in plain and plain['seg_fields'] == ['gt_seg_map']
    with pytest.raises(ValueError, match='unknown coarse kinds'):
        CompositeRefineDataset(num_samples=1, coarse_kinds=('nope', ))


def test_config_pipelines_yield_packed_inputs():
    cfg = Config.fromfile(CONFIG)
    train_cfg = dict(cfg.train_dataloader.dataset, num_samples=4, img_size=(160, 160))
    train_cfg.pop('type')
    train = CompositeRefineDataset(**train_cfg)
    crop = cfg.crop_size
    for i in range(len(train)):
        out = train[i]
        sample = out['data_samples']
        assert out['inputs'].shape == (3, *crop) and out['inputs'].dtype == torch.uint8
        assert sample.gt_sem_seg.data.shape == (1, *crop)
        assert sample.coarse_sem_seg.data.shape == (1, *crop)
        assert set(sample.coarse_sem_seg.data.unique().tolist()) <= {0, 1}
    val_cfg = dict(cfg.val_dataloader.dataset, num_samples=1, img_size=(160, 160))
    val_cfg.pop('type')
    out = CompositeRefineDataset(**val_cfg)[0]
    assert out['inputs'].shape == (3, 160, 160)
    assert out['data_samples'].coarse_sem_seg.data.shape == (1, 160, 160)


def test_config_model_fits_the_budget():
    from mmseg.registry import MODELS
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.parameters())
    assert params * 4 <= 25e6
    assert cfg.model.test_cfg.model_size == 256


def test_config_trains_two_iterations(tmp_path, monkeypatch):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import train as train_tool
    finally:
        sys.path.pop(0)
    work_dir = tmp_path / 'work'
    monkeypatch.setattr(sys, 'argv', [
        'train.py', CONFIG, '--work-dir', str(work_dir), '--cfg-options',
        'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.img_size=(160,160)', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'val_dataloader.dataset.num_samples=1',
        'val_dataloader.dataset.img_size=(96,96)'
    ])
    train_tool.main()
    assert (work_dir / 'iter_2.pth').is_file()


def test_look_alike_and_contrast_options():
    # the same draws with the defaults spelt out; no look-alikes and a large colour step change
    # the image but not the sampling of everything else
    base = CompositeRefineDataset(num_samples=2, img_size=SIZE, seed=3).get_data_info(0)
    spelt = CompositeRefineDataset(num_samples=2, img_size=SIZE, seed=3, similar_prob=0.5,
                                   contrast=(12.0, 40.0)).get_data_info(0)
    assert np.array_equal(base['img'], spelt['img'])
    distinct = CompositeRefineDataset(num_samples=2, img_size=SIZE, seed=3, similar_prob=0.0,
                                      contrast=(150.0, 150.0)).get_data_info(0)
    assert distinct['gt_seg_map'].any() and not np.array_equal(base['img'], distinct['img'])
    for bad in (dict(similar_prob=1.5), dict(contrast=(40.0, 10.0))):
        with pytest.raises(ValueError, match='similar_prob'):
            CompositeRefineDataset(num_samples=1, **bad)
