"""OxfordPetsDataset on a tiny copy of the official layout written into tmp_path."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from segrefiner.datasets import OxfordPetsDataset

PIPELINE = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadCheckedAnnotations', valid_values=(1, 2, 3)),
    dict(type='PackSegInputs'),
]


def trimap(h, w, seed):
    """A trimap as the dataset ships it: 2 background, 1 pet (an ellipse), 3 a border ring."""
    rng = np.random.default_rng(seed)
    pet = np.zeros((h, w), np.uint8)
    cv2.ellipse(pet, (int(rng.integers(w // 3, 2 * w // 3)), h // 2), (w // 4, h // 3), 0, 0,
                360, 1, -1)
    ring = cv2.dilate(pet, np.ones((5, 5), np.uint8)) != cv2.erode(pet, np.ones((5, 5), np.uint8))
    out = np.where(pet > 0, 1, 2).astype(np.uint8)
    out[ring] = 3
    return out


def write_pets(root, names=('Abyssinian_1', 'beagle_12', 'Bombay_3'), test=('yorkshire_1', ),
               shapes=None):
    """images/<name>.jpg, annotations/trimaps/<name>.png and the two split files."""
    shapes = shapes or {}
    arrays = {}
    for i, name in enumerate(list(names) + list(test)):
        h, w = shapes.get(name, (30 + 4 * i, 40))
        img = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
        tri = trimap(h, w, i)
        img_path = osp.join(root, 'images', name + '.jpg')
        tri_path = osp.join(root, 'annotations', 'trimaps', name + '.png')
        for path in (img_path, tri_path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        assert cv2.imwrite(img_path, img) and cv2.imwrite(tri_path, tri)
        arrays[name] = tri
    lines = {'trainval': names, 'test': test}
    for split, split_names in lines.items():
        with open(osp.join(root, 'annotations', f'{split}.txt'), 'w') as f:
            for j, name in enumerate(split_names):
                species = 1 if name[0].isupper() else 2
                f.write(f'{name} {j + 1} {species} {j + 1}\n')
    return arrays


@pytest.fixture
def pets(tmp_path):
    root = str(tmp_path / 'oxford_pets')
    return root, write_pets(root)


def expected_labels(tri):
    return np.select([tri == 1, tri == 2, tri == 3], [1, 0, 2], 99)


def test_trainval_items_and_labels(pets):
    root, arrays = pets
    dataset = DATASETS.build(dict(type='OxfordPetsDataset', data_root=root, pipeline=PIPELINE))
    assert isinstance(dataset, OxfordPetsDataset) and len(dataset) == 3
    assert dataset.metainfo['classes'] == ('background', 'pet', 'border')
    info = dataset.get_data_info(1)
    assert info['img_path'] == osp.join(root, 'images', 'beagle_12.jpg')
    assert info['seg_map_path'] == osp.join(root, 'annotations', 'trimaps', 'beagle_12.png')
    assert (info['pet_class_id'], info['species'], info['breed_id']) == (2, 'dog', 2)
    assert info['label_map'] == {1: 1, 2: 0, 3: 2}
    for i, name in enumerate(('Abyssinian_1', 'beagle_12', 'Bombay_3')):
        sample = dataset[i]['data_samples']
        gt = sample.gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, expected_labels(arrays[name]))
        assert set(np.unique(gt)) == {0, 1, 2}
        assert dataset[i]['inputs'].shape[1:] == gt.shape


def test_plain_mmseg_loader_maps_the_trimap(pets):
    root, arrays = pets
    dataset = OxfordPetsDataset(split='test', data_root=root, pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')])
    assert len(dataset) == 1
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, expected_labels(arrays['yorkshire_1']))


def test_class_subset_ignores_border(pets):
    root, arrays = pets
    dataset = OxfordPetsDataset(data_root=root, pipeline=PIPELINE,
                                metainfo=dict(classes=('background', 'pet')))
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    tri = arrays['Abyssinian_1']
    assert (gt[tri == 3] == 255).all() and (gt[tri == 1] == 1).all() and (gt[tri == 2] == 0).all()


def test_comments_and_blank_lines_are_skipped(pets):
    root, _ = pets
    with open(osp.join(root, 'annotations', 'trainval.txt'), 'a') as f:
        f.write('\n# CLASS-ID SPECIES BREED ID\n')
    assert len(OxfordPetsDataset(data_root=root)) == 3


@pytest.mark.parametrize('line, where', [('Bombay_3 1 3 1', ':3:'), ('Bombay_3 1 1', ':3:'),
                                         ('Bombay_3 x 1 1', ':3:')])
def test_malformed_line_names_file_and_line(pets, line, where):
    root, _ = pets
    path = osp.join(root, 'annotations', 'trainval.txt')
    lines = open(path).read().splitlines()
    lines[2] = line
    open(path, 'w').write('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match=rf'trainval\.txt{where}.*expected'):
        OxfordPetsDataset(data_root=root)


def test_missing_files_are_named(pets):
    root, _ = pets
    with pytest.raises(FileNotFoundError, match=r'split file not found: .*missing\.txt'):
        OxfordPetsDataset(data_root=root, ann_file='annotations/missing.txt')
    os.remove(osp.join(root, 'annotations', 'trimaps', 'beagle_12.png'))
    with pytest.raises(FileNotFoundError, match=r'trimap of .*trainval\.txt:2.*beagle_12\.png'):
        OxfordPetsDataset(data_root=root)
    os.remove(osp.join(root, 'images', 'yorkshire_1.jpg'))
    with pytest.raises(FileNotFoundError, match=r'image of .*test\.txt:1.*yorkshire_1\.jpg'):
        OxfordPetsDataset(split='test', data_root=root)
    with pytest.raises(ValueError, match='split must be one of'):
        OxfordPetsDataset(split='val', data_root=root)
    with pytest.raises(ValueError, match='reduce_zero_label'):
        OxfordPetsDataset(data_root=root, reduce_zero_label=True)


def test_bad_trimaps_are_clear_errors(pets):
    root, arrays = pets
    tri_path = osp.join(root, 'annotations', 'trimaps', 'Abyssinian_1.png')
    bad = arrays['Abyssinian_1'].copy()
    bad[0, 0] = 0
    bad[1, 1] = 7
    cv2.imwrite(tri_path, bad)
    dataset = OxfordPetsDataset(data_root=root, pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'Abyssinian_1\.png holds values \[0, 7\]'):
        dataset[0]
    cv2.imwrite(tri_path, np.ones((5, 6), np.uint8))
    with pytest.raises(ValueError, match=r'Abyssinian_1\.png has size .*\(5, 6\).*Abyssinian_1'
                       r'\.jpg has size \(30, 40\)'):
        dataset[0]
    open(tri_path, 'wb').write(b'not a png')
    with pytest.raises(ValueError, match=r'Abyssinian_1\.png is not a readable image'):
        dataset[0]
    open(osp.join(root, 'images', 'beagle_12.jpg'), 'wb').write(b'\xff\xd8 truncated')
    with pytest.raises(ValueError, match=r'beagle_12\.jpg is not a readable image'):
        dataset[1]
