"""configs/_base_/datasets/seg_folder.py: the seed's augmentation levels as mmseg pipelines."""
import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmseg.registry import DATASETS, TRANSFORMS

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / 'configs' / '_base_' / 'datasets' / 'seg_folder.py'
LEVELS = ('none', 'light', 'medium', 'heavy')
LOAD = [('LoadRefineImageFromFile', {}), ('LoadThresholdedAnnotations', dict(threshold=128))]
RESIZE = ('Resize', dict(scale=(256, 256), keep_ratio=False))
H_FLIP = ('RandomFlip', dict(prob=0.5, direction='horizontal'))
V_FLIP = ('RandomFlip', dict(prob=0.3, direction='vertical'))
JITTER = ('PhotoMetricDistortion', dict(brightness_delta=32, contrast_range=(0.8, 1.2),
                                        saturation_range=(0.8, 1.2), hue_delta=9))
PACK = ('PackSegInputs', {})
# The seed: none; light = h-flip 0.5; medium = h-flip 0.5, v-flip 0.3, rotation +-15 deg, colour
# jitter on the image only; heavy = medium with rotation +-30 deg and a random crop.
EXPECTED = {
    'none': LOAD + [RESIZE, PACK],
    'light': LOAD + [RESIZE, H_FLIP, PACK],
    'medium': LOAD + [RESIZE, H_FLIP, V_FLIP,
                      ('RandomRotate', dict(prob=1.0, degree=15, pad_val=0, seg_pad_val=0)),
                      JITTER, PACK],
    'heavy': LOAD + [RESIZE, H_FLIP, V_FLIP,
                     ('RandomRotate', dict(prob=1.0, degree=30, pad_val=0, seg_pad_val=0)),
                     ('RandomCrop', dict(crop_size=(224, 224))), RESIZE, JITTER, PACK],
}


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(str(BASE))


def as_list(pipeline):
    return [(t['type'], {k: v for k, v in t.items() if k != 'type'}) for t in pipeline]


@pytest.mark.parametrize('level', LEVELS)
def test_levels_are_the_seeds(cfg, level):
    assert as_list(cfg[f'aug_{level}']) == EXPECTED[level]
    Compose(copy.deepcopy(cfg[f'aug_{level}']))  # every transform builds


def test_defaults(cfg):
    assert cfg.image_size == (256, 256) and cfg.augmentation == 'medium'
    assert cfg.train_pipeline == cfg.aug_medium
    assert as_list(cfg.test_pipeline) == [LOAD[0], RESIZE, LOAD[1], PACK]
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert train.type == val.type == 'SegFolderDataset'
    assert (train.split, val.split) == ('train', 'val')
    assert train.val_split == val.val_split == 0.2 and train.split_seed == val.split_seed
    assert cfg.val_evaluator.type == 'IoUMetric'


def test_a_leaf_picks_another_level(tmp_path):
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(f"_base_ = ['{BASE}']\n"
                    'train_dataloader = dict(dataset=dict(pipeline={{_base_.aug_heavy}}))\n')
    cfg = Config.fromfile(str(leaf))
    assert as_list(cfg.train_dataloader.dataset.pipeline) == EXPECTED['heavy']


def test_colour_jitter_changes_the_image_only(cfg):
    jitter = TRANSFORMS.build(copy.deepcopy(cfg.colour_jitter))
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = (rng.random((32, 32)) > 0.5).astype(np.uint8)
    np.random.seed(1)
    changed = 0
    for _ in range(5):
        results = jitter(dict(img=img.copy(), gt_seg_map=mask.copy(), seg_fields=['gt_seg_map']))
        assert np.array_equal(results['gt_seg_map'], mask)
        changed += not np.array_equal(results['img'], img)
    assert changed


def write_pair(root, name, size):
    """A non-square image whose pixels equal its mask (white object on black)."""
    mask = np.zeros(size, np.uint8)
    h, w = size
    cv2.ellipse(mask, (w // 3, h // 2), (w // 5, h // 4), 20, 0, 360, 255, -1)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    (root / 'masks').mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'images' / f'{name}.png'), np.repeat(mask[..., None], 3, axis=2))
    cv2.imwrite(str(root / 'masks' / f'{name}.png'), mask)


@pytest.mark.parametrize('level', LEVELS)
def test_outputs_at_image_size_with_image_and_mask_aligned(cfg, tmp_path, level):
    write_pair(tmp_path, 'a', (90, 140))
    pipeline = [t for t in copy.deepcopy(cfg[f'aug_{level}'])
                if t['type'] != 'PhotoMetricDistortion']  # keep the image equal to the mask
    dataset = DATASETS.build(dict(type='SegFolderDataset', data_root=str(tmp_path),
                                  pipeline=pipeline))
    np.random.seed(0)
    for _ in range(4):
        sample = dataset[0]
        assert tuple(sample['inputs'].shape) == (3, 256, 256)
        gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
        assert gt.shape == (256, 256) and set(np.unique(gt)) <= {0, 1}
        image_fg = sample['inputs'][0].numpy() >= 128
        assert (image_fg == gt.astype(bool)).mean() > 0.97  # same geometric transforms


def test_val_pipeline_keeps_the_gt_at_the_original_size(cfg, tmp_path):
    write_pair(tmp_path, 'a', (90, 140))
    dataset = DATASETS.build(dict(type='SegFolderDataset', data_root=str(tmp_path),
                                  pipeline=copy.deepcopy(cfg.test_pipeline)))
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 256, 256)
    assert tuple(sample['data_samples'].gt_sem_seg.data.shape) == (1, 90, 140)
    assert sample['data_samples'].ori_shape == (90, 140)


def test_dataloader_datasets_split_a_folder(cfg, tmp_path):
    for i in range(10):
        write_pair(tmp_path, f'img_{i}', (20, 30))
    datasets = {}
    for split in ('train', 'val'):
        dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
        dataset_cfg.data_root = str(tmp_path)
        datasets[split] = DATASETS.build(dataset_cfg)
    paths = {split: {d.get_data_info(i)['img_path'] for i in range(len(d))}
             for split, d in datasets.items()}
    assert (len(paths['train']), len(paths['val'])) == (8, 2)
    assert not paths['train'] & paths['val']
