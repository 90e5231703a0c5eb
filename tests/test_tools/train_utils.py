"""Helpers for the training tests: tiny configs, in-process ``tools/train.py`` runs, weights.

``tools/train.py`` is imported from the tools folder and its ``main()`` runs in this process with
a patched ``sys.argv`` (a subprocess would add a few seconds of imports and nothing else).
"""
import importlib.util
import itertools
import os
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence
from unittest import mock

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

ROOT = Path(__file__).resolve().parents[2]

#: A 2-level, 16-channel denoiser on 32x32 crops (``tests/tiny_models.py``), trained with AdamW,
#: gradient clipping and a per-iteration LR schedule, checkpoints every ``ckpt_every`` iterations,
#: no validation, no visualisation (``serialize_data=False`` spares a ``gc.collect()`` per run).
#: ``{pipeline}`` is one of the pipelines below.
CONFIG = """
_base_ = ['{root}/configs/segrefiner/segrefiner_demo_cpu.py']
model_size = 32
max_iters = {iters}
model = dict(
    decode_head=dict(
        denoiser=dict(model_channels=16, num_res_blocks=1, channel_mult=(1, 2),
                      attention_strides=(2, ), num_heads=2, norm_groups=8,
                      num_timesteps={timesteps}),
        diffusion=dict(num_timesteps={timesteps}, start={start}, stop=0.0)),
    test_cfg=dict(model_size=model_size, batch_max=2))
train_pipeline = {pipeline}
train_dataloader = dict(batch_size={batch}, num_workers=0, persistent_workers=False,
                        sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=dict(data_root='{data}', pipeline=train_pipeline,
                                     serialize_data=False))
val_dataloader = None
val_cfg = None
val_evaluator = None
optim_wrapper = dict(optimizer={optimizer})
param_scheduler = [dict(type='LinearLR', start_factor=1.0, end_factor=0.1, by_epoch=False,
                        begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1000)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_every}, max_keep_ckpts=-1),
                     visualization=dict(type='SegVisualizationHook', draw=False))
{custom_hooks}randomness = dict(seed={seed}, deterministic=True)
"""

#: Every random transform of the project's training pipeline: the coarse mask drawn online
#: (SegRefiner perturbation or low-resolution mask) or the offline one, a random crop margin,
#: a random flip.
RANDOM_PIPELINE = """[
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='RandomChoice',
         transforms=[[dict(type='GenerateCoarseMask')],
                     [dict(type='GenerateLowResCoarseMask')],
                     [dict(type='LoadCoarseMask')]],
         prob=[0.4, 0.3, 0.3]),
    dict(type='ObjectCrop', pad=8, random_shift=True),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]"""

#: No random transform: the offline coarse mask, a centred crop, no flip.
FIXED_PIPELINE = """[
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='LoadCoarseMask'),
    dict(type='ObjectCrop', pad=8, random_shift=False),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='PackRefineInputs'),
]"""


def write_config(path: Path, data: Path, iters: int, ckpt_every: Optional[int] = None,
                 seed: int = 0, batch: int = 2, pipeline: str = RANDOM_PIPELINE,
                 optimizer: str = 'dict(lr=2e-3)', timesteps: int = 6, start: float = 0.8,
                 custom_hooks: Optional[Sequence[str]] = None) -> Path:
    """Write a tiny training config (see :data:`CONFIG`) and return its path.

    ``optimizer`` is the text of the ``optim_wrapper.optimizer`` dict merged into the demo
    config's (AdamW) one. ``timesteps=1, start=0.0`` makes the training step deterministic: t
    is always 0 and the corrupted mask is the coarse mask (no pixel is drawn fine).
    """
    hooks = '' if custom_hooks is None else 'custom_hooks = [' + ', '.join(
        f"dict(type='{name}')" for name in custom_hooks) + ']\n'
    path.write_text(CONFIG.format(root=ROOT, data=data, iters=iters,
                                  ckpt_every=ckpt_every or iters, seed=seed, batch=batch,
                                  pipeline=pipeline, optimizer=optimizer, timesteps=timesteps,
                                  start=start, custom_hooks=hooks))
    return path


def load_tool(name: str):
    """The module ``tools/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f'segrefiner_tools_{name}',
                                                  ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_RUNS = itertools.count()


def train(config: Path, work_dir: Path, *args: str, cfg_options: Sequence[str] = ()) -> None:
    """``python tools/train.py CONFIG --work-dir WORK_DIR ARGS`` in this process.

    Each run gets its own experiment and visualizer names, so that mmengine's global logger and
    visualizer instances of one run do not serve the next. torch runs on one thread: on a
    machine shared with other jobs, its default thread pool makes these tiny steps many times
    slower. The config text mmengine logs, dumps and stores in each checkpoint is left
    unformatted (yapf takes most of a tiny run's time). ``CUBLAS_WORKSPACE_CONFIG`` is what
    deterministic cuBLAS needs when CUDA is there.
    """
    run = f'run{next(_RUNS)}_{work_dir.name}'
    options = [f'experiment_name={run}', f'visualizer.name={run}', *cfg_options]
    argv = ['tools/train.py', str(config), '--work-dir', str(work_dir), *args,
            '--cfg-options', *options]
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.object(sys, 'argv', argv), \
                mock.patch('mmengine.config.config.FormatCode', _unformatted), \
                mock.patch.dict(os.environ, CUBLAS_WORKSPACE_CONFIG=':4096:8'):
            load_tool('train').main()
    finally:  # randomness=dict(deterministic=True) switches a process-wide flag
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def _unformatted(text: str, **kwargs):
    return text, False


def weights(checkpoint: Path) -> Dict[str, torch.Tensor]:
    """The model's state dict in a Runner checkpoint."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    return {key: value.float() for key, value in state.items()}


def max_difference(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> float:
    """max |a - b| over every tensor of two state dicts with the same keys."""
    assert a.keys() == b.keys()
    return max(float((a[key] - b[key]).abs().max()) for key in a if a[key].numel())


@HOOKS.register_module(force=True)
class SaveInitialWeightsHook(Hook):
    """Writes the weights the training starts from to ``<work_dir>/init.pth``."""

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        torch.save({'state_dict': model.state_dict()}, os.path.join(runner.work_dir, 'init.pth'))
