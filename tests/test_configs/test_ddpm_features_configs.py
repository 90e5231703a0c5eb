"""configs/ddpm_features: the released-model configs (flags, checkpoints, classes) and the TTA
config building (tests/test_tools/test_ddpm_features_train.py runs the CPU recipe)."""
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmseg.registry import DATASETS, MODELS

from segrefiner.datasets.generators import generate_synthetic_dataset
from segrefiner.models.denoisers.guided_diffusion_unet import GUIDED_DIFFUSION_256

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / 'ddpm_features'
RELEASED = sorted(p for p in CONFIGS.glob('ddpm-features_*256x256.py'))
CPU_DDPM = CONFIGS / 'image-ddpm_guided-unet-w32_1xb8-900_synthetic-64x64-cpu.py'
CPU = CONFIGS / 'ddpm-features_guided-unet-w32_1xb10-20e_synthetic-10shot-64x64-cpu.py'
CHECKPOINTS = {'horse-21': 'lsun_horse', 'cat-15': 'lsun_cat', 'bedroom-28': 'lsun_bedroom',
               'ade-bedroom-30': 'lsun_bedroom', 'ffhq-34': 'ffhq', 'celeba-19': 'ffhq'}


def test_every_config_parses():
    names = [p.name for p in CONFIGS.glob('*.py')]
    assert len(RELEASED) == 6 and any('cpu' in n for n in names)
    for path in CONFIGS.glob('*.py'):
        Config.fromfile(path)


@pytest.mark.parametrize('path', RELEASED, ids=lambda p: p.name.split('_')[-1][:-3])
def test_released_configs(path):
    cfg = Config.fromfile(path)
    dataset = path.name.rsplit('_', 1)[1][:-len('-256x256.py')]
    backbone = cfg.model.backbone
    assert backbone.checkpoint == f'checkpoints/ddpm/{CHECKPOINTS[dataset]}.pt'
    flags = {k: v for k, v in backbone.unet.items() if k in GUIDED_DIFFUSION_256}
    assert flags == GUIDED_DIFFUSION_256
    assert (backbone.steps, backbone.blocks) == ((50, 150, 250), (5, 6, 7, 8, 12))
    dataset_cls = DATASETS.get(cfg.train_dataloader.dataset.type)
    assert cfg.model.classifier.num_classes == len(dataset_cls.METAINFO['classes'])
    assert cfg.train_dataloader.dataset.num_images == dataset_cls.SPLIT_SIZES['train']
    assert cfg.test_evaluator.type == 'IoUMetric'


def test_horse_model_has_8448_features():
    cfg = Config.fromfile(RELEASED[-1])
    cfg.model.backbone.checkpoint = None
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.backbone.feature_channels == 8448
    assert model.classifier.models[0][0].in_features == 8448


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """4 + 2 synthetic 64x64 scenes and their release layout (2 labelled, 2 test)."""
    data = tmp_path_factory.mktemp('ddpm_synthetic')
    generate_synthetic_dataset(str(data), num_train=4, num_val=2, size=(64, 64), seed=1,
                               progress=False)
    spec = importlib.util.spec_from_file_location(
        'synthetic_to_ddpm_seg', ROOT / 'tools' / 'dataset_converters' / 'synthetic_to_ddpm_seg.py')
    converter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(converter)
    converter.main([str(data), str(data / 'ddpm_seg'), '--num-train', '2'])
    return data


def test_tta_config_builds_and_predicts(synthetic):
    cfg = Config.fromfile(CPU.with_name(CPU.stem + '_tta.py'))
    cfg.model.module.backbone.checkpoint = None
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'SegTTAModel'
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=str(
        synthetic / 'ddpm_seg'), pipeline=[]))
    views = pipeline(dataset[0])
    sizes = [s.img_shape for s in views['data_samples']]
    assert sizes == [(48, 48), (48, 48), (64, 64), (64, 64), (80, 80), (80, 80)]
    assert [s.flip for s in views['data_samples']] == [False, True] * 3
    (result, ) = model.eval().test_step(pseudo_collate([views]))
    assert result.pred_sem_seg.data.shape == (1, 64, 64)  # the original 64x64 fixture image
