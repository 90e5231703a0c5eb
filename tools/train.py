"""Train a refiner (or any segmentor) from a config, as MMSegmentation's ``tools/train.py``.

Examples:
    python tools/train.py configs/segrefiner/segrefiner_demo_cpu.py
    python tools/train.py CONFIG --work-dir work_dirs/x --resume
    bash tools/dist_train.sh CONFIG 8
"""
import argparse

from mmengine.config import DictAction
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import segrefiner  # noqa: F401  (compat shims + registration)
from segrefiner.utils.run_config import enable_amp, load_run_config, set_local_rank


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentation refiner')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed-precision training (CUDA only)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs (e.g. '
                        'train_cfg.max_iters=100 optim_wrapper.optimizer.lr=1e-4)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
