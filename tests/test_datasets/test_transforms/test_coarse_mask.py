import copy

import cv2
import mmcv
import numpy as np
import pytest
from mmcv.transforms import Compose

from segrefiner.datasets.transforms import (GenerateCoarseMask, GenerateLowResCoarseMask,
                                            degrade_polygons, mask_bbox, mask_iou, perturb_mask,
                                            random_morphology, resample_mask)
from segrefiner.datasets.transforms.coarse_mask import _degrade_contour
from ..utils import object_mask


def test_mask_iou_and_bbox():
    a = np.zeros((10, 10), np.uint8)
    b = np.zeros((10, 10), np.uint8)
    assert mask_iou(a, b) == 1.0
    assert mask_bbox(a) is None
    a[2:6, 3:5] = 1
    b[4:8, 3:5] = 1
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_bbox(a) == (3, 2, 5, 6)


def test_degrade_contour_cuts_a_short_span_run():
    # a 200-point contour: a circle-like path with one long, narrow spike
    theta = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    radius = np.full(200, 50.0)
    radius[100:120] = 50 + 60 * np.sin(np.linspace(0, np.pi, 20))
    points = np.round(np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1) + 128)
    points = points.astype(np.int32)
    n = len(points)
    cut = int(0.1 * n)
    span = np.sum((points[:n - cut].astype(np.int64) - points[cut:])**2, axis=1)
    best_spans = np.sort(span)[:int(np.ceil(0.1 * len(span)))]
    for seed in range(20):
        polygon = _degrade_contour(points, np.random.default_rng(seed), 0.1, 1.0, 0.0)
        assert len(polygon) == n - cut
        # locate the removed run: the first index where the kept polygon leaves the contour
        start = next((i for i in range(len(polygon)) if (polygon[i] != points[i]).any()),
                     len(polygon))
        np.testing.assert_array_equal(polygon[start:], points[start + cut:])
        assert span[start] <= best_spans[-1]


def test_degrade_contour_subsamples_in_order(rng):
    points = np.stack([np.arange(100), np.zeros(100)], 1).astype(np.int32)
    polygon = _degrade_contour(points, rng, 0.0, 0.1, 0.0)
    assert len(polygon) == 10
    assert np.all(np.diff(polygon[:, 0]) > 0)


def test_degrade_polygons(realistic_mask, rng):
    polygon = degrade_polygons(realistic_mask, rng)
    assert polygon.dtype == np.uint8 and polygon.shape == realistic_mask.shape
    assert set(np.unique(polygon)) == {0, 1}
    assert 0.6 < mask_iou(polygon, realistic_mask) < 0.99
    # the hole contour is drawn in the same even-odd fill: the hole stays a hole
    assert realistic_mask[128, 128] == 0 and polygon[128, 128] == 0


def test_degrade_polygons_falls_back_to_input(rng):
    tiny = np.zeros((20, 20), np.uint8)
    tiny[5:7, 5:7] = 1  # its contour has fewer than 10 points
    np.testing.assert_array_equal(degrade_polygons(tiny * 255, rng), tiny)


def test_move_rate_jitters_vertices(realistic_mask):
    still = degrade_polygons(realistic_mask, np.random.default_rng(3))
    moved = degrade_polygons(realistic_mask, np.random.default_rng(3), move_rate=0.2)
    assert not np.array_equal(still, moved)


def test_random_morphology_reaches_target(realistic_mask):
    for seed in range(5):
        out = random_morphology(realistic_mask, np.random.default_rng(seed), iou_target=0.8)
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1}
        iou = mask_iou(out, realistic_mask)
        # stops at the first round below the target, so it is not far below it
        assert 0.6 < iou < 0.8


def test_random_morphology_round_limit(realistic_mask):
    out = random_morphology(realistic_mask, np.random.default_rng(0), iou_target=0.01,
                            max_rounds=1)
    assert mask_iou(out, realistic_mask) > 0.5


def test_perturb_mask_is_stage_a_then_stage_b(realistic_mask):
    for seed in range(5):
        rng = np.random.default_rng(seed)
        polygon = degrade_polygons(realistic_mask, rng)
        expected = random_morphology(polygon, rng, reference=polygon)
        coarse = perturb_mask(realistic_mask, np.random.default_rng(seed))
        np.testing.assert_array_equal(coarse, expected)
        assert mask_iou(coarse, polygon) < 0.8
        assert 0.4 < mask_iou(coarse, realistic_mask) < 0.85


def test_perturb_mask_deterministic(realistic_mask):
    a = perturb_mask(realistic_mask, np.random.default_rng(7))
    b = perturb_mask(realistic_mask, np.random.default_rng(7))
    c = perturb_mask(realistic_mask, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize('shape', [(1, 1), (2, 30), (30, 2)])
def test_perturb_mask_tiny_unchanged(shape, rng):
    mask = np.ones(shape, np.uint8) * 255
    out = perturb_mask(mask, rng)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.ones(shape, np.uint8))


def test_perturb_mask_empty(rng):
    out = perturb_mask(np.zeros((64, 64), np.uint8), rng)
    assert out.shape == (64, 64) and not out.any()


