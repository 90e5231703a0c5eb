"""configs/diffseg: the seed's defaults, MedSegDiff's recipe, the CPU config and its baseline, and
the seed's command-line flags as --cfg-options (docs/diffseg.md, "The seed's flags").

(``tests/test_config.py`` builds every config's model; this file checks the values.)
"""
import argparse
import functools
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction
from mmseg.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / 'configs' / 'diffseg'


def find(pattern: str) -> Path:
    matches = sorted(FOLDER.glob(pattern))
    assert len(matches) == 1, f'{pattern}: {matches}'
    return matches[0]


@functools.lru_cache(maxsize=None)
def load(pattern: str) -> Config:
    """The config (cached; copy before changing it)."""
    return Config.fromfile(str(find(pattern)))


SEED, MEDSEGDIFF, CPU, BASELINE = ('diffseg_*100e*', 'diffseg-medsegdiff_*', 'diffseg_*cpu*',
                                   'unet-*')


def resize_scales(cfg: Config):
    """The ``Resize`` scales of the train and test pipelines."""
    return {loader: [t.scale for t in cfg[loader].dataset.pipeline if t.type == 'Resize']
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}


def test_the_expected_configs_exist():
    assert len(list(FOLDER.glob('*.py'))) == 4
    assert len(list(FOLDER.glob('*cpu*.py'))) == 1  # tools/infer.py's tests take it


def test_seed_defaults():
    cfg = load(SEED)
    head = cfg.model.decode_head
    assert cfg.model.type == 'DiffusionSegmentor' and head.type == 'GaussianDiffusionHead'
    assert head.diffusion.num_timesteps == 1000 and head.diffusion.beta_schedule == 'linear'
    assert head.diffusion.prediction_type == 'epsilon'
    assert head.denoiser.time_embedding == 'sinusoidal'
    assert cfg.model.test_cfg.sampler == 'ddim' and cfg.model.test_cfg.num_steps == 50
    assert all(scale == (256, 256) for scales in resize_scales(cfg).values()
               for scale in scales)
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_dataloader.batch_size * 8 == 8 == cfg.auto_scale_lr.base_batch_size
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop' and cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.dataset.type == 'SegFolderDataset'
    assert {m.type for m in cfg.val_evaluator} == {'IoUMetric', 'BoundaryF1Metric'}


def test_medsegdiff_recipe():
    cfg = load(MEDSEGDIFF)
    unet = cfg.model.decode_head.denoiser
    assert (unet.model_channels, unet.num_res_blocks, unet.num_heads) == (128, 2, 1)
    assert unet.attention_strides == (16, ) and unet.channel_mult == (1, 1, 2, 2, 4, 4)
    # every input side a multiple of the UNet's down-sampling
    assert cfg.model.data_preprocessor.size_divisor == 2**(len(unet.channel_mult) - 1)
    assert cfg.model.decode_head.diffusion.num_timesteps == 1000
    assert cfg.optim_wrapper.optimizer.lr == 1e-4 and cfg.train_dataloader.batch_size * 8 == 8
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.train_cfg.max_iters == 100_000
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.model.test_cfg.num_samples == 5


def test_cpu_config_and_its_baseline_share_the_data():
    cpu, baseline = load(CPU), load(BASELINE)
    assert 'cpu' in find(CPU).name
    assert cpu.train_cfg.type == 'IterBasedTrainLoop' and cpu.env_cfg.dist_cfg.backend == 'gloo'
    for cfg in (cpu, baseline):
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = cfg[loader].dataset
            assert dataset.type == 'SegFolderDataset' and dataset.data_root == 'data/synthetic'
            assert dataset.val_split is None  # the benchmark's own train/val folders
    assert baseline.model.decode_head.num_classes == 2
    assert baseline.model.backbone.norm_cfg.type == 'BN'  # no process group on a CPU


SEED_FLAGS = {
    '--epochs 50': (['train_cfg.max_epochs=50'], lambda c: c.train_cfg.max_epochs == 50),
    '--batch-size 4': (['train_dataloader.batch_size=4'],
                       lambda c: c.train_dataloader.batch_size == 4),
    '--lr 2e-4': (['optim_wrapper.optimizer.lr=2e-4'],
                  lambda c: c.optim_wrapper.optimizer.lr == 2e-4),
    '--timesteps 500': (['model.decode_head.diffusion.num_timesteps=500'],
                        lambda c: MODELS.build(c.model).decode_head.denoiser.num_timesteps == 500),
    '--image-size 128': (['train_dataloader.dataset.pipeline.2.scale=(128,128)',
                          'val_dataloader.dataset.pipeline.1.scale=(128,128)',
                          'test_dataloader.dataset.pipeline.1.scale=(128,128)'],
                         lambda c: all(s == (128, 128) for scales in resize_scales(c).values()
                                       for s in scales)),
    '--resume PATH': (['load_from=PATH'], lambda c: c.load_from == 'PATH'),
    '--wandb': (['visualizer.vis_backends.0.type=WandbVisBackend'],
                lambda c: c.visualizer.vis_backends[0].type == 'WandbVisBackend'),
}


@pytest.mark.parametrize('flag', SEED_FLAGS)
def test_the_seeds_flags_as_cfg_options(flag):
    options, check = SEED_FLAGS[flag]
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)  # as tools/train.py
    cfg = Config.fromfile(str(find(SEED)))
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    assert check(cfg)
