"""Runtime against quality of the refiners on a semantic segmentation test set.

Runs, on the test split of a ResidualRefiner config, the UNet baseline (the refiner's frozen
baseline), the ResidualRefiner with each number of steps of ``--steps`` (from noise level
``--t-level``) and, with ``--segrefiner-config``/``--segrefiner-checkpoint``, SegRefiner on the
baseline's label map (:func:`segrefiner.apis.refine_label_map`) with each of those step counts
that its schedule allows (1..T, T = 6 for the released model). For each it reports mIoU, mAcc,
aAcc, boundary F1 (``--bound-th`` pixels), per-class accuracy and the mean wall-clock
milliseconds per image (preprocessing, all network evaluations and post-processing, after
``--warmup`` untimed calls).

Outputs in ``--out``: ``runtime_quality.md`` (the table, also printed), ``runtime_quality.json``
and ``runtime_quality.png`` (mIoU and boundary F1 against ms per image), written atomically.

Usage::

    python tools/analysis_tools/runtime_quality.py \\
        configs/residual_refiner/residual-refiner_unet-s5-d16-fcn_4xb4-20k_oxford-pets-256x256.py \\
        work_dirs/residual_refiner_pets/iter_20000.pth --steps 1 3 5 10 20 \\
        --segrefiner-config configs/segrefiner/segrefiner_demo_cpu.py \\
        --segrefiner-checkpoint work_dirs/segrefiner_demo_cpu/iter_300.pth \\
        --out work_dirs/runtime_quality
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from segrefiner.apis import init_refiner  # noqa: E402
from study import (add_evaluation_arguments, add_segrefiner_arguments,  # noqa: E402
                   build_test_dataset, check_segrefiner_arguments, evaluate_methods,
                   load_study_config, require_file, require_segrefiner_files,
                   residual_refiner_method, results_table, segmentor_method, segrefiner_method,
                   study_main, write_study)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='ResidualRefiner config (its test split is used)')
    parser.add_argument('checkpoint', help='ResidualRefiner checkpoint')
    parser.add_argument('--steps', type=int, nargs='+', default=[1, 3, 5, 10, 20],
                        help='numbers of refinement steps to measure')
    parser.add_argument('--t-level', type=int,
                        help='starting noise level (default: the config\'s test_cfg.t_level)')
    add_segrefiner_arguments(parser, steps=False)
    add_evaluation_arguments(parser, out='work_dirs/runtime_quality')
    args = parser.parse_args(argv)
    check_segrefiner_arguments(parser, args)
    return args


def plot_runtime_quality(results: Dict[str, dict], steps: Dict[str, int], title: str):
    """Two panels, mIoU and boundary F1 against ms per image; one line per refiner.

    Args:
        results (dict): :func:`evaluate_methods` results by method name.
        steps (dict): method name → number of steps (the baseline has none).
        title (str): figure title.

    Returns:
        matplotlib.figure.Figure: the figure.
    """
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    families: Dict[str, List[str]] = {}
    for name in results:
        if name in steps:
            families.setdefault(name.rsplit('@', 1)[0], []).append(name)
    for ax, key, label in zip(axes, ('mIoU', 'mBF'), ('mIoU (%)', 'boundary F1 (%)')):
        for family, names in families.items():
            xs = [results[n]['ms_per_image'] for n in names]
            ys = [results[n][key] for n in names]
            ax.plot(xs, ys, marker='o', label=family)
            for n, x, y in zip(names, xs, ys):
                ax.annotate(str(steps[n]), (x, y), textcoords='offset points', xytext=(4, 4),
                            fontsize=8)
        if 'baseline' in results:
            ax.plot(results['baseline']['ms_per_image'], results['baseline'][key], marker='*',
                    markersize=14, color='black', linestyle='none', label='UNet baseline')
        ax.set_xlabel('ms per image')
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(title + ' (labels: refinement steps)')
    figure.tight_layout()
    return figure


def run(args: argparse.Namespace) -> dict:
    """Measure every method and write the outputs; returns the results by method."""
    require_file(args.config, 'ResidualRefiner config')
    require_file(args.checkpoint, 'ResidualRefiner checkpoint')
    require_segrefiner_files(args)
    cfg = load_study_config(args.config, args.cfg_options, 'runtime_quality')
    model = init_refiner(cfg, args.checkpoint, device=args.device)
    t_level = args.t_level if args.t_level is not None else model.test_cfg.t_level
    for s in args.steps:  # validate every step count before the long run
        model.merge_test_cfg(dict(num_steps=s, t_level=t_level))

    methods = dict(baseline=segmentor_method(model.baseline))
    steps: Dict[str, int] = {}
    for s in args.steps:
        methods[f'residual@{s}'] = residual_refiner_method(model, s, t_level, args.seed)
        steps[f'residual@{s}'] = s
    skipped = []
    if args.segrefiner_config:
        segrefiner = init_refiner(args.segrefiner_config, args.segrefiner_checkpoint,
                                  device=args.device)
        max_steps = segrefiner.decode_head.num_timesteps
        for s in args.steps:
            if 1 <= s <= max_steps:
                methods[f'segrefiner@{s}'] = segrefiner_method(model.baseline, segrefiner, s,
                                                              args.seed)
                steps[f'segrefiner@{s}'] = s
            else:
                skipped.append(s)
    dataset = build_test_dataset(cfg, args.max_images)
    print(f'{len(dataset)} test images, {len(methods)} methods, t_level={t_level}')
    results = evaluate_methods(dataset, methods, bound_th=args.bound_th, warmup=args.warmup)
    table = results_table(results, {'steps': steps})
    print('\n' + table)
    if skipped:
        print(f'SegRefiner skipped for steps {skipped} (its schedule has '
              f'{max_steps} steps)')
    figure = plot_runtime_quality(results, steps, osp.basename(args.config))
    write_study(args.out, 'runtime_quality', table,
                dict(config=args.config, checkpoint=args.checkpoint, t_level=t_level,
                     bound_th=args.bound_th, results=results), figure)
    return results


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    return study_main(run, parse_args, argv)


if __name__ == '__main__':
    sys.exit(main())
