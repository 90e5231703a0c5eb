import numpy as np
import pytest

from segrefiner.datasets.transforms import PatchCrop
from segrefiner.datasets.transforms.patch_crop import mixed_windows


def _results(mask):
    """An image whose pixels encode their coordinates, the GT and a coarse seg field."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx % 256, yy % 256, (xx // 256) * 16 + yy // 256], -1).astype(np.uint8)
    return dict(img=img, img_shape=(h, w), gt_seg_map=mask.astype(np.uint8),
                coarse_seg_map=1 - mask.astype(np.uint8),
                seg_fields=['gt_seg_map', 'coarse_seg_map'])


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return ((yy - centre[0])**2 + (xx - centre[1])**2 <= radius**2).astype(np.uint8)


def test_native_patch_holds_the_boundary():
    mask = _disc((600, 700), (300, 350), 200)
    np.random.seed(0)
    for _ in range(30):
        results = _results(mask)
        out = PatchCrop(size=256)(results)
        x1, y1, x2, y2 = out['crop_bbox']
        assert (x2 - x1, y2 - y1) == (256, 256) and out['img_shape'] == (256, 256)
        # native resolution: the crop is the very pixels of the image
        assert np.array_equal(out['img'], _results(mask)['img'][y1:y2, x1:x2])
        assert np.array_equal(out['coarse_seg_map'], 1 - mask[y1:y2, x1:x2])
        assert 0 < out['gt_seg_map'].sum() < 256 * 256


def test_rare_boundary_found_without_endless_redraws():
    # one foreground pixel: random windows almost never hold it; the exact draw does
    mask = np.zeros((700, 900), np.uint8)
    mask[650, 30] = 1
    np.random.seed(1)
    corners = set()
    for _ in range(20):
        x1, y1, x2, y2 = PatchCrop(size=256, max_tries=3)(_results(mask))['crop_bbox']
        assert x1 <= 30 < x2 and y1 <= 650 < y2
        corners.add((x1, y1))
    assert len(corners) > 10  # uniform over the qualifying windows, not a fixed fallback


@pytest.mark.parametrize('value', [0, 1])
def test_constant_gt_terminates_with_a_random_window(value):
    mask = np.full((400, 500), value, np.uint8)
    np.random.seed(2)
    boxes = {PatchCrop(size=256)(_results(mask))['crop_bbox'] for _ in range(10)}
    assert len(boxes) > 1
    assert all(x2 - x1 == 256 and 0 <= x1 and x2 <= 500 and y2 <= 400 for x1, _, x2, y2 in boxes)


def test_small_image_gets_half_the_short_side():
    mask = _disc((100, 300), (50, 150), 30)
    np.random.seed(3)
    out = PatchCrop(size=256)(_results(mask))
    assert out['img_shape'] == (50, 50)
    assert 0 < out['gt_seg_map'].sum() < 2500
    assert PatchCrop(size=256, small_ratio=1.0).patch_side((100, 300)) == 100
    assert PatchCrop(size=256).patch_side((1, 300)) == 1


def test_mixed_windows_matches_brute_force(rng):
    mask = (rng.random((23, 31)) < 0.02).astype(np.uint8)
    mask[15:, 20:] = 1
    side = 6
    got = mixed_windows(mask, side)
    expected = np.array([[0 < mask[y:y + side, x:x + side].sum() < side * side
                          for x in range(31 - side + 1)] for y in range(23 - side + 1)])
    assert np.array_equal(got, expected)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match='size'):
        PatchCrop(size=0)
    with pytest.raises(ValueError, match='small_ratio'):
        PatchCrop(small_ratio=0)
    assert 'PatchCrop(size=256' in repr(PatchCrop())
