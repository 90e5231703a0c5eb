import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmseg.registry import DATASETS

from segrefiner.datasets import RefineFolderDataset
from .utils import write_sample


@pytest.fixture
def folder(tmp_path):
    root = str(tmp_path / 'data')
    arrays = {
        'b': write_sample(root, 'b', shape=(48, 64), seed=1),
        'a': write_sample(root, 'a', shape=(40, 50), seed=2),
        'sub/c': write_sample(root, 'sub/c', shape=(36, 36), seed=3),
    }
    return root, arrays


def test_items(folder):
    root, _ = folder
    dataset = DATASETS.build(dict(type='RefineFolderDataset', data_root=root))
    assert isinstance(dataset, RefineFolderDataset)
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == ('background', 'foreground')
    assert dataset.metainfo['palette'] == [[0, 0, 0], [255, 255, 255]]
    infos = [dataset.get_data_info(i) for i in range(3)]
    assert [osp.relpath(i['img_path'], root) for i in infos] == [
        'images/a.jpg', 'images/b.jpg', 'images/sub/c.jpg'
    ]
    for info in infos:
        name = osp.relpath(info['img_path'], osp.join(root, 'images'))[:-4]
        assert info['seg_map_path'] == osp.join(root, 'masks', name + '.png')
        assert info['coarse_path'] == osp.join(root, 'coarse', name + '.png')
        assert info['seg_fields'] == [] and info['reduce_zero_label'] is False
        assert info['label_map'] is None


def test_without_coarse_folder(tmp_path):
    root = str(tmp_path)
    write_sample(root, 'a', coarse=False)
    dataset = RefineFolderDataset(data_root=root,
                                  data_prefix=dict(img_path='images', seg_map_path='masks'))
    assert len(dataset) == 1 and 'coarse_path' not in dataset.get_data_info(0)


def test_ann_file_split(folder):
    root, _ = folder
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write('sub/c\nb\n')
    dataset = RefineFolderDataset(data_root=root, ann_file='split.txt')
    assert [osp.basename(dataset.get_data_info(i)['coarse_path']) for i in range(2)] == [
        'c.png', 'b.png'
    ]
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        RefineFolderDataset(data_root=root, ann_file='nope.txt')
    with open(osp.join(root, 'bad.txt'), 'w') as f:
        f.write('a\nmissing_one\n')
    with pytest.raises(FileNotFoundError, match='missing_one.jpg'):
        RefineFolderDataset(data_root=root, ann_file='bad.txt')


@pytest.mark.parametrize('sub,suffix', [('coarse', '.png'), ('masks', '.png')])
def test_missing_pair_file(folder, sub, suffix):
    root, _ = folder
    missing = osp.join(root, sub, 'b' + suffix)
    os.remove(missing)
    with pytest.raises(FileNotFoundError) as info:
        RefineFolderDataset(data_root=root)
    assert missing in str(info.value) and 'images/b.jpg' in str(info.value)


def test_missing_folder_or_no_images(tmp_path, folder):
    root, _ = folder
    with pytest.raises(FileNotFoundError, match='coarse mask folder.*elsewhere'):
        RefineFolderDataset(data_root=root, data_prefix=dict(
            img_path='images', seg_map_path='masks', coarse_path='elsewhere'))
    with pytest.raises(FileNotFoundError, match='image folder'):
        RefineFolderDataset(data_root=str(tmp_path / 'absent'))
    with pytest.raises(FileNotFoundError, match=r'no images found: \*\.png'):
        RefineFolderDataset(data_root=root, img_suffix='.png')


def test_full_pipeline(folder):
    root, arrays = folder
    pipeline = [
        dict(type='LoadRefineImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='LoadCoarseMask'),
        dict(type='ObjectCrop', pad=8, random_shift=False),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='RandomFlip', prob=0.0),
        dict(type='PackRefineInputs'),
    ]
    dataset = RefineFolderDataset(data_root=root, pipeline=pipeline)
    for index in range(len(dataset)):
        out = dataset[index]
        sample = out['data_samples']
        assert out['inputs'].shape == (3, 32, 32) and out['inputs'].dtype == torch.uint8
        for field in ('gt_sem_seg', 'coarse_sem_seg'):
            data = getattr(sample, field).data
            assert data.shape == (1, 32, 32) and data.dtype == torch.int64
            assert set(data.unique().tolist()) == {0, 1}
        assert sample.coarse_path == dataset.get_data_info(index)['coarse_path']
        x1, y1, x2, y2 = sample.crop_bbox
        name = osp.relpath(sample.img_path, osp.join(root, 'images'))[:-4]
        gt = arrays[name]['gt']
        ys, xs = np.nonzero(gt)
        box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        h, w = gt.shape
        # the whole box, an 8 px margin (clipped to the image), centred unless at a border
        assert x1 <= box[0] and y1 <= box[1] and x2 >= box[2] and y2 >= box[3]
        assert (x2 - x1, y2 - y1) == (min(box[2] - box[0] + 8, w), min(box[3] - box[1] + 8, h))
        assert x1 == box[0] - 4 or x1 == 0 or x2 == w
        assert y1 == box[1] - 4 or y1 == 0 or y2 == h
        for field, key in (('gt_sem_seg', 'gt'), ('coarse_sem_seg', 'coarse')):
            expected = mmcv.imresize(arrays[name][key][y1:y2, x1:x2], (32, 32),
                                     interpolation='nearest')
            np.testing.assert_array_equal(getattr(sample, field).data[0].numpy(), expected)
        assert sample.img_shape == (32, 32) and sample.ori_shape == gt.shape


def test_pipeline_with_online_coarse(tmp_path):
    root = str(tmp_path)
    write_sample(root, 'a', shape=(64, 64), coarse=False)
    pipeline = Compose([
        dict(type='LoadRefineImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='GenerateCoarseMask'),
        dict(type='ObjectCrop'),
        dict(type='PackRefineInputs'),
    ])
    dataset = RefineFolderDataset(data_root=root, pipeline=pipeline,
                                  data_prefix=dict(img_path='images', seg_map_path='masks'))
    sample = dataset[0]['data_samples']
    assert sample.coarse_sem_seg.shape == sample.gt_sem_seg.shape
    assert 'coarse_path' not in sample.metainfo


def test_flat_folder_with_name_suffixes(tmp_path):
    """BIG-style layout: ``<name>_im.jpg``, ``<name>_gt.png``, ``<name>_seg.png`` side by side."""
    root = tmp_path / 'big'
    for name in ('x', 'y'):
        arrays = write_sample(str(tmp_path / name), name, seed=ord(name))
        root.mkdir(exist_ok=True)
        for sub, suffix, ext in (('images', '_im.jpg', '.jpg'), ('masks', '_gt.png', '.png'),
                                 ('coarse', '_seg.png', '.png')):
            os.rename(tmp_path / name / sub / (name + ext), root / (name + suffix))
    dataset = RefineFolderDataset(
        data_root=str(root), data_prefix=dict(img_path='', seg_map_path='', coarse_path=''),
        img_suffix='_im.jpg', seg_map_suffix='_gt.png', coarse_suffix='_seg.png',
        pipeline=[dict(type='LoadRefineImageFromFile'), dict(type='LoadCoarseMask')])
    assert len(dataset) == 2
    info = dataset.get_data_info(1)
    assert info['coarse_path'] == str(root / 'y_seg.png')
    assert info['seg_map_path'] == str(root / 'y_gt.png')
    np.testing.assert_array_equal(dataset[1]['coarse_seg_map'], arrays['coarse'])
