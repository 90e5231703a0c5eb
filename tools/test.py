"""Test a refiner: refine the test split, write the refined masks and print the metrics.

Examples:
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/refined
    python tools/test.py CONFIG CHECKPOINT --out refined --show-dir overlays --steps 3
    python tools/test.py configs/segrefiner/segrefiner_coco.py CKPT --out-prefix work_dirs/mrcnn
    bash tools/dist_test.sh CONFIG CHECKPOINT 8 --out refined
"""
import argparse

from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import segrefiner  # noqa: F401  (compat shims + registration)
from segrefiner.utils.run_config import add_run_args, load_run_config, parse_run_args


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
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.steps is not None:
        cfg.merge_from_dict({'model.test_cfg.steps': args.steps})
    if args.out or args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='RefinedMaskWriterHook', out_dir=args.out, overlay_dir=args.show_dir)
        ]
    if args.out_prefix:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='InstanceResultsWriterHook', out_prefix=args.out_prefix)
        ]
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.test()


if __name__ == '__main__':
    main()
