"""Train a refiner (or any segmentor) from a config, as MMSegmentation's ``tools/train.py``.

Checkpoints (``--resume``, the config's ``load_from``) are loaded with
``torch.load(weights_only=True)`` and an allow-list of what a Runner checkpoint holds
(``--trust-checkpoint`` lifts it for a file you trust); a ``load_from`` checkpoint must fit the
model key for key.

Examples:
    python tools/train.py configs/segrefiner/segrefiner_demo_cpu.py
    python tools/train.py CONFIG --work-dir work_dirs/x --resume
    bash tools/dist_train.sh CONFIG 8
"""
import argparse

import segrefiner  # noqa: F401  (registration)
from segrefiner.utils.checkpoint import CheckpointError, CheckpointGuard
from segrefiner.utils.compat import filter_stack_warnings
from segrefiner.utils.run_config import (add_run_args, build_runner, enable_amp, load_run_config,
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
    filter_stack_warnings()
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    with CheckpointGuard(trust=args.trust_checkpoint) as guard:
        runner = build_runner(cfg)
        runner.register_hook(guard)
        runner.train()


if __name__ == '__main__':
    try:
        main()
    except CheckpointError as exc:
        raise SystemExit(f'error: {exc}')
