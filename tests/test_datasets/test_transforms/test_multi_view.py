import numpy as np
import pytest
import torch

from segrefiner.datasets.transforms import MultiViewPack


def _results():
    img = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    gt = np.zeros((300, 400), np.uint8)
    gt[100:200, 120:300] = 1
    coarse = np.zeros_like(gt)
    coarse[95:210, 110:290] = 1
    return dict(img=img, img_shape=(300, 400), ori_shape=(300, 400), img_path='x.jpg',
                gt_seg_map=gt, coarse_seg_map=coarse, seg_fields=['gt_seg_map', 'coarse_seg_map'])


VIEWS = dict(
    object=[dict(type='RandomObjectCrop'),
            dict(type='Resize', scale=(64, 64), keep_ratio=False),
            dict(type='PackRefineInputs')],
    patch=[dict(type='PatchCrop', size=64), dict(type='PackRefineInputs')])


def test_views_packed_independently():
    results = _results()
    original = {k: v.copy() for k, v in results.items() if isinstance(v, np.ndarray)}
    np.random.seed(0)
    out = MultiViewPack(views=VIEWS)(results)
    assert [i.shape for i in out['inputs']] == [torch.Size([3, 64, 64])] * 2
    obj, patch = out['data_samples']
    assert (obj.view, patch.view) == ('object', 'patch')
    assert obj.img_path == patch.img_path == 'x.jpg'
    for sample in (obj, patch):
        assert sample.gt_sem_seg.shape == sample.coarse_sem_seg.shape == (64, 64)
    # the object view holds the whole object (squashed), the patch view a native crop
    x1, y1, x2, y2 = patch.crop_bbox
    assert torch.equal(out['inputs'][1], torch.from_numpy(
        original['img'][y1:y2, x1:x2].transpose(2, 0, 1).copy()))
    ox1, oy1, ox2, oy2 = obj.crop_bbox
    assert ox1 <= 120 and oy1 <= 100 and ox2 >= 300 and oy2 >= 200
    # each view worked on its own copy
    for key, value in original.items():
        assert np.array_equal(results[key], value)


def test_view_that_does_not_pack_or_drops_the_sample():
    with pytest.raises(TypeError, match="'patch' view pipeline"):
        MultiViewPack(views=dict(object=VIEWS['object'], patch=[dict(type='PatchCrop')]))(
            _results())
    # a view that drops the sample (here: its image is missing) drops the whole item
    drop = MultiViewPack(views=dict(a=VIEWS['patch'],
                                    b=[dict(type='LoadRefineImageFromFile', ignore_empty=True),
                                       dict(type='PackRefineInputs')]))
    assert drop(_results()) is None
    with pytest.raises(ValueError, match='non-empty dict'):
        MultiViewPack(views=[VIEWS['object']])
