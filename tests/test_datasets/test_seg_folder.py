"""SegFolderDataset: layouts, mask naming rules, image formats, threshold, val_split, errors."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from segrefiner.datasets.seg_folder import (SegFolderDataset, mask_candidates,
                                            pair_images_with_masks, split_pairs)

PIPELINE = [dict(type='LoadRefineImageFromFile'), dict(type='LoadThresholdedAnnotations'),
            dict(type='PackSegInputs')]


def write_image(path, size=(12, 16), value=90):
    """A (H, W) = ``size`` colour image in the format of the path's extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full(size + (3, ), value, np.uint8)
    image[:, : size[1] // 2] = (20, 200, 120)
    assert cv2.imwrite(str(path), image)


def write_mask(path, grey):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), grey)


def square_mask(size=(12, 16), value=255):
    mask = np.zeros(size, np.uint8)
    mask[2:8, 3:11] = value
    return mask


def side_by_side(root, names, mask_name='{stem}.png'):
    """``root/images/<name>`` + ``root/masks/<mask_name>`` for each image name."""
    for name in names:
        stem, ext = osp.splitext(name)
        write_image(root / 'images' / name)
        write_mask(root / 'masks' / mask_name.format(stem=stem, ext=ext), square_mask())
    return root


def relpaths(dataset, key='img_path'):
    return [osp.relpath(dataset.get_data_info(i)[key], dataset.data_root)
            for i in range(len(dataset))]


def test_registered_with_binary_classes(tmp_path):
    side_by_side(tmp_path, ['a.jpg'])
    dataset = DATASETS.build(dict(type='SegFolderDataset', data_root=str(tmp_path)))
    assert isinstance(dataset, SegFolderDataset)
    assert dataset.metainfo['classes'] == ('background', 'foreground')
    info = dataset.get_data_info(0)
    assert info['seg_fields'] == [] and info['reduce_zero_label'] is False
    assert info['label_map'] is None


@pytest.mark.parametrize('mask_name', ['{stem}.png', '{stem}_mask.png', '{stem}_gt.png',
                                       '{stem}{ext}'])
def test_side_by_side_naming_rules(tmp_path, mask_name):
    side_by_side(tmp_path, ['photo_001.jpg', 'IMG_123.png', 'data_05.tiff'], mask_name)
    dataset = SegFolderDataset(data_root=str(tmp_path))
    assert relpaths(dataset) == ['images/IMG_123.png', 'images/data_05.tiff',
                                 'images/photo_001.jpg']
    expected = [mask_name.format(stem=s, ext=e) for s, e in
                (('IMG_123', '.png'), ('data_05', '.tiff'), ('photo_001', '.jpg'))]
    assert relpaths(dataset, 'seg_map_path') == [f'masks/{m}' for m in expected]


def test_mixed_naming_rules_and_subfolders(tmp_path):
    write_image(tmp_path / 'images' / 'photo_001.jpg')
    write_mask(tmp_path / 'masks' / 'photo_001.png', square_mask())
    write_image(tmp_path / 'images' / 'IMG_123.png')
    write_mask(tmp_path / 'masks' / 'IMG_123_mask.png', square_mask())
    write_image(tmp_path / 'images' / 'data_05.tiff')
    write_mask(tmp_path / 'masks' / 'data_05_gt.png', square_mask())
    write_image(tmp_path / 'images' / 'sub' / 'x.bmp')
    write_mask(tmp_path / 'masks' / 'sub' / 'x.bmp', square_mask())
    dataset = SegFolderDataset(data_root=str(tmp_path))
    assert dict(zip(relpaths(dataset), relpaths(dataset, 'seg_map_path'))) == {
        'images/photo_001.jpg': 'masks/photo_001.png',
        'images/IMG_123.png': 'masks/IMG_123_mask.png',
        'images/data_05.tiff': 'masks/data_05_gt.png',
        'images/sub/x.bmp': 'masks/sub/x.bmp'}


