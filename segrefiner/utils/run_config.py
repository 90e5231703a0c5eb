"""Config, flags and runner handling shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from .compat import patch_cpu_distributed


def load_run_config(config: str, cfg_options: Optional[dict] = None,
                    work_dir: Optional[str] = None, launcher: str = 'none') -> Config:
    """Load a config the way MMSegmentation's tools do.

    Args:
        config (str): path of the config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides, merged last.
        work_dir (str, optional): ``--work-dir``; takes priority over the config's
            ``work_dir``, which defaults to ``./work_dirs/<config stem>``.
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``. For a distributed launch
            on a machine without CUDA, the run switches to the gloo backend.

    Returns:
        Config: the config, with ``launcher`` and ``work_dir`` set.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if launcher != 'none':
        patch_cpu_distributed(cfg)
    return cfg


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """The flags every tool shares: ``--cfg-options``, ``--launcher``, ``--local-rank``,
    ``--trust-checkpoint``."""
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False), also when '
                        'they need types beyond tensors and what mmengine Runner checkpoints '
                        'hold. A checkpoint is a pickle that can run code: only for files you '
                        'trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs (e.g. '
                        'train_cfg.max_iters=100 optim_wrapper.optimizer.lr=1e-4)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_run_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` (``torch.distributed.launch`` passes ``--local-rank``;
    torchrun sets the variable itself)."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg: Config) -> None:
    """Switch ``OptimWrapper`` to ``AmpOptimWrapper`` (``--amp``); needs a CUDA device."""
    if not torch.cuda.is_available():
        raise SystemExit('--amp needs a CUDA device (mmengine\'s AmpOptimWrapper); none is '
                         'available on this machine. Run without --amp.')
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        return
    if wrapper != 'OptimWrapper':
        raise SystemExit(f'--amp works with optim_wrapper.type=OptimWrapper, got {wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def build_runner(cfg: Config) -> Runner:
    """``Runner.from_cfg``, or the config's ``runner_type`` from mmseg's ``RUNNERS``."""
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
