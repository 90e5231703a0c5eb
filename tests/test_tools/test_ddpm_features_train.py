"""The CPU recipe of configs/ddpm_features through the tools: the DDPM config for 2 iterations,
the ensemble config for 1 epoch on its checkpoint (the classifiers alone saved), tools/test.py
(mIoU) and its TTA config on 2 + 2 tiny synthetic scenes."""
import re
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from segrefiner.datasets.generators import generate_synthetic_dataset
from train_utils import load_tool, train

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / 'ddpm_features'
CPU_DDPM = CONFIGS / 'image-ddpm_guided-unet-w32_1xb8-900_synthetic-64x64-cpu.py'
CPU = CONFIGS / 'ddpm-features_guided-unet-w32_1xb10-20e_synthetic-10shot-64x64-cpu.py'


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """4 + 2 synthetic 64x64 scenes and their release layout (2 labelled, 2 test)."""
    data = tmp_path_factory.mktemp('ddpm_synthetic')
    generate_synthetic_dataset(str(data), num_train=4, num_val=2, size=(64, 64), seed=1,
                               progress=False)
    converter = load_tool('dataset_converters/synthetic_to_ddpm_seg')
    converter.main([str(data), str(data / 'ddpm_seg'), '--num-train', '2'])
    return data


def _loaders(root, names=('train_dataloader', 'val_dataloader', 'test_dataloader')):
    return [f'{loader}.{key}' for loader in names
            for key in (f'dataset.data_root={root}', 'num_workers=0', 'persistent_workers=False')]


def test_cpu_recipe_end_to_end(synthetic, tmp_path):
    ddpm_work = tmp_path / 'ddpm'
    train(CPU_DDPM, ddpm_work, cfg_options=[
        f'train_dataloader.dataset.data_root={synthetic}', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_dataloader.batch_size=2',
        'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'])
    ddpm_checkpoint = ddpm_work / 'iter_2.pth'
    assert ddpm_checkpoint.is_file()
    options = [*_loaders(synthetic / 'ddpm_seg'), 'train_dataloader.batch_size=2',
               f'model.backbone.checkpoint={ddpm_checkpoint}', 'model.classifier.num_models=2',
               'model.classifier.pixel_batch_size=128', 'model.train_cfg.max_pixels=512',
               'train_dataloader.dataset.num_images=2',
               'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1']
    work = tmp_path / 'features'
    train(CPU, work, cfg_options=options)
    log = max(work.rglob('*.log'), key=lambda p: p.stat().st_mtime).read_text()
    assert 'loss_ce' in log and 'active_models: 2.0000' in log
    checkpoint = work / 'epoch_1.pth'
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert not any(k.startswith('backbone.unet.') for k in state)  # classifiers only
    argv = ['tools/test.py', str(CPU), str(checkpoint), '--work-dir', str(tmp_path / 'test'),
            '--cfg-options', *options, 'experiment_name=ddpm_features_test',
            'visualizer.name=ddpm_features_test']
    with mock.patch.object(sys, 'argv', argv):
        load_tool('test').main()
    log = max((tmp_path / 'test').rglob('*.log'), key=lambda p: p.stat().st_mtime).read_text()
    assert re.search(r'Iter\(test\) \[2/2\].*mIoU: [\d.]+', log)
    # TTA through tools/test.py: SegTTAModel around the trained segmentor, the same checkpoint
    tta = CPU.with_name(CPU.stem + '_tta.py')
    argv = ['tools/test.py', str(tta), str(checkpoint), '--work-dir', str(tmp_path / 'tta'),
            '--cfg-options', *[o.replace('model.', 'model.module.', 1) for o in options],
            'experiment_name=ddpm_features_tta', 'visualizer.name=ddpm_features_tta']
    with mock.patch.object(sys, 'argv', argv):
        load_tool('test').main()
    log = max((tmp_path / 'tta').rglob('*.log'), key=lambda p: p.stat().st_mtime).read_text()
    assert re.search(r'Iter\(test\) \[2/2\].*mIoU: [\d.]+', log)
