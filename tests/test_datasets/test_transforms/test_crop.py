import numpy as np
import pytest
from mmcv.transforms import Compose

from segrefiner.datasets.transforms import ObjectCrop


def _results(shape=(120, 200), box=(50, 30, 90, 60)):
    """An image whose pixels encode their coordinates, a GT box and a second seg field."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    gt = np.zeros(shape, np.uint8)
    x1, y1, x2, y2 = box
    gt[y1:y2, x1:x2] = 1
    coarse = ((xx * 7 + yy * 3) % 2).astype(np.uint8)
    return dict(img=img, img_shape=shape, gt_seg_map=gt, coarse_seg_map=coarse,
                seg_fields=['gt_seg_map', 'coarse_seg_map'])


def test_crop_contains_box_and_random_margin():
    box = (50, 30, 90, 60)
    lefts, tops = [], []
    np.random.seed(0)
    for _ in range(300):
        out = ObjectCrop(pad=40)(_results(box=box))
        x1, y1, x2, y2 = out['crop_bbox']
        assert (x2 - x1, y2 - y1) == (40 + 40, 30 + 40)
        assert x1 <= box[0] and y1 <= box[1] and x2 >= box[2] and y2 >= box[3]
        assert out['gt_seg_map'].sum() == 40 * 30  # the whole object is inside
        lefts.append(box[0] - x1)
        tops.append(box[1] - y1)
    # the 40 px margin is split uniformly at random, independently per axis
    assert set(lefts) == set(range(41)) and set(tops) == set(range(31))
    assert abs(np.mean(lefts) - 20) < 3
    assert abs(np.corrcoef(lefts, tops)[0, 1]) < 0.2


def test_crop_is_clipped_to_the_image():
    np.random.seed(0)
    for _ in range(20):
        out = ObjectCrop(pad=40)(_results(box=(0, 100, 30, 120)))
        x1, y1, x2, y2 = out['crop_bbox']
        assert x1 == 0 and x2 == 70 and y2 == 120 and y1 == 120 - 60
    out = ObjectCrop(pad=400)(_results())
    assert out['crop_bbox'] == (0, 0, 200, 120)


def test_centred_crop():
    out = ObjectCrop(pad=40, random_shift=False)(_results(box=(50, 30, 90, 60)))
    assert out['crop_bbox'] == (30, 10, 110, 80)
    out = ObjectCrop(pad=41, random_shift=False)(_results(box=(50, 30, 90, 60)))
    x1, y1, x2, y2 = out['crop_bbox']
    assert (50 - x1, x2 - 90) in ((20, 21), (21, 20))


def test_all_fields_cropped_identically():
    results = _results()
    original = {k: results[k].copy() for k in ('img', 'gt_seg_map', 'coarse_seg_map')}
    np.random.seed(3)
    out = ObjectCrop(pad=40)(results)
    x1, y1, x2, y2 = out['crop_bbox']
    assert out['img_shape'] == (y2 - y1, x2 - x1)
    for key, array in original.items():
        np.testing.assert_array_equal(out[key], array[y1:y2, x1:x2])
    # the image encodes coordinates, so this pins the offset too
    assert out['img'][0, 0, 0] == x1 and out['img'][0, 0, 1] == y1


def test_empty_mask_keeps_whole_image():
    results = _results()
    results['gt_seg_map'][:] = 0
    out = ObjectCrop()(results)
    assert out['crop_bbox'] == (0, 0, 200, 120)
    assert out['img'].shape == (120, 200, 3)


def test_mask_key_and_reproducibility():
    results = _results()
    results['gt_seg_map'][:] = 0
    results['coarse_seg_map'][:] = 0
    results['coarse_seg_map'][10:20, 150:170] = 1
    out = ObjectCrop(pad=10, random_shift=False, mask_key='coarse_seg_map')(results)
    assert out['crop_bbox'] == (145, 5, 175, 25)

    crops = []
    for _ in range(2):
        np.random.seed(11)
        pipeline = Compose([dict(type='ObjectCrop', pad=40)])
        crops.append([pipeline(_results())['crop_bbox'] for _ in range(5)])
    assert crops[0] == crops[1] and len(set(crops[0])) > 1


def test_missing_mask_key():
    with pytest.raises(KeyError):
        ObjectCrop(mask_key='nothing')(_results())
    assert 'pad=40' in repr(ObjectCrop())
