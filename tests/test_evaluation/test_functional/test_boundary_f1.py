"""DAVIS boundary F-measure: seg2bmap, tolerance, argument order, empty cases, exactness."""
import numpy as np
import pytest
import torch

from segrefiner.evaluation.functional import (BoundaryCounts, bound_pixels, boundary_f1,
                                              boundary_f1_counts, disk_kernel, f_measure,
                                              seg2bmap)
from segrefiner.evaluation.functional import boundary_fmeasure


def square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def ring(h, w, y0, y1, x0, x1):
    """The outline of the box rows y0..y1-1, cols x0..x1-1."""
    m = square(h, w, y0, y1, x0, x1)
    m[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = False
    return m


def test_seg2bmap_square_is_ring_offset_up_left():
    # A 4x4 square at rows/cols 2..5: the boundary is the outline of rows/cols 1..5 (16 px):
    # the upper/left pixel of each differing pair is marked, background or foreground.
    g = square(10, 10, 2, 6, 2, 6)
    b = seg2bmap(g)
    np.testing.assert_array_equal(b, ring(10, 10, 1, 6, 1, 6))
    assert b.sum() == 16


def test_seg2bmap_border_is_not_a_boundary():
    # Left half touching the top, bottom and left edges: only column 4 (east neighbour
    # differs) is boundary, in every row including the last (east counts there).
    g = square(10, 10, 0, 10, 0, 5)
    expected = np.zeros((10, 10), bool)
    expected[:, 4] = True
    np.testing.assert_array_equal(seg2bmap(g), expected)
    # Full and empty masks have no boundary at all.
    assert not seg2bmap(np.ones((7, 9), bool)).any()
    assert not seg2bmap(np.zeros((7, 9), bool)).any()


def test_seg2bmap_last_row_column_rules():
    # Last row: only east counts; last column: only south counts; bottom-right never.
    g = np.zeros((3, 3), bool)
    g[2, 2] = True  # bottom-right pixel set
    b = seg2bmap(g)
    # (2,1): east neighbour differs -> 1; (1,2): south differs -> 1; (1,1): SE differs -> 1;
    # (2,2) bottom-right -> 0.
    expected = np.zeros((3, 3), bool)
    expected[2, 1] = expected[1, 2] = expected[1, 1] = True
    np.testing.assert_array_equal(b, expected)


@pytest.mark.parametrize('shape', [(1, 1), (1, 9), (9, 1), (2, 70), (5, 64), (3, 129), (31, 17)])
def test_seg2bmap_matches_literal_definition(shape, plain, blobs):
    for _ in range(3):
        m = blobs(*shape, noise=0.1)
        np.testing.assert_array_equal(seg2bmap(m), plain.seg2bmap(m))


def test_bound_pixels_ratio_and_pixels():
    # Examples of docs/metrics.md, 'Boundary F-measure' (bound_th = 0.008).
    assert bound_pixels(0.008, (480, 854)) == 8
    assert bound_pixels(0.008, (480, 640)) == 7
    assert bound_pixels(0.008, (1080, 1920)) == 18
    # A 100x100 image: 0.008 * 141.42 = 1.13 -> 2 px, 0.007 * 141.42 = 0.99 -> 1 px.
    assert bound_pixels(0.008, (100, 100)) == 2
    assert bound_pixels(0.007, (100, 100)) == 1
    # >= 1 is a pixel count, independent of the size.
    assert bound_pixels(2, (100, 100)) == 2 and bound_pixels(3.0, (5, 5)) == 3
    with pytest.raises(ValueError):
        bound_pixels(2.5, (10, 10))
    with pytest.raises(ValueError):
        bound_pixels(-0.1, (10, 10))


def test_square_shifted_by_one_pixel():
    g = square(10, 10, 2, 6, 2, 6)
    p = square(10, 10, 2, 6, 3, 7)  # one pixel to the right
    # Radius 0 (bound_th = 0 -> ceil(0) = 0): the outlines share their top and bottom rows
    # (cols 2..5: 4 + 4 = 8 of 16 pixels each): P = R = F = 0.5.
    assert boundary_f1_counts(p, g, 0) == BoundaryCounts(8, 16, 8, 16)
    assert boundary_f1(p, g, 0) == (0.5, 0.5, 0.5)
    # One pixel of tolerance matches everything.
    assert boundary_f1(p, g, 1) == (1.0, 1.0, 1.0)
    # As a ratio: 0.05 * diag(10x10) = 0.71 -> 1 px.
    assert boundary_f1(p, g, 0.05) == (1.0, 1.0, 1.0)


def test_ratio_equals_pixel_tolerance(blobs):
    g = blobs(100, 100)
    p = np.roll(g, (2, -1), axis=(0, 1))
    assert boundary_f1(p, g, 0.008) == boundary_f1(p, g, 2)
    assert boundary_f1(p, g, 0.007) == boundary_f1(p, g, 1)
    assert boundary_f1(p, g, 1).f < boundary_f1(p, g, 2).f


def test_disk_is_skimage_disk():
    # skimage's disk(r): offsets with dx² + dy² <= r²; r = 2 has 13 pixels, r = 8 197.
    assert disk_kernel(1).sum() == 5
    assert disk_kernel(2).sum() == 13
    assert disk_kernel(8).sum() == 197
    for r in range(0, 12):
        y, x = np.mgrid[-r:r + 1, -r:r + 1]
        np.testing.assert_array_equal(disk_kernel(r), (x * x + y * y <= r * r).astype(np.uint8))


def test_disk_not_ellipse_at_radius_two():
    # A GT boundary pixel at (10, 10), prediction boundary pixels at offset (1, 2): inside
    # OpenCV's ellipse (row ±1 is full width 5) but outside the disk (1 + 4 = 5 > 4).
    g = square(30, 30, 11, 30, 0, 30)  # boundary: row 10
    p = square(30, 30, 12, 30, 0, 30)  # boundary: row 11
    # Each pred boundary pixel has a GT one straight above (distance 1): all matched.
    assert boundary_f1(p, g, 1).f == 1.0
    p2 = square(30, 30, 13, 30, 0, 30)  # boundary: row 12 -> distance 2
    assert boundary_f1(p2, g, 1).f == 0.0 and boundary_f1(p2, g, 2).f == 1.0


def test_argument_order_precision_on_prediction():
    g = square(20, 20, 2, 8, 2, 8)
    p = g | square(20, 20, 14, 18, 14, 18)  # the GT plus a far extra blob
    r = boundary_f1(p, g, 1)
    # The 6x6 square has 24 boundary pixels (outline of a 7x7 box), the 4x4 blob 16. Every GT
    # boundary pixel is found (recall 1); the blob's are not (precision = 24 / 40).
    assert r.recall == 1.0
    assert r.precision == 24 / 40
    assert r.f == 2 * 0.6 / 1.6
    swapped = boundary_f1(g, p, 1)
    assert swapped.precision == 1.0 and swapped.recall == 24 / 40
    assert swapped.f == r.f


def test_empty_cases():
    g = square(10, 10, 2, 6, 2, 6)
    empty = np.zeros((10, 10), bool)
    full = np.ones((10, 10), bool)
    # empty prediction, GT with boundary: P = 1, R = 0 -> F = 0
    assert boundary_f1(empty, g) == (0.0, 1.0, 0.0)
    # prediction with boundary, empty GT: P = 0, R = 1 -> F = 0
    assert boundary_f1(g, empty) == (0.0, 0.0, 1.0)
    # both empty: P = R = F = 1
    assert boundary_f1(empty, empty) == (1.0, 1.0, 1.0)
    # a full mask has no boundary either (the image edge is not one)
    assert boundary_f1(full, empty) == (1.0, 1.0, 1.0)
    assert boundary_f1(full, g) == (0.0, 1.0, 0.0)
    assert f_measure(BoundaryCounts(0, 0, 0, 0)) == (1.0, 1.0, 1.0)


def test_void_pixels_are_removed_from_both_masks():
    g = square(20, 20, 2, 10, 2, 10)
    p = square(20, 20, 2, 10, 2, 14)  # too wide on the right
    assert boundary_f1(p, g, 1).f < 1
    void = np.zeros((20, 20), bool)
    void[:, 9:] = True  # hide everything right of column 8
    # Cut at the same column, both masks' outlines coincide.
    assert boundary_f1(p, g, 1, void=void) == (1.0, 1.0, 1.0)


def test_input_forms(blobs):
    g = blobs(40, 50)
    p = np.roll(g, 3, axis=1)
    ref = boundary_f1(p, g, 2)
    assert boundary_f1(p.astype(np.uint8) * 255, g.astype(np.uint8) * 255, 2) == ref
    assert boundary_f1(p.astype(np.int64), g.astype(np.int64), 2) == ref
    assert boundary_f1(torch.from_numpy(p)[None], torch.from_numpy(g.astype(np.uint8))[None],
                       2) == ref
    with pytest.raises(ValueError, match='same shape'):
        boundary_f1(p[:, :-1], g)


@pytest.mark.parametrize('shape,radius', [((23, 31), 1), ((40, 70), 2), ((33, 130), 3),
                                          ((64, 64), 5), ((1, 40), 1), ((40, 1), 2)])
def test_matches_literal_definition(shape, radius, plain, blobs, monkeypatch):
    for noise in (0.0, 0.05):
        g = blobs(*shape)
        p = blobs(*shape, noise=noise)
        void = blobs(*shape, n=1) if noise else None
        expected = plain.boundary_f1(p, g, radius, void)
        assert tuple(boundary_f1(p, g, radius, void)) == pytest.approx(expected, abs=0, rel=0)
        # the dense (bit-packed dilation) matcher gives the same numbers as the sparse one
        monkeypatch.setattr(boundary_fmeasure, '_SPARSE_COST', 1e9)
        assert tuple(boundary_f1(p, g, radius, void)) == expected
        monkeypatch.setattr(boundary_fmeasure, '_SPARSE_COST', 0.0)
        assert tuple(boundary_f1(p, g, radius, void)) == expected
        monkeypatch.undo()


def test_multiple_tolerances_in_one_call(blobs):
    g = blobs(60, 60)
    p = np.roll(g, 2, axis=0)
    many = boundary_f1_counts(p, g, [1, 2, 0.05])
    assert many == [boundary_f1_counts(p, g, t) for t in (1, 2, 0.05)]
