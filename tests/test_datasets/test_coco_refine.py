"""CocoRefineDataset + LoadCoarseInstances + PackInstanceRefineInputs on COCO-format fixtures."""
import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmseg.registry import DATASETS

from instance_layouts import gt_as_results, polygon_mask, write_coco

SHAPES = {139: (90, 120), 285: (100, 80), 632: (70, 70)}
PIPELINE = [dict(type='LoadRefineImageFromFile'), dict(type='LoadCoarseInstances'),
            dict(type='PackInstanceRefineInputs')]


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    """COCO val2017 fixture and a results file: RLE masks for images 139 and 285 (every other
    one without bbox), polygons for the first detection; no detection on image 632."""
    root = tmp_path_factory.mktemp('coco_refine')
    coco = write_coco(root, SHAPES, objects_per_image=3, seed=2)
    results = [r for r in gt_as_results(coco) if r['image_id'] != 632]
    results[0]['segmentation'] = coco['annotations'][0]['segmentation']
    for r in results[1::2]:
        del r['bbox']
    results = results[::-1]  # the file order is not the image order
    (root / 'coarse_coco').mkdir()
    (root / 'coarse_coco' / 'det.segm.json').write_text(json.dumps(results))
    return root, coco, results


def build(root, coarse_file='coarse_coco/det.segm.json', pipeline=PIPELINE, **kwargs):
    return DATASETS.build(dict(type='CocoRefineDataset', data_root=str(root),
                               coarse_file=coarse_file, pipeline=pipeline, **kwargs))


def test_items_by_image_with_metadata(coco_root):
    root, coco, results = coco_root
    dataset = build(root)
    assert len(dataset) == 2  # image 632 has no detection
    assert dataset.metainfo['classes'] == ('person', 'car', 'dog', 'cow')
    assert dataset.metainfo['cat_ids'] == [1, 3, 18, 21]
    for index, image_id in enumerate((139, 285)):
        info = dataset.get_data_info(index)
        assert info['img_id'] == image_id
        assert info['img_path'] == str(root / 'coco' / 'val2017' / f'{image_id:012d}.jpg')
        assert (info['height'], info['width']) == SHAPES[image_id]
        dets = [r for r in results if r['image_id'] == image_id]
        assert len(info['instances']) == len(dets)
        for instance, det in zip(info['instances'], dets):
            assert instance['mask'] == det['segmentation']
            assert instance['score'] == pytest.approx(det['score'])
            assert instance['bbox_label'] == [1, 3, 18, 21].index(det['category_id'])
            if isinstance(det['segmentation'], dict):
                x, y, w, h = mask_utils.toBbox(det['segmentation'])  # bbox or the mask's box
            else:
                x, y, w, h = det['bbox']
            assert instance['bbox'] == pytest.approx([x, y, x + w, y + h])


def test_packed_sample(coco_root):
    root, coco, results = coco_root
    dataset = build(root)
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 90, 120) and sample['inputs'].dtype == torch.uint8
    data_sample = sample['data_samples']
    assert data_sample.metainfo['img_id'] == 139
    instances = data_sample.coarse_instances
    dets = [r for r in results if r['image_id'] == 139]
    assert instances.masks.shape == (len(dets), 90, 120) and instances.masks.dtype == torch.bool
    for mask, det in zip(instances.masks, dets):
        if isinstance(det['segmentation'], dict):
            expected = mask_utils.decode(det['segmentation'])
        else:
            expected = polygon_mask(det['segmentation'], 90, 120)
        assert np.array_equal(mask.numpy(), expected.astype(bool))
    assert instances.bboxes.shape == (len(dets), 4)
    assert torch.allclose(instances.scores, torch.tensor([d['score'] for d in dets]))
    assert instances.labels.tolist() == [[1, 3, 18, 21].index(d['category_id']) for d in dets]


def write(root, name, content):
    path = root / 'coarse_coco' / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return f'coarse_coco/{name}'


def test_malformed_results_files(coco_root):
    root, coco, results = coco_root
    good = results[0]
    cases = [
        ('missing.json', None, FileNotFoundError, r'results file not found: .*missing.json'),
        ('truncated.json', '[{"image_id": 139', ValueError,
         r'truncated.json is not valid JSON'),
        ('dict.json', {'annotations': results}, ValueError,
         r'dict.json is not in the COCO results format: expected a list'),
        ('no_score.json', [good, {k: v for k, v in good.items() if k != 'score'}],
         ValueError, r"no_score.json: detection #1 lacks the keys \['score'\]"),
        ('no_seg.json', [{k: v for k, v in good.items() if k != 'segmentation'}],
         ValueError, r"detection #0 lacks the keys \['segmentation'\]"),
        ('image.json', [good, dict(good, image_id=4242)], ValueError,
         r'image.json: detection #1 refers to image id 4242, which is not in .*'
         r'instances_val2017.json'),
        ('category.json', [dict(good, category_id=2)], ValueError,
         r'detection #0 refers to category id 2, which is not in'),
        ('size.json', [dict(good, image_id=632)], ValueError,
         r'size.json: detection #0 \(image 632\): RLE of size \[\d+, \d+\] does not match '
         r'the image size \[70, 70\]'),
        ('bad_rle.json', [dict(good, segmentation={'counts': 'abc'})], ValueError,
         r'detection #0: an RLE segmentation needs "size"'),
    ]
    for name, content, error, message in cases:
        coarse_file = f'coarse_coco/{name}' if content is None else write(root, name, content)
        with pytest.raises(error, match=message):
            build(root, coarse_file=coarse_file)


def test_bad_annotation_file_and_images(coco_root, tmp_path):
    root, coco, _ = coco_root
    with pytest.raises(FileNotFoundError, match='COCO annotation file not found'):
        build(root, ann_file='coco/annotations/nope.json')
    no_size = tmp_path / 'no_size.json'
    no_size.write_text(json.dumps(dict(coco, images=[
        {k: v for k, v in i.items() if k != 'height'} for i in coco['images']])))
    with pytest.raises(ValueError, match=r'no_size.json: image #0 is not a COCO image entry'):
        build(root, ann_file=str(no_size))
    with pytest.raises(FileNotFoundError, match=r'image of .* \(id 139\) not found'):
        build(root, data_prefix=dict(img='coco/train2017/'))