def test_resample_mask(realistic_mask):
    bbox = mask_bbox(realistic_mask)
    coarse = resample_mask(realistic_mask, (12, 12), bbox)
    assert coarse.dtype == np.uint8 and set(np.unique(coarse)) == {0, 1}
    assert 0.6 < mask_iou(coarse, realistic_mask) < 0.95
    # the 3 px rod cannot survive a 12x12 grid over a 200 px box
    assert realistic_mask[74, 215] == 1 and coarse[74, 215] == 0
    finer = resample_mask(realistic_mask, (56, 56), bbox)
    assert mask_iou(finer, realistic_mask) > mask_iou(coarse, realistic_mask)
    # nothing outside the box the head looks at
    inner = (60, 60, 200, 200)
    boxed = resample_mask(realistic_mask, (28, 28), inner)
    assert not boxed[:60].any() and not boxed[:, 200:].any()


def _results(mask):
    return dict(gt_seg_map=mask.copy(), seg_fields=['gt_seg_map'],
                img=np.zeros(mask.shape + (3, ), np.uint8), img_shape=mask.shape)


def test_generate_coarse_mask_transform(realistic_mask):
    transform = GenerateCoarseMask()
    np.random.seed(0)
    out = transform(_results(realistic_mask))
    coarse = out['coarse_seg_map']
    assert coarse.dtype == np.uint8 and coarse.shape == realistic_mask.shape
    assert set(np.unique(coarse)) == {0, 1}
    assert 0.4 < mask_iou(coarse, realistic_mask) < 0.85
    np.testing.assert_array_equal(out['gt_seg_map'], realistic_mask)
    assert out['seg_fields'] == ['gt_seg_map', 'coarse_seg_map']
    # reproducible from numpy's global seed, different draws otherwise
    np.random.seed(0)
    np.testing.assert_array_equal(transform(_results(realistic_mask))['coarse_seg_map'], coarse)
    assert not np.array_equal(transform(_results(realistic_mask))['coarse_seg_map'], coarse)
    assert 'iou_target=0.8' in repr(transform)


def test_generate_coarse_mask_empty_gt():
    out = GenerateCoarseMask()(_results(np.zeros((32, 48), np.uint8)))
    assert out['coarse_seg_map'].shape == (32, 48) and not out['coarse_seg_map'].any()


@pytest.mark.parametrize('kwargs', [dict(), dict(low_res=(8, 16)), dict(object_box=False)])
def test_generate_low_res_coarse_mask(realistic_mask, kwargs):
    transform = GenerateLowResCoarseMask(**kwargs)
    np.random.seed(1)
    out = transform(_results(realistic_mask))
    coarse = out['coarse_seg_map']
    assert coarse.dtype == np.uint8 and set(np.unique(coarse)) == {0, 1}
    assert 0.5 < mask_iou(coarse, realistic_mask) < 0.99
    assert out['seg_fields'] == ['gt_seg_map', 'coarse_seg_map']
    np.random.seed(1)
    np.testing.assert_array_equal(transform(_results(realistic_mask))['coarse_seg_map'], coarse)
    empty = transform(_results(np.zeros((32, 48), np.uint8)))['coarse_seg_map']
    assert empty.shape == (32, 48) and not empty.any()


def test_low_res_semantic_grid_is_blocky():
    mask = np.zeros((64, 128), np.uint8)
    mask[10:50, 21:90] = 1
    np.random.seed(0)
    out = GenerateLowResCoarseMask(low_res=16, object_box=False)(_results(mask))
    # 128 px -> 16 cells: the 21 px left edge snaps to the 8 px grid (area fraction 3/8 < 0.5)
    x1, y1, x2, y2 = mask_bbox(out['coarse_seg_map'])
    assert x1 != 21 and abs(x1 - 21) <= 8


def test_mmseg_resize_and_flip_follow_coarse(realistic_mask):
    pipeline = Compose([
        dict(type='GenerateCoarseMask'),
        dict(type='Resize', scale=(96, 64), keep_ratio=False),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
    ])
    results = _results(realistic_mask)
    results['img'] = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    np.random.seed(0)
    coarse = GenerateCoarseMask()(copy.deepcopy(results))['coarse_seg_map']
    np.random.seed(0)
    out = pipeline(results)
    assert out['coarse_seg_map'].shape == out['gt_seg_map'].shape == (64, 96)
    expected = mmcv.imresize(coarse, (96, 64), interpolation='nearest')[:, ::-1]
    np.testing.assert_array_equal(out['coarse_seg_map'], expected)
    expected_gt = cv2.resize(realistic_mask, (96, 64), interpolation=cv2.INTER_NEAREST)[:, ::-1]
    np.testing.assert_array_equal(out['gt_seg_map'], expected_gt)


def test_large_mask_perturbation_stays_binary():
    mask = object_mask(512)
    coarse = perturb_mask(mask, np.random.default_rng(0))
    assert set(np.unique(coarse)) == {0, 1}
    assert mask_iou(coarse, mask) < 0.85
