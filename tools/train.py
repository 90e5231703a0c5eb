"""Train a refiner (or any segmentor) from a config, as MMSegmentation's ``tools/train.py``.

Examples:
    python tools/train.py configs/segrefiner/segrefiner_demo_cpu.py
    python tools/train.py CONFIG --work-dir work_dirs/x --resume
    bash tools/dist_train.sh CONFIG 8
"""
import argparse

from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import segrefiner  # noqa: F401  (compat shims + registration)
from segrefiner.utils.run_config import (add_run_args, enable_amp, load_run_config,
                                         parse_run_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentation refiner')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed-precision training (CUDA only)')
    add_run_args(parser)
    return parse_run_args(parser)


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
