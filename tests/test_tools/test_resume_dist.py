"""tools/train.py --resume continues exactly; tools/dist_train.sh really synchronises gradients.

Resume: N iterations in one go against N/2, stop, ``--resume``, N/2 more, on the project's
random training pipeline (online coarse masks, random crop margin, random flip), AdamW, gradient
clipping and an LR that changes every iteration. What the second half needs comes back from the
checkpoint (weights, AdamW moments, scheduler, iteration) or from the loop (the sampler's order,
and numpy's global state, which the transforms draw from: the resumed loop replays the skipped
batches through the pipeline). torch's global generator, which the head draws t and the corruption from, comes back through
:class:`TorchRNGStateHook`, which ``configs/_base_/default_runtime.py`` lists in ``custom_hooks``
(mmengine 0.10.7 checkpoints no RNG state); without it the resumed run draws other t and
corruptions, and ``test_resume_without_the_rng_state_hook_is_not_exact`` shows that the
comparison sees the difference.

Distributed: 2 gloo processes x batch 1 against 1 process x batch 2 (SGD, so that rounding
noise is not amplified by Adam's normalisation). The InfiniteSampler gives rank r the samples
r, r + 2, ... of the shuffled order, so the two ranks see together the batch of the single
process. The pipeline has no random transform and the diffusion one step with ᾱ = 0 (t = 0,
the corrupted mask is the coarse mask), so the training step draws nothing that depends on the
rank or on the batch layout.
"""
import os
import socket
import subprocess
import sys

import pytest
import torch

from segrefiner.datasets import generate_synthetic_dataset
from train_utils import FIXED_PIPELINE, ROOT, max_difference, train, weights, write_config

ITERS = 4
SGD = "dict(_delete_=True, type='SGD', lr=0.05, momentum=0.9)"


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume_data')
    generate_synthetic_dataset(str(root), num_train=4, num_val=1, size=(48, 64), seed=1,
                               progress=False)
    return root


@pytest.fixture(scope='module')
def uninterrupted(data, tmp_path_factory):
    """The config (the project's default hooks) and ITERS iterations of it in one go."""
    folder = tmp_path_factory.mktemp('resume')
    config = write_config(folder / 'tiny.py', data, iters=ITERS, ckpt_every=ITERS // 2)
    train(config, folder / 'full')
    return config, folder / 'full'


def train_in_two_halves(config, work):
    train(config, work, cfg_options=[f'train_cfg.max_iters={ITERS // 2}'])
    assert (work / f'iter_{ITERS // 2}.pth').is_file()
    assert not (work / f'iter_{ITERS}.pth').exists()
    train(config, work, '--resume')
    return work / f'iter_{ITERS}.pth'


def test_resume_is_exact(uninterrupted, tmp_path):
    config, full = uninterrupted
    resumed = train_in_two_halves(config, tmp_path / 'split')
    half = weights(full / f'iter_{ITERS // 2}.pth')
    assert max_difference(half, weights(tmp_path / 'split' / f'iter_{ITERS // 2}.pth')) == 0
    final = weights(full / f'iter_{ITERS}.pth')
    # the second half changes the weights by far more than the tolerance
    assert max_difference(half, final) > 1e-4
    assert max_difference(final, weights(resumed)) <= 1e-6


def test_resume_without_the_rng_state_hook_is_not_exact(uninterrupted, data, tmp_path):
    """Without ``TorchRNGStateHook`` (``custom_hooks = []``) the resumed half draws other t and
    corruptions: the comparison above is sharp enough to see it."""
    _, full = uninterrupted
    config = write_config(tmp_path / 'plain.py', data, iters=ITERS, ckpt_every=ITERS // 2,
                          custom_hooks=[])
    resumed = train_in_two_halves(config, tmp_path / 'split')
    assert max_difference(weights(full / f'iter_{ITERS}.pth'), weights(resumed)) > 1e-6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='the gloo-on-CPU launch; with CUDA, '
                    'dist_train.sh would need 2 GPUs')
def test_dist_train_synchronises_gradients(data, tmp_path):
    iters = 3
    config = write_config(tmp_path / 'dist.py', data, iters=iters, batch=1,
                          pipeline=FIXED_PIPELINE, timesteps=1, start=0.0, optimizer=SGD)
    env = {**os.environ, 'PYTHON': sys.executable, 'PORT': str(free_port()),
           'OMP_NUM_THREADS': '1'}
    proc = subprocess.run(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
                           str(tmp_path / 'dist')], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log and 'GPU number: 2' in log, log[-3000:]
    dist = weights(tmp_path / 'dist' / f'iter_{iters}.pth')

    train(config, tmp_path / 'single', cfg_options=['train_dataloader.batch_size=2'])
    single = weights(tmp_path / 'single' / f'iter_{iters}.pth')
    # a single process on batch 1 (other samples, other steps) is far away
    train(config, tmp_path / 'single_b1')
    assert max_difference(single, weights(tmp_path / 'single_b1' / f'iter_{iters}.pth')) > 1e-4
    assert max_difference(dist, single) <= 1e-6