@pytest.mark.parametrize('ext', ['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                                 '.JPG', '.JPEG', '.PNG', '.BMP', '.TIF', '.TIFF'])
def test_every_image_format_loads(tmp_path, ext):
    write_image(tmp_path / 'images' / f'a{ext}')
    write_mask(tmp_path / 'masks' / 'a_mask.png', square_mask())
    dataset = SegFolderDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    assert len(dataset) == 1
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 12, 16)
    assert np.array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(),
                          square_mask(value=1))


def test_mask_extension_case_insensitive(tmp_path):
    write_image(tmp_path / 'images' / 'a.jpg')
    write_mask(tmp_path / 'masks' / 'a_gt.PNG', square_mask())
    assert relpaths(SegFolderDataset(data_root=str(tmp_path)), 'seg_map_path') == \
        ['masks/a_gt.PNG']


def test_mask_candidates():
    assert mask_candidates('sub/p.JPG') == [('sub/p', '.png'), ('sub/p_mask', '.png'),
                                            ('sub/p_gt', '.png'), ('sub/p', '.jpg')]
    assert mask_candidates('p.png') == [('p', '.png'), ('p_mask', '.png'), ('p_gt', '.png')]


def test_pre_split_layout(tmp_path):
    side_by_side(tmp_path / 'train', ['train_001.jpg', 'train_002.jpg'])
    side_by_side(tmp_path / 'val', ['val_001.jpg'])
    train = SegFolderDataset(data_root=str(tmp_path), split='train')
    val = SegFolderDataset(data_root=str(tmp_path), split='val')
    assert train.pre_split and val.pre_split
    assert relpaths(train) == ['train/images/train_001.jpg', 'train/images/train_002.jpg']
    assert relpaths(val) == ['val/images/val_001.jpg']
    assert relpaths(val, 'seg_map_path') == ['val/masks/val_001.png']
    with pytest.raises(ValueError, match='pre-split.*val_split must be None'):
        SegFolderDataset(data_root=str(tmp_path), split='train', val_split=0.2)


def test_side_by_side_split_without_val_split(tmp_path):
    side_by_side(tmp_path, ['a.jpg', 'b.jpg'])
    assert len(SegFolderDataset(data_root=str(tmp_path), split='train')) == 2  # all pairs
    with pytest.raises(ValueError, match='no val/ folder and val_split is not set'):
        SegFolderDataset(data_root=str(tmp_path), split='val')


@pytest.mark.parametrize('threshold, expected', [(128, [0, 0, 1, 1]), (100, [0, 1, 1, 1]),
                                                 (255, [0, 0, 0, 1]), (1, [0, 1, 1, 1])])
def test_threshold(tmp_path, threshold, expected):
    write_image(tmp_path / 'images' / 'a.png', size=(1, 4))
    write_mask(tmp_path / 'masks' / 'a.png', np.array([[0, 127, 128, 255]], np.uint8))
    pipeline = [dict(type='LoadRefineImageFromFile'),
                dict(type='LoadThresholdedAnnotations', threshold=threshold),
                dict(type='PackSegInputs')]
    sample = SegFolderDataset(data_root=str(tmp_path), pipeline=pipeline)[0]
    assert sample['data_samples'].gt_sem_seg.data.flatten().tolist() == expected


def test_rgb_mask_is_read_as_grey(tmp_path):
    write_image(tmp_path / 'images' / 'a.png', size=(1, 3))
    # BGR: white, pure blue (luma 29) and pure green (luma 150)
    write_mask(tmp_path / 'masks' / 'a.png',
               np.array([[[255, 255, 255], [255, 0, 0], [0, 255, 0]]], np.uint8))
    sample = SegFolderDataset(data_root=str(tmp_path), pipeline=PIPELINE)[0]
    assert sample['data_samples'].gt_sem_seg.data.flatten().tolist() == [1, 0, 1]


def test_mask_of_another_size_is_an_error(tmp_path):
    write_image(tmp_path / 'images' / 'a.png', size=(12, 16))
    write_mask(tmp_path / 'masks' / 'a.png', square_mask(size=(6, 8)))
    dataset = SegFolderDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'masks/a\.png has size.*images/a\.png'):
        dataset[0]


