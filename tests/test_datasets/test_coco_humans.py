"""COCOHumansDataset on a tiny COCO instances file written into tmp_path."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS
from pycocotools import mask as mask_utils

from segrefiner.datasets import COCOHumansDataset
from segrefiner.datasets.transforms import border_band

H, W = 24, 32
PIPELINE = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadCOCOHumansAnnotations', border_radius=1),
    dict(type='PackSegInputs'),
]


def rect(x1, y1, x2, y2):
    """A polygon covering pixels x1..x2-1, y1..y2-1 (pycocotools rasterisation)."""
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def rect_mask(x1, y1, x2, y2):
    mask = np.zeros((H, W), bool)
    mask[y1:y2, x1:x2] = True
    return mask


def uncompressed_rle(mask):
    """COCO's uncompressed RLE: run lengths over the column-major pixels, starting with 0s."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    return dict(counts=[0] + counts if flat[0] else counts, size=[H, W])


def write_coco(root, num_people=10):
    """COCO layout: annotations/instances_train2017.json + train2017/<file_name>.jpg.

    Images 1..num_people show people (image 1: two polygons, image 2: an uncompressed RLE person
    next to a crowd region, image 3: a compressed RLE); image 100 shows only a dog, 101 only a
    crowd of people, 102 only a zero-area person. All images are H×W.
    """
    os.makedirs(osp.join(root, 'annotations'))
    os.makedirs(osp.join(root, 'train2017'))
    images, anns = [], []

    def add_ann(image_id, category_id, segmentation, iscrowd=0, area=10.0):
        anns.append(dict(id=len(anns) + 1, image_id=image_id, category_id=category_id,
                         segmentation=segmentation, iscrowd=iscrowd, area=area,
                         bbox=[0, 0, 1, 1]))

    for image_id in list(range(1, num_people + 1)) + [100, 101, 102]:
        name = f'{image_id:012d}.jpg'
        images.append(dict(id=image_id, file_name=name, height=H, width=W))
        img = np.random.default_rng(image_id).integers(0, 256, (H, W, 3), dtype=np.uint8)
        assert cv2.imwrite(osp.join(root, 'train2017', name), img)
    add_ann(1, 1, rect(2, 3, 10, 15))
    add_ann(1, 1, rect(20, 5, 28, 20))
    add_ann(1, 18, rect(12, 2, 18, 8))  # a dog: not a person
    add_ann(2, 1, uncompressed_rle(rect_mask(4, 4, 14, 14)))
    add_ann(2, 1, rect(16, 4, 30, 20), iscrowd=1)
    compressed = mask_utils.encode(np.asfortranarray(rect_mask(4, 4, 14, 14).astype(np.uint8)))
    add_ann(3, 1, dict(counts=compressed['counts'].decode(), size=[H, W]))
    for image_id in range(4, num_people + 1):
        add_ann(image_id, 1, rect(image_id % 5, 2, 12 + image_id % 7, 18))
    add_ann(100, 18, rect(2, 2, 10, 10))
    add_ann(101, 1, rect(2, 2, 10, 10), iscrowd=1)
    add_ann(102, 1, rect(2, 2, 10, 10), area=0)
    data = dict(images=images, annotations=anns,
                categories=[dict(id=1, name='person', supercategory='person'),
                            dict(id=18, name='dog', supercategory='animal')])
    path = osp.join(root, 'annotations', 'instances_train2017.json')
    with open(path, 'w') as f:
        json.dump(data, f)
    return path, data


@pytest.fixture
def coco(tmp_path):
    root = str(tmp_path / 'coco')
    path, data = write_coco(root)
    return root, path, data


def ids(dataset):
    return [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]


def test_seeded_85_15_split_of_images_with_people(coco):
    root, _, _ = coco
    train = DATASETS.build(dict(type='COCOHumansDataset', data_root=root, split='train'))
    val = COCOHumansDataset(data_root=root, split='val')
    full = COCOHumansDataset(data_root=root, split='all')
    assert isinstance(train, COCOHumansDataset)
    assert ids(full) == list(range(1, 11))  # 100: dog only, 101: crowd only, 102: zero area
    assert len(train) == 8 and len(val) == 2  # round(0.85 * 10) = 8 (bankers' 8.5 -> 8)
    assert sorted(ids(train) + ids(val)) == ids(full)
    assert ids(COCOHumansDataset(data_root=root, split='val')) == ids(val)
    other = {tuple(ids(COCOHumansDataset(data_root=root, split='val', split_seed=s)))
             for s in range(1, 6)}
    assert len(other | {tuple(ids(val))}) > 1
    info = full.get_data_info(1)
    assert info['img_path'] == osp.join(root, 'train2017', '000000000002.jpg')
    assert (info['height'], info['width']) == (H, W)
    assert len(info['person_segmentations']) == 1 and len(info['crowd_segmentations']) == 1
    assert full.metainfo['classes'] == ('background', 'person', 'border')


