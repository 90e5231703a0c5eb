"""End to end: tools/train.py, tools/test.py and tools/dist_train.sh on a tiny config."""
import os
import os.path as osp
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from segrefiner.datasets.generators import generate_synthetic_dataset

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


def test_train_then_test_writes_masks_and_metrics(tiny):
    folder, config = tiny
    work = folder / 'work'
    log = run(sys.executable, 'tools/train.py', str(config), '--work-dir', str(work))
    assert 'Iter(train) [2/2]' in log
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file() and (work / 'last_checkpoint').is_file()
    # the validation at the end of training ran the RefineMetric
    assert re.search(r'coarse_IoU', log)

    out, shows = folder / 'refined', folder / 'overlays'
    log = run(sys.executable, 'tools/test.py', str(config), str(ckpt), '--out', str(out),
              '--show-dir', str(shows), '--steps', '3', '--work-dir', str(folder / 'test'))
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

    # resume continues from the last checkpoint
    log = run(sys.executable, 'tools/train.py', str(config), '--work-dir', str(work),
              '--resume', '--cfg-options', 'train_cfg.max_iters=3')
    assert 'resumed' in log.lower() and 'Iter(train) [3/3]' in log


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
