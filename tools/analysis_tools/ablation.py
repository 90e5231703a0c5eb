"""Ablation of the ResidualRefiner's inputs, next to the UNet baseline and SegRefiner.

What the image, the logits and the noisy probabilities are worth to the refiner, next to the
UNet baseline and SegRefiner on the same output.

For each mode of ``--modes`` (``full``, ``no_image``, ``no_logits``, ``no_probs``; the
ResidualRefiner's ``model.mode``) the script takes the checkpoint given with
``--checkpoints MODE=PATH`` or, for the others, trains one with ``tools/train.py`` (the config
with ``model.mode=MODE``, into ``--work-dir/MODE``; ``--train-iters`` shortens the schedule).
Every mode is then evaluated on the config's test split with the same number of steps and
noise level, beside the frozen UNet baseline and, with ``--segrefiner-config`` and
``--segrefiner-checkpoint``, SegRefiner on the baseline's label map. All modes must share the same
baseline weights (the checkpoint of the baseline's ``init_cfg``); a warning is printed otherwise.

Reported: mIoU, mAcc, aAcc, boundary F1 (``--bound-th`` pixels), per-class accuracy, ms per
image, and the change of mIoU and boundary F1 against the baseline. Outputs in ``--out``:
``ablation.md`` (the table, also printed), ``ablation.json`` and ``ablation.png`` (bars of mIoU
and boundary F1), written atomically.

Usage::

    python tools/analysis_tools/ablation.py \\
        configs/residual_refiner/residual-refiner_unet-s5-d16-fcn_4xb4-20k_oxford-pets-256x256.py \\
        --checkpoints full=work_dirs/rr_full/iter_20000.pth \\
        --work-dir work_dirs/ablation --out work_dirs/ablation
"""
import argparse
import copy
import logging
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

import matplotlib

matplotlib.use('Agg')
import torch  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from segrefiner.apis import init_refiner  # noqa: E402
from segrefiner.models.segmentors.residual_refiner import MODES  # noqa: E402
from segrefiner.utils.checkpoint import CheckpointMismatchError  # noqa: E402
from study import (add_evaluation_arguments, add_segrefiner_arguments,  # noqa: E402
                   build_test_dataset, check_segrefiner_arguments, evaluate_methods,
                   load_study_config, plot_metric_bars, require_file, require_segrefiner_files,
                   residual_refiner_method, results_table, segmentor_method, segrefiner_method,
                   study_main, write_study)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='ResidualRefiner config (the mode is overridden)')
    parser.add_argument('--modes', nargs='+', default=list(MODES), choices=list(MODES),
                        help='ablation modes to compare')
    parser.add_argument('--checkpoints', nargs='+', default=[], metavar='MODE=PATH',
                        help='trained checkpoints; modes without one are trained')
    parser.add_argument('--work-dir', default='work_dirs/ablation',
                        help='where modes without a checkpoint are trained (WORK_DIR/MODE)')
    parser.add_argument('--train-iters', type=int,
                        help='training iterations of the trained modes (default: the config)')
    parser.add_argument('--num-steps', type=int,
                        help='refinement steps (default: the config\'s test_cfg.num_steps)')
    parser.add_argument('--t-level', type=int,
                        help='starting noise level (default: the config\'s test_cfg.t_level)')
    add_segrefiner_arguments(parser)
    add_evaluation_arguments(parser, out='work_dirs/ablation',
                             cfg_options_help='overrides of the config, key=value (also used '
                             'for training)')
    args = parser.parse_args(argv)
    check_segrefiner_arguments(parser, args)
    checkpoints = {}
    for item in args.checkpoints:
        mode, sep, path = item.partition('=')
        if not sep or mode not in MODES:
            parser.error(f'--checkpoints takes MODE=PATH with MODE in {list(MODES)}, '
                         f'got {item!r}')
        checkpoints[mode] = path
    args.checkpoints = checkpoints
    return args


def format_cfg_options(options: Optional[dict]) -> List[str]:
    """``--cfg-options`` dict → ``key=value`` strings for ``tools/train.py``."""

    def value(v) -> str:
        if isinstance(v, (list, tuple)):
            return '[' + ','.join(value(x) for x in v) + ']'
        return str(v)

    return [f'{k}={value(v)}' for k, v in (options or {}).items()]


