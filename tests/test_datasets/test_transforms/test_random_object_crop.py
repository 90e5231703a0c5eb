import numpy as np

from segrefiner.datasets.transforms import RandomObjectCrop


def _results(shape=(120, 200), box=(50, 30, 90, 60)):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    gt = np.zeros(shape, np.uint8)
    x1, y1, x2, y2 = box
    gt[y1:y2, x1:x2] = 1
    coarse = ((xx * 7 + yy * 3) % 2).astype(np.uint8)
    return dict(img=img, img_shape=shape, gt_seg_map=gt, coarse_seg_map=coarse,
                seg_fields=['gt_seg_map', 'coarse_seg_map'])


def test_crop_holds_object_with_independent_margins():
    box = (30, 20, 60, 40)
    np.random.seed(0)
    sides = []
    for _ in range(600):
        results = _results(shape=(60, 100), box=box)
        original = {k: results[k].copy() for k in ('img', 'coarse_seg_map')}
        out = RandomObjectCrop()(results)
        x1, y1, x2, y2 = out['crop_bbox']
        assert x1 <= 30 and y1 <= 20 and x2 >= 60 and y2 >= 40
        assert out['gt_seg_map'].sum() == 30 * 20  # the whole object
        assert np.array_equal(out['img'], original['img'][y1:y2, x1:x2])
        assert np.array_equal(out['coarse_seg_map'], original['coarse_seg_map'][y1:y2, x1:x2])
        assert out['img_shape'] == (y2 - y1, x2 - x1)
        sides.append((x1, y1, x2, y2))
    x1, y1, x2, y2 = np.array(sides).T
    # each side uniform from the object out to the border (inclusive), independently
    assert set(x1) == set(range(31)) and set(y1) == set(range(21))
    assert set(x2) == set(range(60, 101)) and set(y2) == set(range(40, 61))
    assert abs(np.corrcoef(x1, x2)[0, 1]) < 0.15 and abs(np.corrcoef(x1, y1)[0, 1]) < 0.15


def test_object_on_the_border_and_empty_mask():
    np.random.seed(1)
    for _ in range(10):
        x1, y1, x2, y2 = RandomObjectCrop()(_results(box=(0, 0, 200, 10)))['crop_bbox']
        assert (x1, y1, x2) == (0, 0, 200) and y2 >= 10
    out = RandomObjectCrop()(_results(box=(0, 0, 0, 0)))
    assert out['crop_bbox'] == (0, 0, 200, 120)
    assert 'RandomObjectCrop' in repr(RandomObjectCrop())