def test_bad_threshold():
    from mmseg.registry import TRANSFORMS
    for bad in (0, 256, 0.5):
        with pytest.raises(ValueError, match='threshold'):
            TRANSFORMS.build(dict(type='LoadThresholdedAnnotations', threshold=bad))


def test_val_split_is_seeded_disjoint_and_complete(tmp_path):
    names = [f'img_{i:02d}.jpg' for i in range(10)]
    side_by_side(tmp_path, names)

    def split(name, seed):
        return relpaths(SegFolderDataset(data_root=str(tmp_path), split=name, val_split=0.3,
                                         split_seed=seed))

    train, val = split('train', 0), split('val', 0)
    assert len(val) == 3 and len(train) == 7
    assert not set(train) & set(val)
    assert sorted(train + val) == [f'images/{n}' for n in names]
    assert split('train', 0) == train and split('val', 0) == val  # same seed, same split
    assert {tuple(split('val', seed)) for seed in range(5)} != {tuple(val)}


def test_split_pairs_rounding_and_bounds():
    items = list(range(10))
    assert [len(p) for p in split_pairs(items, 0.2, 0)] == [8, 2]
    assert [len(p) for p in split_pairs(items, 0.01, 0)] == [9, 1]  # at least one val item
    assert [len(p) for p in split_pairs(items, 0.99, 0)] == [1, 9]  # at least one train item
    train, val = split_pairs(items, 0.5, 3)
    assert train == sorted(train) and val == sorted(val)
    with pytest.raises(ValueError, match='cannot split 1'):
        split_pairs([0], 0.5, 0)
    with pytest.raises(ValueError, match=r'in \(0, 1\)'):
        split_pairs(items, 1.0, 0)


def test_val_split_needs_a_split(tmp_path):
    side_by_side(tmp_path, ['a.jpg', 'b.jpg'])
    with pytest.raises(ValueError, match="set split='train' or 'val'"):
        SegFolderDataset(data_root=str(tmp_path), val_split=0.5)
    with pytest.raises(ValueError, match=r'val_split must be in \(0, 1\)'):
        SegFolderDataset(data_root=str(tmp_path), split='train', val_split=1.5)


def test_missing_mask_is_an_error_naming_the_file(tmp_path):
    side_by_side(tmp_path, ['a.jpg', 'b.jpg'])
    write_image(tmp_path / 'images' / 'lonely.jpg')
    write_mask(tmp_path / 'masks' / 'orphan_mask.png', square_mask())
    with pytest.raises(FileNotFoundError) as error:
        SegFolderDataset(data_root=str(tmp_path))
    message = str(error.value)
    assert f'image without a mask: {tmp_path}/images/lonely.jpg' in message
    assert f'mask without an image: {tmp_path}/masks/orphan_mask.png' in message
    assert "on_missing='skip'" in message


def test_skip_mode_warns_naming_each_file(tmp_path):
    side_by_side(tmp_path, ['a.jpg', 'b.jpg'])
    write_image(tmp_path / 'images' / 'lonely.jpg')
    write_mask(tmp_path / 'masks' / 'orphan.bmp', square_mask())  # no naming rule pairs .bmp
    with pytest.warns(UserWarning) as record:
        dataset = SegFolderDataset(data_root=str(tmp_path), on_missing='skip')
    assert relpaths(dataset) == ['images/a.jpg', 'images/b.jpg']
    messages = [str(w.message) for w in record]
    assert any(f'{tmp_path}/images/lonely.jpg' in m and 'skipped' in m for m in messages)
    assert any(f'{tmp_path}/masks/orphan.bmp' in m and 'skipped' in m for m in messages)


def test_non_image_files_are_ignored_with_a_warning(tmp_path):
    side_by_side(tmp_path, ['a.jpg'])
    (tmp_path / 'images' / 'notes.txt').write_text('x')
    (tmp_path / 'images' / '.DS_Store').write_text('x')  # hidden: not data, no warning
    with pytest.warns(UserWarning, match=r'notes\.txt is not an image file') as record:
        dataset = SegFolderDataset(data_root=str(tmp_path))
    assert len(dataset) == 1
    assert not any('DS_Store' in str(w.message) for w in record)