def train_mode(config: str, mode: str, work_dir: str, train_iters: Optional[int],
               cfg_options: Optional[dict]) -> str:
    """Train one mode with ``tools/train.py`` and return its last checkpoint.

    Raises:
        RuntimeError: training failed (the end of its output is included).
    """
    options = [f'model.mode={mode}'] + format_cfg_options(cfg_options)
    if train_iters is not None:
        options += [f'train_cfg.max_iters={train_iters}', f'train_cfg.val_interval={train_iters}',
                    f'default_hooks.checkpoint.interval={train_iters}']
    command = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
               work_dir, '--cfg-options'] + options
    print(f'training mode {mode!r} into {work_dir} ...', flush=True)
    proc = subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                              filter(None, [ROOT, os.environ.get('PYTHONPATH')]))))
    if proc.returncode != 0:
        raise RuntimeError(f'training mode {mode!r} failed:\n{proc.stderr[-3000:]}')
    last = osp.join(work_dir, 'last_checkpoint')
    require_file(last, f'last checkpoint record of mode {mode!r}')
    with open(last) as f:
        return f.read().strip()


def plot_ablation(results: Dict[str, dict], title: str):
    """Grouped bars of mIoU and boundary F1 per method, the baseline as a dashed line."""
    return plot_metric_bars(results, title, rotation=20, baseline_lines=True)


def same_baseline(models: Dict[str, torch.nn.Module]) -> bool:
    """Whether every model holds the same baseline weights."""
    states = [m.baseline.state_dict() for m in models.values()]
    return all(
        all(torch.equal(state[k], states[0][k]) for k in states[0]) for state in states[1:])


def run(args: argparse.Namespace) -> dict:
    """Train the missing modes, evaluate every method and write the outputs."""
    require_file(args.config, 'ResidualRefiner config')
    for mode, path in args.checkpoints.items():
        require_file(path, f'checkpoint of mode {mode!r}')
    require_segrefiner_files(args)
    checkpoints = dict(args.checkpoints)
    for mode in args.modes:
        if mode not in checkpoints:
            checkpoints[mode] = train_mode(args.config, mode, osp.join(args.work_dir, mode),
                                           args.train_iters, args.cfg_options)

    cfg = load_study_config(args.config, args.cfg_options, 'ablation')
    models = {}
    for mode in args.modes:
        try:
            models[mode] = init_refiner(copy.deepcopy(cfg), checkpoints[mode],
                                        device=args.device, cfg_options={'model.mode': mode})
        except CheckpointMismatchError as error:
            raise RuntimeError(f'checkpoint {checkpoints[mode]} does not fit mode {mode!r}: '
                               f'{str(error).splitlines()[0]}') from error
    first = models[args.modes[0]]
    if not same_baseline(models):
        print_log('the modes hold different baselines; the baseline row is that of mode '
                  f'{args.modes[0]!r}', logger='current', level=logging.WARNING)
    num_steps = args.num_steps or first.test_cfg.num_steps
    t_level = args.t_level if args.t_level is not None else first.test_cfg.t_level

    methods = dict(baseline=segmentor_method(first.baseline))
    for mode, model in models.items():
        model.merge_test_cfg(dict(num_steps=num_steps, t_level=t_level))
        methods[f'residual[{mode}]'] = residual_refiner_method(model, num_steps, t_level,
                                                               args.seed)
    if args.segrefiner_config:
        segrefiner = init_refiner(args.segrefiner_config, args.segrefiner_checkpoint,
                                  device=args.device)
        methods[f'segrefiner@{args.segrefiner_steps}'] = segrefiner_method(
            first.baseline, segrefiner, args.segrefiner_steps, args.seed)
    dataset = build_test_dataset(cfg, args.max_images)
    print(f'{len(dataset)} test images, {len(methods)} methods, {num_steps} steps from '
          f'level {t_level}')
    results = evaluate_methods(dataset, methods, bound_th=args.bound_th, warmup=args.warmup)
    base = results['baseline']
    columns = {
        'mode': {f'residual[{m}]': m for m in models},
        'ΔmIoU': {n: round(r['mIoU'] - base['mIoU'], 2) for n, r in results.items()},
        'ΔmBF': {n: round(r['mBF'] - base['mBF'], 2) for n, r in results.items()},
    }
    table = results_table(results, columns)
    print('\n' + table)
    figure = plot_ablation(results, f'ResidualRefiner ablation ({num_steps} steps from level '
                           f'{t_level})')
    write_study(args.out, 'ablation', table,
                dict(config=args.config, checkpoints=checkpoints, num_steps=num_steps,
                     t_level=t_level, bound_th=args.bound_th, results=results), figure)
    return results


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    return study_main(run, parse_args, argv)


if __name__ == '__main__':
    sys.exit(main())
