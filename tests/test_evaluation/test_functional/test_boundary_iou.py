"""Boundary IoU: d rule, zero-padded border, iterated 3x3 erosion, pycocotools' empty rule."""
import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from segrefiner.evaluation.functional import (boundary_dilation, boundary_intersection_union,
                                              boundary_iou, mask_to_boundary)


def square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def reference_boundary(mask, dilation_ratio=0.02):
    """boundary-iou-api's recipe: pad with zeros, erode d times with a 3x3 square, subtract."""
    h, w = mask.shape
    d = max(1, int(round(dilation_ratio * np.sqrt(h**2 + w**2))))
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=d)[1:-1, 1:-1]
    return mask & ~eroded.astype(bool)


@pytest.mark.parametrize('hw,d', [((480, 640), 16), ((427, 640), 15), ((1024, 1024), 29),
                                  ((50, 50), 1), ((10, 10), 1)])
def test_dilation_examples(hw, d):
    assert boundary_dilation(*hw) == d


def test_inner_band_of_a_square():
    # 20x20 image: d = round(0.02 * 28.3) = 1. A 10x10 square has the 36 px ring inside it.
    g = square(20, 20, 5, 15, 5, 15)
    b = mask_to_boundary(g)
    inner = square(20, 20, 6, 14, 6, 14)
    np.testing.assert_array_equal(b, g & ~inner)
    assert b.sum() == 36


def test_image_edge_counts_as_background():
    # A full mask: its boundary is the outer ring of the image (unlike mBA and DAVIS).
    b = mask_to_boundary(np.ones((20, 20), bool))
    assert b.sum() == 20 * 4 - 4
    assert b[0].all() and b[-1].all() and b[:, 0].all() and b[:, -1].all()
    assert not b[1:-1, 1:-1].any()
    # With d = 2 (ratio 0.08 on 20x20: round(2.26) = 2) the ring is two pixels thick.
    assert mask_to_boundary(np.ones((20, 20), bool), 0.08).sum() == 400 - 16 * 16


def test_one_square_erosion_equals_d_iterations(blobs, rng):
    for shape in [(20, 20), (37, 130), (64, 64), (130, 70), (3, 200)]:
        for ratio in (0.02, 0.05, 0.1):
            m = blobs(*shape, noise=0.02)
            np.testing.assert_array_equal(mask_to_boundary(m, ratio), reference_boundary(m, ratio))


def test_matches_literal_definition(plain, blobs):
    for shape in [(20, 30), (40, 70)]:
        for ratio in (0.02, 0.06):
            p, g = blobs(*shape), blobs(*shape)
            np.testing.assert_array_equal(mask_to_boundary(g, ratio),
                                          plain.mask_to_boundary(g, ratio))
            assert boundary_iou(p, g, ratio) == plain.boundary_iou(p, g, ratio)


def test_square_shifted_by_one_pixel():
    # Two 10x10 squares one column apart (d = 1): their 36 px rings share the top and bottom
    # rows over 9 columns each -> 18 / (36 + 36 - 18) = 1/3.
    g = square(20, 20, 5, 15, 5, 15)
    p = square(20, 20, 5, 15, 6, 16)
    assert boundary_intersection_union(p, g) == (18, 54)
    assert boundary_iou(p, g) == 18 / 54
    assert boundary_iou(g, p) == boundary_iou(p, g)


def test_empty_cases_follow_pycocotools():
    g = square(20, 20, 5, 15, 5, 15)
    empty = np.zeros((20, 20), bool)
    assert boundary_iou(g, g) == 1.0
    assert boundary_iou(empty, g) == 0.0
    assert boundary_iou(g, empty) == 0.0
    # Both empty: 0 (pycocotools' iou returns 0 whenever the intersection is empty).
    assert boundary_iou(empty, empty) == 0.0
    assert boundary_intersection_union(empty, empty) == (0, 0)
    rle = mask_utils.encode(np.asfortranarray(empty.astype(np.uint8)))
    assert mask_utils.iou([rle], [rle], [0])[0, 0] == 0.0
    # Disjoint masks: 0.
    assert boundary_iou(square(20, 20, 0, 5, 0, 5), square(20, 20, 10, 15, 10, 15)) == 0.0


def test_same_as_pycocotools_iou_of_the_boundaries(blobs):
    for _ in range(3):
        p, g = blobs(60, 90), blobs(60, 90)
        bp, bg = reference_boundary(p), reference_boundary(g)
        rles = [mask_utils.encode(np.asfortranarray(b.astype(np.uint8))) for b in (bp, bg)]
        expected = mask_utils.iou([rles[0]], [rles[1]], [0])[0, 0]
        assert boundary_iou(p, g) == pytest.approx(expected, rel=1e-12)


def test_void_is_not_counted():
    g = square(20, 20, 5, 15, 5, 15)
    p = square(20, 20, 5, 15, 6, 16)
    void = np.zeros((20, 20), bool)
    void[:, 14:] = True  # hides the right sides
    # Outside void, G's ring keeps rows 5 and 14 over columns 5..13 (2 x 9) and column 5 over
    # rows 6..13 (8): 26 px; P's ring keeps rows 5 and 14 over columns 6..13 (2 x 8) and
    # column 6 over rows 6..13 (8): 24 px. They share the 16 px of the rows -> (16, 34).
    assert boundary_intersection_union(p, g, void=void) == (16, 34)
    assert boundary_intersection_union(p, g, void=void) != boundary_intersection_union(p, g)


def test_input_forms(blobs):
    g, p = blobs(30, 40), blobs(30, 40)
    ref = boundary_iou(p, g)
    assert boundary_iou(p.astype(np.uint8) * 255, g.astype(np.uint8) * 255) == ref
    assert boundary_iou(torch.from_numpy(p)[None], torch.from_numpy(g).long()) == ref
    with pytest.raises(ValueError, match='same shape'):
        boundary_iou(p[:, 1:], g)