def test_ambiguity_is_an_error_naming_both_masks(tmp_path):
    write_image(tmp_path / 'images' / 'a.jpg')
    write_mask(tmp_path / 'masks' / 'a.png', square_mask())
    write_mask(tmp_path / 'masks' / 'a_mask.png', square_mask())
    for on_missing in ('error', 'skip'):
        with pytest.raises(ValueError) as error:
            SegFolderDataset(data_root=str(tmp_path), on_missing=on_missing)
        assert (f'ambiguous masks for image {tmp_path}/images/a.jpg: {tmp_path}/masks/a.png, '
                f'{tmp_path}/masks/a_mask.png') in str(error.value)


def test_mask_named_by_two_images_is_an_error(tmp_path):
    write_image(tmp_path / 'images' / 'a.jpg')
    write_image(tmp_path / 'images' / 'a.bmp')
    write_mask(tmp_path / 'masks' / 'a.png', square_mask())
    with pytest.raises(ValueError, match=r'masks/a\.png is the mask of several images: '
                       r'.*images/a\.bmp, .*images/a\.jpg'):
        SegFolderDataset(data_root=str(tmp_path))
    pairs = pair_images_with_masks(str(tmp_path / 'images'), str(tmp_path / 'masks'))
    assert pairs.pairs == [] and len(pairs.shared) == 1


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder not found'):
        SegFolderDataset(data_root=str(tmp_path))
    (tmp_path / 'images').mkdir()
    with pytest.raises(FileNotFoundError, match='mask folder not found'):
        SegFolderDataset(data_root=str(tmp_path))
    (tmp_path / 'masks').mkdir()
    with pytest.raises(FileNotFoundError, match='no images with masks found'):
        SegFolderDataset(data_root=str(tmp_path))
    with pytest.raises(ValueError, match='different folders'):
        SegFolderDataset(data_root=str(tmp_path),
                         data_prefix=dict(img_path='images', seg_map_path='images'))
    with pytest.raises(ValueError, match='takes no img_suffix'):
        SegFolderDataset(data_root=str(tmp_path), img_suffix='.png')
    with pytest.raises(ValueError, match='on_missing'):
        SegFolderDataset(data_root=str(tmp_path), on_missing='ignore')


def test_absolute_folders_and_images_only(tmp_path):
    side_by_side(tmp_path, ['a.jpg', 'b.png'])
    dataset = SegFolderDataset(data_prefix=dict(img_path=str(tmp_path / 'images'),
                                                seg_map_path=str(tmp_path / 'masks')))
    assert len(dataset) == 2
    images_only = SegFolderDataset(data_prefix=dict(img_path=str(tmp_path / 'images')))
    assert [('seg_map_path' in images_only.get_data_info(i)) for i in range(2)] == [False] * 2


def test_custom_class_list_reads_label_indices(tmp_path):
    write_image(tmp_path / 'images' / 'a.png', size=(2, 3))
    write_mask(tmp_path / 'masks' / 'a.png', np.array([[0, 1, 2], [2, 1, 0]], np.uint8))
    pipeline = [dict(type='LoadRefineImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]
    dataset = SegFolderDataset(data_root=str(tmp_path), pipeline=pipeline,
                               metainfo=dict(classes=('background', 'cat', 'dog')))
    assert dataset.metainfo['classes'] == ('background', 'cat', 'dog')
    assert len(dataset.metainfo['palette']) == 3 and dataset.label_map is None
    assert dataset[0]['data_samples'].gt_sem_seg.data.flatten().tolist() == [0, 1, 2, 2, 1, 0]


def test_class_subset_uses_mmseg_label_map(tmp_path):
    write_image(tmp_path / 'images' / 'a.png', size=(1, 2))
    write_mask(tmp_path / 'masks' / 'a.png', np.array([[0, 255]], np.uint8))
    dataset = SegFolderDataset(data_root=str(tmp_path), pipeline=PIPELINE,
                               metainfo=dict(classes=('foreground', 'background')))
    assert dataset.label_map == {0: 1, 1: 0}
    assert dataset[0]['data_samples'].gt_sem_seg.data.flatten().tolist() == [1, 0]
