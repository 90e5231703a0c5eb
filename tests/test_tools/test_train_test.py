"""End to end: tools/train.py, tools/test.py and tools/dist_train.sh on a tiny config.

The tools' ``main()`` runs in this process with a patched ``sys.argv`` where a subprocess would
add only imports; the command-line behaviour (exit status, messages) has its own subprocess tests.
Checkpoints: the tools load with ``weights_only=True`` and an allow-list, refuse a file that would
run code (``--resume`` included) unless ``--trust-checkpoint``, and refuse weights that do not fit
the config's model.
"""
import importlib.util
import itertools
import os
import os.path as osp
import pathlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import MODELS

from segrefiner.apis import init_refiner
from segrefiner.datasets.generators import generate_synthetic_dataset
from segrefiner.utils.checkpoint import CheckpointMismatchError, UntrustedCheckpointError

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = """
_base_ = ['{root}/configs/segrefiner/segrefiner_demo_cpu.py']
model_size = 32
max_iters = {iters}
model = dict(
    decode_head=dict(denoiser=dict(model_channels=16, num_res_blocks=1, channel_mult=(1, 2),
                                   attention_strides=(2, ), num_heads=2, norm_groups=8)),
    test_cfg=dict(model_size=model_size, batch_max=2))
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='GenerateCoarseMask'),
    dict(type='ObjectCrop', pad=8, random_shift=True),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{data}', pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root='{data}'))
test_dataloader = val_dataloader
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=max_iters))
"""


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A tiny synthetic dataset and a config training on it for 2 iterations."""
    folder = tmp_path_factory.mktemp('tiny')
    data = folder / 'data'
    generate_synthetic_dataset(str(data), num_train=4, num_val=2, size=(48, 64), seed=1,
                               progress=False)
    config = folder / 'tiny.py'
    config.write_text(TINY_CONFIG.format(root=ROOT, data=data, iters=2))
    return folder, config


def run(*args, env=None, timeout=600):
    proc = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


_RUNS = itertools.count()


def tool(name: str, *args) -> None:
    """``python tools/<name>.py ARGS`` in this process (one torch thread: a shared machine makes
    the default pool slow). Each run gets its own experiment and visualizer name, so that
    mmengine's global logger and visualizer of one run do not serve the next."""
    spec = importlib.util.spec_from_file_location(f'segrefiner_tools_{name}',
                                                  ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run_id = f'{name}{next(_RUNS)}'
    argv = [f'tools/{name}.py', *map(str, args)]
    options = [f'experiment_name={run_id}', f'visualizer.name=vis_{run_id}']
    if '--cfg-options' in argv:
        argv[argv.index('--cfg-options') + 1:argv.index('--cfg-options') + 1] = options
    else:
        argv += ['--cfg-options', *options]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.object(sys, 'argv', argv):
            module.main()
    finally:
        torch.set_num_threads(threads)


def log_of(work_dir: Path) -> str:
    """The text of the newest mmengine log file under ``work_dir``."""
    logs = sorted(work_dir.rglob('*.log'), key=lambda p: p.stat().st_mtime)
    assert logs, f'no log under {work_dir}'
    return logs[-1].read_text()


class CreatesFile:
    """Unpickling this object creates ``path``: a checkpoint that runs code when loaded."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture(scope='module')
def trained(tiny):
    """``tools/train.py`` for 2 iterations (and the validation at the end): its work dir."""
    folder, config = tiny
    work = folder / 'work'
    tool('train', config, '--work-dir', work)
    return work


def tiny_model(tiny, **denoiser):
    """The tiny config's model, with denoiser settings changed."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(tiny[1])).model
    cfg.decode_head.denoiser.update(denoiser)
    return MODELS.build(cfg)


def test_train_then_test_writes_masks_and_metrics(tiny, trained):
    folder, config = tiny
    log = log_of(trained)
    assert 'Iter(train) [2/2]' in log
    ckpt = trained / 'iter_2.pth'
    assert ckpt.is_file() and (trained / 'last_checkpoint').is_file()
    # the validation at the end of training ran the RefineMetric
    assert re.search(r'coarse_IoU', log)

    out, shows, test_work = folder / 'refined', folder / 'overlays', folder / 'test'
    tool('test', config, ckpt, '--out', out, '--show-dir', shows, '--steps', '3',
         '--work-dir', test_work)
    log = log_of(test_work)
    names = sorted(p.name for p in (folder / 'data' / 'val' / 'images').iterdir())
    expected = sorted(osp.splitext(n)[0] + '.png' for n in names)
    assert sorted(p.name for p in out.iterdir()) == expected
    for name in expected:
        mask = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (48, 64) and set(np.unique(mask)) <= {0, 255}
        panel = cv2.imread(str(shows / name))
        assert panel.shape == (48 + 20, 4 * 64, 3)
    metrics = dict(re.findall(r'(?:^|\s)(\w*(?:IoU|mBA|BF))\s*:\s*([\d.]+)', log))
    assert {'IoU', 'mBA', 'coarse_IoU', 'coarse_mBA'} <= set(metrics), log[-2000:]

    # resume continues from the last checkpoint (in a copy of the work dir)
    resumed = folder / 'resumed'
    resumed.mkdir()
    shutil.copy(ckpt, resumed / 'iter_2.pth')
    (resumed / 'last_checkpoint').write_text(str(resumed / 'iter_2.pth'))
    tool('train', config, '--work-dir', resumed, '--resume', '--cfg-options',
         'train_cfg.max_iters=3')
    log = log_of(resumed)
    assert 'resumed' in log.lower() and 'Iter(train) [3/3]' in log
    assert (resumed / 'iter_3.pth').is_file()


def test_init_refiner_loads_the_runner_checkpoint(tiny, trained):
    model = init_refiner(str(tiny[1]), str(trained / 'iter_2.pth'))
    state = torch.load(trained / 'iter_2.pth', map_location='cpu', weights_only=False)
    for key, value in state['state_dict'].items():
        assert torch.equal(model.state_dict()[key], value), key


def test_test_refuses_a_checkpoint_that_runs_code(tiny, tmp_path):
    target = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': CreatesFile(target)}, evil)
    with pytest.raises(UntrustedCheckpointError) as info:
        tool('test', tiny[1], evil, '--work-dir', tmp_path / 'work')
    assert str(evil) in str(info.value) and 'io.open' in str(info.value)
    assert '--trust-checkpoint' in str(info.value)
    assert not target.exists()


def test_resume_refuses_a_latest_checkpoint_that_runs_code(tiny, tmp_path):
    target = tmp_path / 'pwned'
    work = tmp_path / 'work'
    work.mkdir()
    torch.save({'state_dict': {}, 'meta': CreatesFile(target)}, work / 'iter_2.pth')
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    with pytest.raises(UntrustedCheckpointError, match=r'io\.open'):
        tool('train', tiny[1], '--work-dir', work, '--resume')
    assert not target.exists()


def test_trust_checkpoint_loads_a_file_with_an_extra_type(tiny, trained, tmp_path):
    checkpoint = torch.load(trained / 'iter_2.pth', map_location='cpu', weights_only=False)
    checkpoint['meta']['data_root'] = pathlib.PurePosixPath('/data/synthetic')
    extra = tmp_path / 'extra.pth'
    torch.save(checkpoint, extra)
    with pytest.raises(UntrustedCheckpointError, match='pathlib.PurePosixPath'):
        tool('test', tiny[1], extra, '--work-dir', tmp_path / 'refused')
    with pytest.raises(UntrustedCheckpointError, match='pathlib.PurePosixPath'):
        init_refiner(str(tiny[1]), str(extra))
    out = tmp_path / 'refined'
    tool('test', tiny[1], extra, '--trust-checkpoint', '--out', out, '--work-dir',
         tmp_path / 'trusted')
    assert len(list(out.iterdir())) == 2
    init_refiner(str(tiny[1]), str(extra), trust_checkpoint=True)


def test_test_refuses_a_checkpoint_of_another_config(tiny, tmp_path):
    other = tiny_model(tiny, channel_mult=(1, 2, 2), model_channels=8)
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': other.state_dict()}, path)
    with pytest.raises(CheckpointMismatchError) as info:
        tool('test', tiny[1], path, '--work-dir', tmp_path / 'work')
    message = str(info.value)
    assert str(path) in message and 'unexpected key(s): decode_head.denoiser.' in message
    assert 'of another shape: decode_head.denoiser.' in message
    assert re.search(r'\d+ unexpected key\(s\)', message)
    assert 'convert_checkpoint' not in message


def test_load_from_in_training_refuses_a_checkpoint_of_another_config(tiny, tmp_path):
    other = tiny_model(tiny, channel_mult=(1, 2, 2))
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': other.state_dict()}, path)
    with pytest.raises(CheckpointMismatchError, match='unexpected key'):
        tool('train', tiny[1], '--work-dir', tmp_path / 'work', '--cfg-options',
             f'load_from={path}')


def test_test_prints_the_converter_command_for_an_original_checkpoint(tiny, tmp_path):
    denoiser = tiny_model(tiny).decode_head.denoiser.state_dict()
    original = {'denoise_model.' + k: v for k, v in denoiser.items()}
    original['loss_texture.sobel.conv_x.weight'] = torch.zeros(1, 1, 3, 3)
    path = tmp_path / 'segrefiner_lr_latest.pth'
    torch.save({'meta': {'mmdet_version': '2.28.1'}, 'state_dict': original}, path)
    proc = subprocess.run([sys.executable, 'tools/test.py', str(tiny[1]), str(path),
                           '--work-dir', str(tmp_path / 'work')],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert f'python tools/convert_checkpoint.py {path} ' in proc.stderr, proc.stderr[-2000:]
    assert f'{len(original)} unexpected key(s): denoise_model.' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_test_refuses_a_truncated_checkpoint(tiny, trained, tmp_path):
    data = (trained / 'iter_2.pth').read_bytes()
    path = tmp_path / 'truncated.pth'
    path.write_bytes(data[:len(data) // 3])
    with pytest.raises(ValueError, match=f'{path} is a truncated or corrupt zip archive'):
        tool('test', tiny[1], path, '--work-dir', tmp_path / 'work')


def test_dist_train_two_gloo_processes(tiny):
    folder, config = tiny
    work = folder / 'dist'
    log = run('bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work),
              env=dict(PYTHON=sys.executable, PORT='29531', OMP_NUM_THREADS='1'))
    assert 'Distributed training: True' in log and 'GPU number: 2' in log, log[-3000:]
    assert "model_wrapper_cfg = dict(type='CPUAwareDistributedDataParallel')" in log
    assert (work / 'iter_2.pth').is_file()


def test_amp_on_cpu_is_a_clear_error(tiny):
    folder, config = tiny
    proc = subprocess.run([sys.executable, 'tools/train.py', str(config), '--amp', '--work-dir',
                           str(folder / 'amp')], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and '--amp needs a CUDA device' in proc.stderr


def test_test_with_missing_checkpoint_names_it(tiny):
    folder, config = tiny
    proc = subprocess.run([sys.executable, 'tools/test.py', str(config),
                           str(folder / 'nope.pth'), '--work-dir', str(folder / 'x')],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and 'nope.pth' in proc.stderr
