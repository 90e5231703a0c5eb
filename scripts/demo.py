"""The CPU demo: train a small SegRefiner on synthetic data, then the bundled refiner on real
photographs.

1. generates ``data/synthetic`` (skipped when it already exists with the same parameters);
2. trains ``configs/segrefiner/segrefiner_demo_cpu.py`` on the CPU;
3. refines every synthetic val image from its coarse mask (refined masks and image | coarse |
   refined | GT panels under ``work_dirs/demo/``) and prints coarse vs refined pooled IoU, mBA
   and boundary F;
4. refines the real photographs of ``data/real`` (three DAVIS frames) with the refiner bundled
   in the package (``init_refiner()``), from coarse masks of several kinds, and prints coarse
   vs refined per kind (``benchmarks/bench_real.py``; panels under ``work_dirs/demo/real``).

The terminal shows a progress bar per stage and the result tables; mmengine's logs (config,
hook listing, per-iteration lines) go to the log file in each run's work dir.

    python scripts/demo.py [--iters 300] [--work-dir work_dirs/demo]
"""
import argparse
import contextlib
import importlib.util
import io
import os.path as osp
import time
import warnings
from typing import Iterator

from mmengine.runner import Runner

from segrefiner.datasets.generators import generate_synthetic_dataset
from segrefiner.utils.checkpoint import CheckpointGuard
from segrefiner.utils.run_config import load_run_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIG = osp.join(ROOT, 'configs', 'segrefiner', 'segrefiner_demo_cpu.py')
REAL_DIR = osp.join(ROOT, 'data', 'real')
#: Coarse kinds of the real-image stage (``bench_real.COARSE_KINDS``).
REAL_KINDS = ('down8', 'dilate5', 'erode5', 'polygon')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'synthetic'))
    parser.add_argument('--iters', type=int, help='training iterations (default: config)')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--size', type=int, nargs=2, default=(160, 160), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--real-dir', default=REAL_DIR,
                        help='NAME_image.png / NAME_mask.png pairs for stage 4 ("" skips it)')
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


class _Discard(io.TextIOBase):
    """A text stream that drops what is written to it."""

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def logs_to_file_only() -> Iterator[None]:
    """Build a Runner inside: its logger's console handler is bound to a stream that drops
    everything, so its lines reach only the work dir's log file (the ``ProgressBarHook`` draws
    on the terminal)."""
    with contextlib.redirect_stdout(_Discard()), warnings.catch_warnings():
        # mmseg's note that a visualization hook with draw=False draws nothing
        warnings.filterwarnings('ignore', message='The draw is False')
        yield


def quiet(cfg) -> None:
    """The terminal gets progress bars instead of log lines (see :func:`logs_to_file_only`)."""
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='ProgressBarHook')]


def load_bench_real():
    """``benchmarks/bench_real.py`` as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location('bench_real',
                                                  osp.join(ROOT, 'benchmarks', 'bench_real.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    args = parse_args()
    start = time.time()
    print(f'[1/4] synthetic data in {args.data_root}', flush=True)
    generate_synthetic_dataset(args.data_root, num_train=args.num_train, num_val=args.num_val,
                               size=tuple(args.size), seed=args.seed)

    print('\n[2/4] training the demo refiner on the CPU', flush=True)
    roots = {f'{split}_dataloader.dataset.data_root': args.data_root
             for split in ('train', 'val', 'test')}
    if args.iters:
        roots['train_cfg.max_iters'] = args.iters
    cfg = load_run_config(CONFIG, roots, osp.join(args.work_dir, 'train'))
    # no validation loop: mmengine's IterBasedTrainLoop validates after the last iteration
    # whatever val_interval says, which refined the 40 val images once more before stage 3
    # does (a third of the time of a 12-iteration run, measured with cProfile)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    quiet(cfg)
    with logs_to_file_only():
        runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    print(f'log: {runner.log_dir}', flush=True)

    print('\n[3/4] refining the synthetic val split', flush=True)
    test_cfg = load_run_config(CONFIG, roots, osp.join(args.work_dir, 'test'))
    test_cfg.load_from = checkpoint
    refined_dir, overlay_dir = osp.join(args.work_dir, 'refined'), osp.join(args.work_dir,
                                                                             'overlays')
    test_cfg.custom_hooks = [dict(type='RefinedMaskWriterHook', out_dir=refined_dir)]
    quiet(test_cfg)
    # the panels as tools/test.py --show-dir draws them: mmseg's hook, RefineLocalVisualizer
    test_cfg.visualizer = dict(test_cfg.visualizer, type='RefineLocalVisualizer',
                               out_dir=overlay_dir)
    test_cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=True,
                                                interval=1)
    with CheckpointGuard() as guard:  # weights_only load of our Runner checkpoint
        with logs_to_file_only():
            test_runner = Runner.from_cfg(test_cfg)
        test_runner.register_hook(guard)
        with logs_to_file_only():  # mmengine's "Loads checkpoint ..." line goes to the log
            test_runner.load_or_resume()
        metrics = test_runner.test()
    print(f'\nsynthetic val split ({args.num_val} images), coarse vs refined:')
    print(report(metrics))
    print(f'refined masks: {refined_dir}\noverlays (image | coarse | refined | GT): '
          f'{overlay_dir}\ncheckpoint: {checkpoint}')

    if args.real_dir:
        print(f'\n[4/4] the bundled refiner on the real photographs of {args.real_dir}',
              flush=True)
        real_out = osp.join(args.work_dir, 'real')
        load_bench_real().main([args.real_dir, '--modes', 'auto', '--kinds', *REAL_KINDS,
                                '--seed', str(args.seed), '--out-dir', real_out,
                                '--json', osp.join(real_out, 'bench_real.json')])
        print(f'panels (image | coarse | refined | GT): {real_out}')
    print(f'\ndone in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
