"""Test a refiner: refine the test split, write the refined masks and print the metrics.

The checkpoint is loaded with ``torch.load(weights_only=True)`` and an allow-list of what a
Runner checkpoint holds (``--trust-checkpoint`` lifts it for a file you trust), and it must fit
the config's model key for key (an original ``denoise_model.*`` checkpoint is refused with the
``tools/convert_checkpoint.py`` command that converts it).

Examples:
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/refined
    python tools/test.py CONFIG CHECKPOINT --out refined --show-dir overlays --steps 3
    python tools/test.py configs/segrefiner/segrefiner_coco.py CKPT --out-prefix work_dirs/mrcnn
    bash tools/dist_test.sh CONFIG CHECKPOINT 8 --out refined
"""
import argparse

import segrefiner  # noqa: F401  (registration)
from segrefiner.utils.checkpoint import CheckpointError, CheckpointGuard
from segrefiner.utils.compat import filter_stack_warnings
from segrefiner.utils.run_config import (add_run_args, build_runner, load_run_config,
                                         parse_run_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentation refiner')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the log and metric dumps')
    parser.add_argument('--out', help='folder for the refined masks (0/255 PNGs)')
    parser.add_argument('--show-dir', help='folder for image | coarse | refined | GT panels')
    parser.add_argument('--out-prefix', '--out_prefix', dest='out_prefix',
                        help='instance mode: write the refined instances to '
                        '<prefix>.segm.json (COCO results format, RLE masks)')
    parser.add_argument('--steps', type=int,
                        help='reverse diffusion steps (default: the config\'s test_cfg.steps)')
    add_run_args(parser)
    return parse_run_args(parser)


def main() -> None:
    filter_stack_warnings()
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.steps is not None:
        cfg.merge_from_dict({'model.test_cfg.steps': args.steps})
    if args.out:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='RefinedMaskWriterHook', out_dir=args.out)
        ]
    if args.show_dir:  # panels: mmseg's visualization hook on every sample, our visualizer
        cfg.visualizer = dict(cfg.get('visualizer') or {}, type='RefineLocalVisualizer',
                              out_dir=args.show_dir)
        default_hooks = cfg.get('default_hooks') or {}
        default_hooks['visualization'] = dict(default_hooks.get('visualization') or {},
                                              type='SegVisualizationHook', draw=True,
                                              interval=1)
        cfg.default_hooks = default_hooks
    if args.out_prefix:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='InstanceResultsWriterHook', out_prefix=args.out_prefix)
        ]
    with CheckpointGuard(trust=args.trust_checkpoint) as guard:
        runner = build_runner(cfg)
        runner.register_hook(guard)
        runner.test()


if __name__ == '__main__':
    try:
        main()
    except CheckpointError as exc:
        raise SystemExit(f'error: {exc}')
