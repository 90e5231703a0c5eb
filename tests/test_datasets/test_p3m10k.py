"""P3M10kDataset and SuperviselyPersonDataset on fixture layouts, and their concatenation."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmseg.registry import DATASETS

from query_seg_utils import write_pair
from segrefiner.datasets import P3M10kDataset, SuperviselyPersonDataset

LOAD_P3M = [dict(type='LoadRefineImageFromFile'),
            dict(type='LoadThresholdedAnnotations', threshold=128)]


def alpha(h: int = 12, w: int = 16) -> np.ndarray:
    """An alpha matte: 0 on the left, 127 and 128 in the middle columns, 255 on the right."""
    matte = np.zeros((h, w), np.uint8)
    matte[:, 6] = 127
    matte[:, 7] = 128
    matte[:, 8:] = 255
    return matte


@pytest.fixture
def p3m_root(tmp_path):
    """The release layout, two samples per split, with fg/, bg/ and trimap/ folders too."""
    root = tmp_path / 'P3M-10k'
    image = np.full((12, 16, 3), 90, np.uint8)
    folders = {'train': ('train/blurred_image', 'train/mask'),
               'P': ('validation/P3M-500-P/blurred_image', 'validation/P3M-500-P/mask'),
               'NP': ('validation/P3M-500-NP/original_image', 'validation/P3M-500-NP/mask')}
    for key, (img_dir, mask_dir) in folders.items():
        for stem in (f'p_{key}_1', f'p_{key}_2'):
            write_pair(str(root / img_dir / f'{stem}.jpg'), str(root / mask_dir / f'{stem}.png'),
                       image, alpha())
    for extra in ('train/fg/x.jpg', 'train/bg/y.jpg', 'validation/P3M-500-P/trimap/p_P_1.png',
                  'validation/P3M-500-NP/trimap/p_NP_1.png'):
        write_pair(str(root / extra), str(root / 'unused' / extra), image, alpha())
    return root


@pytest.mark.parametrize('split,folder,stem', [
    ('train', 'train/blurred_image', 'p_train'),
    ('P3M-500-P', 'validation/P3M-500-P/blurred_image', 'p_P'),
    ('P3M-500-NP', 'validation/P3M-500-NP/original_image', 'p_NP'),
])
def test_release_layout(p3m_root, split, folder, stem):
    dataset = P3M10kDataset(str(p3m_root), split=split)
    assert len(dataset) == 2 and dataset.metainfo['classes'] == ('background', 'person')
    mask_dir = osp.join(osp.dirname(folder), 'mask')
    assert [dataset.get_data_info(i)['img_path'] for i in range(2)] == [
        str(p3m_root / folder / f'{stem}_{i}.jpg') for i in (1, 2)]
    assert dataset.get_data_info(0)['seg_map_path'] == str(p3m_root / mask_dir / f'{stem}_1.png')


def test_alpha_matte_thresholded(p3m_root):
    dataset = P3M10kDataset(str(p3m_root), split='P3M-500-NP', pipeline=LOAD_P3M)
    label = dataset[0]['gt_seg_map']
    assert label[:, :7].max() == 0 and label[:, 7:].min() == 1  # alpha >= 128 is person
    dataset = P3M10kDataset(str(p3m_root), split='P3M-500-NP', pipeline=[
        LOAD_P3M[0], dict(type='LoadThresholdedAnnotations', threshold=200)])
    assert dataset[0]['gt_seg_map'][:, :8].max() == 0


def test_missing_mask_or_image_names_the_file(p3m_root):
    mask = p3m_root / 'train/mask/p_train_2.png'
    mask.rename(p3m_root / 'train/mask/orphan.png')
    with pytest.raises(FileNotFoundError) as error:
        P3M10kDataset(str(p3m_root), split='train')
    assert str(p3m_root / 'train/blurred_image/p_train_2.jpg') in str(error.value)
    assert str(p3m_root / 'train/mask/orphan.png') in str(error.value)
    with pytest.raises(FileNotFoundError, match='P3M-500-NP/original_image'):
        P3M10kDataset(str(p3m_root / 'nowhere'), split='P3M-500-NP')


def test_bad_split_and_arguments(p3m_root):
    with pytest.raises(ValueError, match="split must be one of"):
        P3M10kDataset(str(p3m_root), split='val')
    with pytest.raises(ValueError, match='takes no data_prefix'):
        P3M10kDataset(str(p3m_root), data_prefix=dict(img_path='x'))


def test_corrupt_image_and_mismatched_mask(p3m_root):
    (p3m_root / 'train/blurred_image/p_train_1.jpg').write_bytes(b'not a jpeg')
    cv2.imwrite(str(p3m_root / 'train/mask/p_train_2.png'), alpha(10, 10))
    dataset = P3M10kDataset(str(p3m_root), split='train', pipeline=LOAD_P3M)
    with pytest.raises(ValueError, match='p_train_1.jpg is not a readable image'):
        dataset[0]
    with pytest.raises(ValueError, match=r'p_train_2.png has size \(H, W\)=\(10, 10\)'):
        dataset[1]


def test_supervisely_layout_and_concatenation(p3m_root, tmp_path):
    root = tmp_path / 'supervisely'
    zero_one = (alpha() > 0).astype(np.uint8)  # a 0/1 mask reads right too
    write_pair(str(root / 'images/ds1_a.png'), str(root / 'masks/ds1_a.png'),
               np.zeros((12, 16, 3), np.uint8), zero_one)
    pipeline = [dict(type='LoadRefineImageFromFile'), dict(type='LoadBinaryAnnotations')]
    supervisely = SuperviselyPersonDataset(str(root), pipeline=pipeline)
    assert len(supervisely) == 1 and supervisely[0]['gt_seg_map'][:, 6:].min() == 1
    concat = DATASETS.build(dict(type='ConcatDataset', datasets=[
        dict(type='P3M10kDataset', data_root=str(p3m_root), split='train', pipeline=LOAD_P3M),
        dict(type='SuperviselyPersonDataset', data_root=str(root), pipeline=pipeline)]))
    assert isinstance(concat, ConcatDataset) and len(concat) == 3
    assert concat.get_data_info(2)['img_path'] == str(root / 'images/ds1_a.png')
    (root / 'masks/ds1_a.png').unlink()
    with pytest.raises(FileNotFoundError, match='ds1_a.png'):
        SuperviselyPersonDataset(str(root))
