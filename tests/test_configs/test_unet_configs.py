"""configs/unet and configs/residual_refiner: consistency, data roots, pipelines on real formats.

(``tests/test_config.py`` builds every config's model; this file checks what is specific to the
semantic baseline and its refiner.)
"""
import copy
import functools
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

ROOT = Path(__file__).resolve().parents[2]
UNET = sorted((ROOT / 'configs' / 'unet').glob('*.py'))
REFINERS = sorted((ROOT / 'configs' / 'residual_refiner').glob('*.py'))
DATASET_OF = {'oxford-pets': 'OxfordPetsDataset', 'coco-humans': 'COCOHumansDataset',
              'synthetic-3cls': 'BaseSegDataset'}


def dataset_key(path: Path) -> str:
    return next(key for key in DATASET_OF if key in path.name)


@functools.lru_cache(maxsize=None)
def load(path: Path) -> Config:
    """The config (cached: loading resolves several base files; copy before changing it)."""
    return Config.fromfile(str(path))


def test_the_expected_configs_exist():
    assert len(UNET) == 3 and {dataset_key(p) for p in UNET} == set(DATASET_OF)
    modes = {(dataset_key(p), load(p).model.mode) for p in REFINERS}
    for key in ('oxford-pets', 'coco-humans'):
        assert {m for k, m in modes if k == key} == {'full', 'no_image', 'no_logits',
                                                     'no_probs'}
    assert ('synthetic-3cls', 'full') in modes


@pytest.mark.parametrize('path', UNET + REFINERS, ids=lambda p: p.name)
def test_datasets_classes_and_metrics(path):
    cfg = load(path)
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.type == DATASET_OF[dataset_key(path)]
        assert dataset.data_root.startswith('data/')  # relative to the working directory
    model = cfg.model.get('baseline', cfg.model)
    assert model.type == 'EncoderDecoder' and model.backbone.type == 'UNet'
    assert model.decode_head.type == 'FCNHead' and model.decode_head.num_classes == 3
    metrics = {m.type: m for m in cfg.val_evaluator}
    assert metrics['IoUMetric'].iou_metrics == ['mIoU']
    assert metrics['BoundaryF1Metric'].bound_th == 2


@pytest.mark.parametrize('path', REFINERS, ids=lambda p: p.name)
def test_refiner_wraps_its_datasets_unet(path):
    cfg = load(path)
    mode = path.name.split('_')[0].replace('residual-refiner', '').lstrip('-') or 'full'
    assert cfg.model.mode == mode.replace('-', '_')
    unet = next(p for p in UNET if dataset_key(p) == dataset_key(path))
    unet_cfg = load(unet)
    baseline = cfg.model.baseline.to_dict()
    init_cfg = baseline.pop('init_cfg')
    assert baseline == unet_cfg.model.to_dict()
    assert cfg.model.data_preprocessor.to_dict() == unet_cfg.model.data_preprocessor.to_dict()
    assert init_cfg['type'] == 'Pretrained'
    assert init_cfg['checkpoint'].startswith(f'work_dirs/{unet.stem}/iter_')
    assert cfg.model.diffusion.num_timesteps == 300
    assert cfg.test_dataloader.to_dict() == unet_cfg.test_dataloader.to_dict()


def write_pets_sample(root: Path) -> None:
    (root / 'images').mkdir(parents=True)
    (root / 'annotations' / 'trimaps').mkdir(parents=True)
    trimap = np.full((30, 40), 2, np.uint8)
    trimap[8:22, 10:30] = 3
    trimap[10:20, 12:28] = 1
    cv2.imwrite(str(root / 'images' / 'Bengal_1.jpg'), np.zeros((30, 40, 3), np.uint8))
    cv2.imwrite(str(root / 'annotations' / 'trimaps' / 'Bengal_1.png'), trimap)
    for split in ('trainval', 'test'):
        (root / 'annotations' / f'{split}.txt').write_text('Bengal_1 5 1 3\n')


def write_coco_sample(root: Path) -> None:
    (root / 'annotations').mkdir(parents=True)
    for folder in ('train2017', 'val2017'):
        (root / folder).mkdir()
        cv2.imwrite(str(root / folder / '000000000001.jpg'), np.zeros((30, 40, 3), np.uint8))
    data = dict(images=[dict(id=1, file_name='000000000001.jpg', height=30, width=40)],
                annotations=[dict(id=1, image_id=1, category_id=1, iscrowd=0, area=160.0,
                                  segmentation=[[10, 8, 30, 8, 30, 24, 10, 24]])],
                categories=[dict(id=1, name='person')])
    for name in ('train', 'val'):
        (root / 'annotations' / f'instances_{name}2017.json').write_text(json.dumps(data))


@pytest.mark.parametrize('key, writer', [('oxford-pets', write_pets_sample),
                                         ('coco-humans', write_coco_sample)])
def test_pipelines_on_the_real_formats(key, writer, tmp_path):
    writer(tmp_path)
    cfg = copy.deepcopy(load(next(p for p in UNET if dataset_key(p) == key)))
    for split in ('train', 'test'):
        dataset_cfg = cfg[f'{split}_dataloader'].dataset
        dataset_cfg.data_root = str(tmp_path)
        if key == 'coco-humans' and split == 'train':
            dataset_cfg.split = 'all'  # a single image has no 85/15 split
        item = DATASETS.build(dataset_cfg)[0]
        gt = item['data_samples'].gt_sem_seg.data
        assert set(np.unique(gt.numpy())) == {0, 1, 2}
        if split == 'test':  # resized to fit 384 (Pets) / 512 (COCO), GT at the original size
            assert gt.shape[-2:] == (30, 40)
            assert max(item['inputs'].shape[-2:]) == (384 if key == 'oxford-pets' else 512)
        else:  # random resize and a crop of at most 256 x 256
            assert max(item['inputs'].shape[-2:]) <= 256


def test_tiny_configs_train_on_a_cpu_quickly():
    unet = load(next(p for p in UNET if 'cpu' in p.name))
    refiner = load(next(p for p in REFINERS if 'cpu' in p.name))
    assert unet.train_cfg.max_iters <= 1000 and refiner.train_cfg.max_iters <= 1000
    assert unet.model.backbone.norm_cfg.type == 'BN'  # no process group on a CPU
    assert os.path.basename(refiner.model.baseline.init_cfg.checkpoint) == (
        f'iter_{unet.train_cfg.max_iters}.pth')
