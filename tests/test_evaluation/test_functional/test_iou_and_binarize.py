"""Pooled vs per-image IoU, the binarisation rule, and the bit-packed morphology helpers."""
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from segrefiner.evaluation.functional import (binarize, intersection_union, iou, mean_iou,
                                              pooled_iou)
from segrefiner.evaluation.functional import bitmorph as bm


def test_intersection_union_and_iou():
    g = np.zeros((10, 10), bool)
    g[:, :5] = True  # 50 px
    p = np.zeros((10, 10), bool)
    p[:, 3:8] = True  # 50 px, 20 shared
    assert intersection_union(p, g) == (20, 80)
    assert iou(p, g) == 0.25
    # both empty: 1 (DAVIS J rule); one empty: 0
    empty = np.zeros((10, 10), bool)
    assert iou(empty, empty) == 1.0 and intersection_union(empty, empty) == (0, 0)
    assert iou(empty, g) == 0.0
    # void pixels are not counted
    void = np.zeros((10, 10), bool)
    void[:, 4:] = True
    # outside void (columns 0..3): GT 40 px, prediction column 3 (10 px) -> (10, 40)
    assert intersection_union(p, g, void) == (10, 40)
    assert iou(p, g, void) == 0.25


def test_pooled_is_not_the_mean_of_per_image_ious():
    # Image A: GT 100 px, prediction the half of it (I 50, U 100, IoU 0.5).
    # Image B: GT 1 px, predicted exactly (I 1, U 1, IoU 1).
    ga = np.zeros((10, 10), bool)
    ga[:] = True
    pa = ga.copy()
    pa[:, 5:] = False
    gb = np.zeros((10, 10), bool)
    gb[3, 3] = True
    pb = gb.copy()
    assert pooled_iou([pa, pb], [ga, gb]) == 51 / 101
    assert mean_iou([pa, pb], [ga, gb]) == 0.75
    # an empty pair adds nothing to the pooled value but counts 1 in the mean
    e = np.zeros((10, 10), bool)
    assert pooled_iou([pa, pb, e], [ga, gb, e]) == 51 / 101
    assert mean_iou([pa, pb, e], [ga, gb, e]) == pytest.approx(2.5 / 3)
    # nothing anywhere: NaN pooled
    assert math.isnan(pooled_iou([e], [e]))
    assert math.isnan(mean_iou([], []))
    with pytest.raises(ValueError):
        pooled_iou([pa, pb], [ga])  # lengths differ


def test_binarize_rules():
    # bool: as is
    b = np.array([[True, False]])
    assert binarize(b) is b
    # 0-255 data (max > 1): >= 128 (SegRefiner's eval rule; 128 is foreground)
    np.testing.assert_array_equal(binarize(np.array([[0, 127, 128, 255]], np.uint8)),
                                  [[False, False, True, True]])
    # 0/1 data: >= 0.5, i.e. the 1s (ints) or probabilities >= 0.5
    np.testing.assert_array_equal(binarize(np.array([[0, 1, 1, 0]], np.int64)),
                                  [[False, True, True, False]])
    np.testing.assert_array_equal(binarize(np.array([[0.2, 0.5, 0.7, 1.0]], np.float32)),
                                  [[False, True, True, True]])
    # explicit threshold
    np.testing.assert_array_equal(binarize(np.array([[0, 1, 100, 200]]), threshold=100),
                                  [[False, False, True, True]])
    # torch and (1, H, W)
    t = torch.tensor([[[0, 255], [128, 3]]], dtype=torch.uint8)
    np.testing.assert_array_equal(binarize(t), [[False, True], [True, False]])
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        binarize(np.zeros((2, 3, 4)))


def test_pack_roundtrip_and_popcount(rng):
    for w in (1, 7, 63, 64, 65, 130):
        m = rng.random((5, w)) < 0.4
        words = bm.pack(m)
        assert words.shape == (5, (w + 63) // 64)
        np.testing.assert_array_equal(bm.unpack(words, w), m)
        assert bm.popcount(words) == m.sum()
        ys, xs = bm.nonzero(words)
        ey, ex = np.nonzero(m)
        np.testing.assert_array_equal(ys, ey)
        np.testing.assert_array_equal(xs, ex)
        # complement stays inside the image
        assert bm.popcount(bm.invert(words, w)) == m.size - m.sum()


@pytest.mark.parametrize('s', [1, -1, 5, -5, 63, -63, 64, -64, 65, -70, 129, -129, 300])
def test_hshift(s, rng):
    w = 150
    m = rng.random((3, w)) < 0.5
    expected = np.zeros_like(m)
    if s >= 0:
        expected[:, :max(w - s, 0)] = m[:, s:]
    else:
        expected[:, -s:] = m[:, :w + s]
    np.testing.assert_array_equal(bm.unpack(bm.hshift(bm.pack(m), s, w), w), expected)


def test_erode_square_and_dilate_match_scipy(rng):
    for shape in [(20, 70), (33, 130), (64, 64)]:
        m = rng.random(shape) < 0.8
        words = bm.pack(m)
        for d in (1, 2, 5):
            k = np.ones((2 * d + 1, 2 * d + 1), bool)
            expected = ndimage.binary_erosion(m, k, border_value=0)
            np.testing.assert_array_equal(bm.unpack(bm.erode_square(words, d, shape[1]),
                                                    shape[1]), expected)
        sparse = rng.random(shape) < 0.02
        r = 3
        hws = [int(math.isqrt(r * r - dy * dy)) for dy in range(-r, r + 1)]
        y, x = np.mgrid[-r:r + 1, -r:r + 1]
        dil = bm.dilate_many(bm.pack(sparse), shape[1], {'d': hws})['d']
        np.testing.assert_array_equal(
            bm.unpack(dil, shape[1]), ndimage.binary_dilation(sparse, x * x + y * y <= r * r))
