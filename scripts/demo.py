"""The CPU demo: synthetic data → train a small SegRefiner → refine the val split → report.

1. generates ``data/synthetic`` (skipped when it already exists with the same parameters);
2. trains ``configs/segrefiner/segrefiner_demo_cpu.py`` on the CPU (mmengine logs progress);
3. refines every val image from its coarse mask, writing the refined masks and
   image | coarse | refined | GT panels under ``work_dirs/demo/``;
4. prints coarse vs refined pooled IoU, mBA and boundary F.

    python scripts/demo.py [--iters 300] [--work-dir work_dirs/demo]
"""
import argparse
import os.path as osp
import time

from mmengine.runner import Runner

from segrefiner.datasets.generators import generate_synthetic_dataset
from segrefiner.utils.checkpoint import CheckpointGuard
from segrefiner.utils.run_config import load_run_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIG = osp.join(ROOT, 'configs', 'segrefiner', 'segrefiner_demo_cpu.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'synthetic'))
    parser.add_argument('--iters', type=int, help='training iterations (default: config)')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--size', type=int, nargs=2, default=(160, 160), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def report(metrics: dict) -> str:
    """The coarse vs refined table from RefineMetric's keys."""
    lines = [f'{"metric":<24}{"coarse":>10}{"refined":>10}{"gain":>10}', '-' * 54]
    for key, label in (('IoU', 'pooled IoU (%)'), ('mBA', 'mBA (%)'),
                       ('BF', 'boundary F (%)')):
        refined = next((v for k, v in metrics.items() if k.split('/')[-1] == key), None)
        coarse = next((v for k, v in metrics.items() if k.split('/')[-1] == f'coarse_{key}'),
                      None)
        if refined is None or coarse is None:
            continue
        lines.append(f'{label:<24}{coarse:>10.2f}{refined:>10.2f}{refined - coarse:>+10.2f}')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    start = time.time()
    print(f'[1/3] synthetic data in {args.data_root}', flush=True)
    generate_synthetic_dataset(args.data_root, num_train=args.num_train, num_val=args.num_val,
                               size=tuple(args.size), seed=args.seed)

    print('[2/3] training the demo refiner on the CPU', flush=True)
    roots = {f'{split}_dataloader.dataset.data_root': args.data_root
             for split in ('train', 'val', 'test')}
    if args.iters:
        roots['train_cfg.max_iters'] = args.iters
    cfg = load_run_config(CONFIG, roots, osp.join(args.work_dir, 'train'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')

    print('[3/3] refining the val split', flush=True)
    test_cfg = load_run_config(CONFIG, roots, osp.join(args.work_dir, 'test'))
    test_cfg.load_from = checkpoint
    refined_dir, overlay_dir = osp.join(args.work_dir, 'refined'), osp.join(args.work_dir,
                                                                             'overlays')
    test_cfg.custom_hooks = [dict(type='RefinedMaskWriterHook', out_dir=refined_dir)]
    # the panels as tools/test.py --show-dir draws them: mmseg's hook, RefineLocalVisualizer
    test_cfg.visualizer = dict(test_cfg.visualizer, type='RefineLocalVisualizer',
                               out_dir=overlay_dir)
    test_cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=True,
                                                interval=1)
    with CheckpointGuard() as guard:  # weights_only load of our Runner checkpoint
        test_runner = Runner.from_cfg(test_cfg)
        test_runner.register_hook(guard)
        metrics = test_runner.test()

    print(f'\nval split of {args.data_root} ({args.num_val} images), '
          f'{time.time() - start:.0f} s in all:')
    print(report(metrics))
    print(f'\nrefined masks: {refined_dir}\noverlays (image | coarse | refined | GT): '
          f'{overlay_dir}\ncheckpoint: {checkpoint}')


if __name__ == '__main__':
    main()
