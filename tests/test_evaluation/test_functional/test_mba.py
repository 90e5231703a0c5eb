"""mBA (CascadePSP): radii, OpenCV ellipse kernel, band border handling, empty-band policy."""
import math

import cv2
import numpy as np
import pytest
import torch

from segrefiner.evaluation.functional import (band_accuracies, boundary_accuracy,
                                              boundary_bands, disk_kernel, ellipse_kernel, mba,
                                              mba_radii)


def square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize('hw,radii', [((480, 640), [1, 1, 2, 2, 3]),
                                      ((1600, 2048), [1, 3, 5, 7, 9]),
                                      ((3600, 5000), [1, 6, 12, 17, 23]),
                                      ((100, 150), [1, 1, 1, 1, 1]),
                                      ((1440, 2560), [1, 3, 5, 8, 10]),
                                      ((2160, 3840), [1, 4, 8, 12, 16]),
                                      ((10, 10), [1, 1, 1, 1, 1])])
def test_radii_examples(hw, radii):
    assert mba_radii(*hw) == radii


def test_ellipse_is_opencv_not_skimage():
    # r = 2: OpenCV 17 px (rows ±1 full width 5) against skimage's 13.
    assert ellipse_kernel(2).sum() == 17 and disk_kernel(2).sum() == 13
    np.testing.assert_array_equal(ellipse_kernel(2)[1], [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(disk_kernel(2)[1], [0, 1, 1, 1, 0])
    counts = {r: (int(ellipse_kernel(r).sum()), int(disk_kernel(r).sum()))
              for r in (1, 3, 4, 5, 8)}
    assert counts == {1: (5, 5), 3: (33, 29), 4: (57, 49), 5: (89, 81), 8: (213, 197)}
    for r in range(0, 40):
        np.testing.assert_array_equal(
            ellipse_kernel(r), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))


def test_band_and_accuracy_of_a_small_square():
    # 3x3 square in a 9x9 image, radius 1 (cross): the dilation is the square plus its four
    # 3-pixel arms (21 px), the erosion the centre (1 px) -> band of 20 px.
    g = square(9, 9, 3, 6, 3, 6)
    band = boundary_bands(g, [1])[0]
    assert band.count == 20
    assert band.mask.sum() == 20 and not band.mask[4, 4] and band.mask[3, 3]
    # Perfect prediction: 1. Empty prediction: right on the 12 background band pixels, wrong on
    # the 8 foreground ones -> 12 / 20. The 9x9 image has radii [1]*5, so mBA is the same.
    assert mba(g, g) == 1.0
    assert boundary_accuracy(np.zeros_like(g), g, 1) == 0.6
    assert mba(np.zeros_like(g), g) == 0.6


def test_ellipse_band_differs_from_disk_band():
    # A single foreground pixel, radius 2: the band is the kernel around it, minus nothing
    # (the erosion is empty): OpenCV's ellipse gives 17 px, a skimage disk would give 13.
    g = square(11, 11, 5, 6, 5, 6)
    band = boundary_bands(g, [2])[0].mask
    assert band.sum() == 17
    np.testing.assert_array_equal(band[3:8, 3:8], ellipse_kernel(2).astype(bool))
    # Predicting only the pixel: correct everywhere in the band (all 17).
    assert boundary_accuracy(g, g, 2) == 1.0
    # Predicting the skimage disk: wrong on the 4 pixels at (±1, ±2) of the ellipse.
    p = np.zeros_like(g)
    p[3:8, 3:8] = disk_kernel(2).astype(bool)
    assert boundary_accuracy(p, g, 2) == 5 / 17  # right: centre + 4 band pixels outside disk


def test_border_is_ignored_like_opencv():
    # The left half touches the top, left and bottom edges: the band (r = 1) is columns 4 and 5
    # only; nothing along the image edge (scipy's default erosion border would add it).
    g = square(10, 10, 0, 10, 0, 5)
    band = boundary_bands(g, [1])[0].mask
    expected = np.zeros((10, 10), bool)
    expected[:, 4:6] = True
    np.testing.assert_array_equal(band, expected)
    grad = cv2.morphologyEx(g.astype(np.uint8), cv2.MORPH_GRADIENT, ellipse_kernel(1)) > 0
    np.testing.assert_array_equal(band, grad)


def test_empty_band_policy_is_nan():
    # A constant GT has no band: every accuracy is NaN, so the image's mBA is NaN (dataset
    # means skip it).
    for gt in (np.zeros((20, 20), bool), np.ones((20, 20), bool)):
        assert all(b.count == 0 for b in boundary_bands(gt))
        assert np.isnan(band_accuracies(gt, gt, boundary_bands(gt))).all()
        assert math.isnan(mba(np.zeros((20, 20), bool), gt))
        assert math.isnan(mba(gt, gt))


def test_void_pixels_leave_the_band():
    g = square(9, 9, 3, 6, 3, 6)
    empty = np.zeros_like(g)
    void = np.zeros_like(g)
    void[:, :4] = True  # columns 0..3
    # Void removes the left arm (3 px), the square's left column (3 fg px) and the first pixel
    # of the top and bottom arms (2 px): 12 band pixels remain, 8 - 3 = 5 of them foreground
    # (wrong for the empty prediction) -> 7 / 12.
    assert boundary_accuracy(empty, g, 1, void=void) == 7 / 12
    # A band entirely under void is NaN as well.
    assert math.isnan(boundary_accuracy(empty, g, 1, void=np.ones_like(g)))


@pytest.mark.parametrize('shape', [(12, 12), (20, 70), (37, 130), (5, 200), (70, 3)])
def test_bands_match_literal_definition_and_opencv(shape, plain, blobs):
    for _ in range(2):
        g = blobs(*shape)
        for r in (1, 2, 3, 5):
            band = boundary_bands(g, [r])[0].mask
            np.testing.assert_array_equal(band, plain.mba_band(g, r))
            grad = cv2.morphologyEx(g.astype(np.uint8), cv2.MORPH_GRADIENT,
                                    cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
            np.testing.assert_array_equal(band, grad > 0)


def test_mba_matches_literal_definition(plain, blobs):
    # 160x200: radii [1, 1, 1, 1, 1] -> use a larger image to get several radii cheaply with
    # OpenCV as the band oracle, and the literal oracle on the small one.
    g, p = blobs(40, 50), blobs(40, 50, noise=0.05)
    assert mba(p, g) == plain.mba(p, g)
    g, p = blobs(480, 640, n=4), blobs(480, 640, n=4, noise=0.01)
    accs = []
    for r in mba_radii(480, 640):
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        band = cv2.morphologyEx(g.astype(np.uint8), cv2.MORPH_GRADIENT, k) > 0
        accs.append(np.count_nonzero(band & (p == g)) / np.count_nonzero(band))
    assert mba(p, g) == sum(accs) / 5


def test_bands_shared_between_predictions(blobs):
    g = blobs(64, 80)
    bands = boundary_bands(g)
    assert bands[0] is bands[1]  # radii [1, 1, 1, 1, 1] share one band
    p1, p2 = blobs(64, 80), np.roll(g, 1, axis=1)
    assert mba(p1, g, bands=bands) == mba(p1, g)
    assert mba(p2, g, bands=bands) == mba(p2, g)


def test_input_forms(blobs):
    g, p = blobs(30, 40), blobs(30, 40)
    ref = mba(p, g)
    assert mba(p.astype(np.uint8) * 255, g.astype(np.uint8) * 255) == ref
    assert mba(torch.from_numpy(p).long()[None], torch.from_numpy(g)) == ref
    assert mba(p.astype(np.float32), g) == ref
    with pytest.raises(ValueError, match='same shape'):
        mba(p[1:], g)