def test_label_maps(coco):
    root, _, _ = coco
    dataset = COCOHumansDataset(data_root=root, split='all', pipeline=PIPELINE)
    labels = {dataset.get_data_info(i)['img_id']: dataset[i]['data_samples'].gt_sem_seg.data[0]
              .numpy() for i in range(3)}

    def expected(person, crowd=None):
        out = np.zeros((H, W), np.uint8)
        if crowd is not None:
            out[crowd] = 255
        out[person] = 1
        band = border_band(person, 1) & (out != 255)
        out[band] = 2
        return out

    two = rect_mask(2, 3, 10, 15) | rect_mask(20, 5, 28, 20)
    np.testing.assert_array_equal(labels[1], expected(two))
    np.testing.assert_array_equal(labels[2], expected(rect_mask(4, 4, 14, 14),
                                                      rect_mask(16, 4, 30, 20)))
    np.testing.assert_array_equal(labels[3], expected(rect_mask(4, 4, 14, 14)))
    # a 2-pixel-wide band (1 inside, 1 outside) along the straight edges
    assert (labels[3][8, 3:5] == 2).all() and labels[3][8, 2] == 0 and labels[3][8, 5] == 1


def test_bad_json_is_named(tmp_path, coco):
    root, path, data = coco
    with pytest.raises(FileNotFoundError, match='COCO instances file not found: .*none.json'):
        COCOHumansDataset(data_root=root, ann_file='annotations/none.json')
    cases = [
        ('{"images": [', 'is not valid JSON'),
        (json.dumps({'images': [], 'annotations': []}), r"no list \['categories'\]"),
        (json.dumps(dict(data, categories=[dict(id=1, name='dog')])), 'no "person" category'),
        (json.dumps(dict(data, annotations=data['annotations'] + [
            dict(image_id=999, category_id=1, segmentation=rect(1, 1, 3, 3))])),
         'refers to image id 999'),
        (json.dumps(dict(data, annotations=[dict(image_id=1, category_id=1)])),
         r'annotation #0 is not a COCO instance annotation'),
        (json.dumps(dict(data, images=[dict(id=1, file_name='x.jpg')])),
         r"image #0 is not a COCO image entry.*'height'"),
    ]
    for text, message in cases:
        with open(path, 'w') as f:
            f.write(text)
        with pytest.raises(ValueError, match=r'instances_train2017\.json.*' + message):
            COCOHumansDataset(data_root=root)


def test_missing_image_and_size_mismatch_are_named(coco):
    root, path, data = coco
    os.remove(osp.join(root, 'train2017', '000000000004.jpg'))
    with pytest.raises(FileNotFoundError, match=r'\(id 4\) not found: .*000000000004\.jpg'):
        COCOHumansDataset(data_root=root, split='all')
    cv2.imwrite(osp.join(root, 'train2017', '000000000004.jpg'), np.zeros((H, W + 1, 3)))
    dataset = COCOHumansDataset(data_root=root, split='all', pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'annotated size of .*000000000004\.jpg .*has size '
                       r'\(24, 33\)'):
        dataset[3]


def test_empty_person_mask_is_an_error(coco):
    root, path, data = coco
    data['annotations'].append(dict(image_id=103, category_id=1, iscrowd=0, area=3.0,
                                    segmentation=[[1, 1, 2, 2]]))
    data['images'].append(dict(id=103, file_name='000000000103.jpg', height=H, width=W))
    cv2.imwrite(osp.join(root, 'train2017', '000000000103.jpg'), np.zeros((H, W, 3)))
    with open(path, 'w') as f:
        json.dump(data, f)
    dataset = COCOHumansDataset(data_root=root, split='all', pipeline=PIPELINE)
    assert ids(dataset)[-1] == 103
    with pytest.raises(ValueError, match=r'000000000103\.jpg .*rasterise to an empty mask'):
        dataset[len(dataset) - 1]
    with pytest.raises(ValueError, match='split must be one of'):
        COCOHumansDataset(data_root=root, split='test')
    with pytest.raises(ValueError, match='builds its 3 classes'):
        COCOHumansDataset(data_root=root, metainfo=dict(classes=('background', 'person')))
