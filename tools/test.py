"""Test a refiner: refine the test split, write the refined masks and print the metrics.

Examples:
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/refined
    python tools/test.py CONFIG CHECKPOINT --out refined --show-dir overlays --steps 3
    bash tools/dist_test.sh CONFIG CHECKPOINT 8 --out refined
"""
import argparse

from mmengine.config import DictAction
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import segrefiner  # noqa: F401  (compat shims + registration)
from segrefiner.utils.run_config import load_run_config, set_local_rank


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentation refiner')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the log and metric dumps')
    parser.add_argument('--out', help='folder for the refined masks (0/255 PNGs)')
    parser.add_argument('--show-dir', help='folder for image | coarse | refined | GT panels')
    parser.add_argument('--steps', type=int,
                        help='reverse diffusion steps (default: the config\'s test_cfg.steps)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.steps is not None:
        cfg.merge_from_dict({'model.test_cfg.steps': args.steps})
    if args.out or args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='RefinedMaskWriterHook', out_dir=args.out, overlay_dir=args.show_dir)
        ]
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.test()


if __name__ == '__main__':
    main()
