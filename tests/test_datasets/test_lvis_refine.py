"""LVISRefineDataset + LoadRandomInstanceMask on LVIS v1 fixtures; the LR config trains on it."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import DATASETS, TRANSFORMS

from instance_layouts import annotation, polygon_mask, star_polygon, write_lvis
from tiny_models import TINY_DENOISER

ROOT = Path(__file__).resolve().parents[2]
SHAPES = {9: (100, 120), 25: (90, 90), 30: (80, 100)}
LOAD = [dict(type='LoadRefineImageFromFile'), dict(type='LoadRandomInstanceMask')]


def bad_annotations():
    """Annotations of image 9 that the filters must drop (LVIS ids of the fixture)."""
    rng = np.random.default_rng(7)
    big = [star_polygon((60, 50), 28, rng)]
    tiny = annotation(0, 9, 10, [star_polygon((30, 30), 8, rng)], 100, 120)
    assert tiny['area'] <= 512
    valid = annotation(0, 9, 10, big, 100, 120)
    return [
        tiny,                                                   # area <= 512
        dict(valid, ignore=1),                                  # ignore flag
        dict(valid, iscrowd=1),                                 # crowd
        dict(valid, bbox=[130.0, 10.0, 20.0, 20.0]),            # box outside the image
        dict(valid, bbox=[10.0, 10.0, 0.5, 20.0]),              # box narrower than 1 px
        dict(valid, category_id=555),                           # unknown category
        dict(valid, segmentation=[[1.0, 2.0, 3.0, 4.0]]),       # no 3-point polygon
    ]


@pytest.fixture(scope='module')
def lvis_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('lvis')
    data = write_lvis(root, 'train', SHAPES, objects_per_image=3, seed=1,
                      extra_annotations=bad_annotations())
    # an image whose only object is tiny: dropped from the training set
    tiny_only = dict(id=77, coco_url='http://images.cocodataset.org/train2017/'
                     '000000000077.jpg', height=50, width=50, neg_category_ids=[],
                     not_exhaustive_category_ids=[])
    data['images'].append(tiny_only)
    data['annotations'].append(annotation(len(data['annotations']) + 1, 77, 10,
                                          [[10, 10, 20, 10, 20, 20, 10, 20]], 50, 50))
    (root / 'lvis/annotations/lvis_v1_train.json').write_text(json.dumps(data))
    return root, data


def build(root, pipeline=LOAD, **kwargs):
    return DATASETS.build(dict(type='LVISRefineDataset', data_root=str(root),
                               pipeline=pipeline, **kwargs))


def usable(data, image_id, min_area=512):
    return [a for a in data['annotations'] if a['image_id'] == image_id and a['area'] > min_area
            and 'ignore' not in a and 'iscrowd' not in a and a['category_id'] != 555
            and a['bbox'][0] < 120 and a['bbox'][2] >= 1
            and any(len(p) >= 6 for p in a['segmentation'])]


def test_items_filters_and_paths(lvis_root):
    root, data = lvis_root
    dataset = build(root)
    assert dataset.metainfo['classes'] == ('background', 'foreground')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [i['img_id'] for i in infos] == [9, 25, 30]  # image 77 has no usable instance
    for info in infos:
        assert info['img_path'] == str(root / 'coco' / 'train2017' / f'{info["img_id"]:012d}.jpg')
        expected = usable(data, info['img_id'])
        assert len(info['instances']) == len(expected) > 0
        for instance, ann in zip(info['instances'], expected):
            assert instance['mask'] == ann['segmentation']
            x, y, w, h = ann['bbox']
            assert instance['bbox'] == [x, y, x + w, y + h] and instance['ignore_flag'] == 0
    # with min_area=0 the small annotations come back
    assert len(build(root, min_area=0).get_data_info(0)['instances']) == \
        len(usable(data, 9, min_area=0)) > len(usable(data, 9))


def test_one_random_instance_per_draw(lvis_root):
    root, data = lvis_root
    dataset = build(root)
    np.random.seed(0)
    expected = {k: polygon_mask(a['segmentation'], 100, 120)
                for k, a in enumerate(usable(data, 9))}
    seen = set()
    for _ in range(12):
        results = dataset.prepare_data(0)
        index = results['instance_index']
        seen.add(index)
        assert results['gt_seg_map'].dtype == np.uint8
        assert np.array_equal(results['gt_seg_map'], expected[index])
        assert 'gt_seg_map' in results['seg_fields']
    assert seen == set(expected)


def test_lr_config_pipeline_on_fixture(lvis_root):
    root, _ = lvis_root
    cfg = Config.fromfile(str(ROOT / 'configs/segrefiner/segrefiner_lr.py'))
    dataset_cfg = cfg.train_dataloader.dataset
    assert (dataset_cfg.data_root, dataset_cfg.ann_file, dataset_cfg.data_prefix) == \
        ('data', 'lvis/annotations/lvis_v1_train.json', dict(img='coco/'))
    dataset_cfg.data_root = str(root)
    dataset = DATASETS.build(dataset_cfg)
    np.random.seed(1)
    for index in range(len(dataset)):
        sample = dataset[index]
        assert sample['inputs'].shape == (3, 256, 256)
        gt = sample['data_samples'].gt_sem_seg.data
        coarse = sample['data_samples'].coarse_sem_seg.data
        assert gt.shape == coarse.shape == (1, 256, 256)
        assert set(gt.unique().tolist()) == {0, 1} and set(coarse.unique().tolist()) <= {0, 1}
        assert not gt.equal(coarse)  # the online perturbation changed the mask
        # the crop holds the object box with at most 40 px of margin in total per axis
        x1, y1, x2, y2 = sample['data_samples'].metainfo['crop_bbox']
        height, width = SHAPES[dataset.get_data_info(index)['img_id']]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def test_lr_config_trains(lvis_root, tmp_path):
    """Two iterations of the LR config (tiny denoiser) on the fixture: no validation set."""
    root, _ = lvis_root
    cfg = Config.fromfile(str(ROOT / 'configs/segrefiner/segrefiner_lr.py'))
    assert cfg.get('val_cfg') is None and cfg.get('val_dataloader') is None
    cfg.model.decode_head.denoiser = copy.deepcopy(TINY_DENOISER)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(root)
    resize = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'Resize')
    resize.scale = (32, 32)
    cfg.train_cfg.max_iters = 2
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=2)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    cfg.work_dir = str(tmp_path)
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / 'iter_2.pth').is_file()


def test_clear_errors(lvis_root, tmp_path):
    root, data = lvis_root
    with pytest.raises(FileNotFoundError, match='LVIS annotation file not found: .*nope.json'):
        build(root, ann_file='nope.json')
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(ValueError, match='broken.json is not an LVIS v1 annotation file'):
        build(root, ann_file=str(broken))
    no_url = tmp_path / 'no_url.json'
    no_url.write_text(json.dumps(dict(data, images=[
        {k: v for k, v in i.items() if k != 'coco_url'} for i in data['images']])))
    with pytest.raises(ValueError, match=r"no_url.json is not an LVIS v1 annotation file "
                                         r"\(KeyError: 'coco_url'\)"):
        build(root, ann_file=str(no_url))
    with pytest.raises(ValueError, match='has no instance of area > 100000 to train on'):
        build(root, min_area=100000)
    # an image whose size differs from the annotated one
    dataset = build(root)
    info = dataset.get_data_info(0)
    results = TRANSFORMS.build(LOAD[0])(dict(info, height=50))
    with pytest.raises(ValueError, match=r'annotated size of .*000000000009.jpg.* has size '
                                         r'\(H, W\)=\(50, 120\) but image'):
        TRANSFORMS.build(LOAD[1])(results)
