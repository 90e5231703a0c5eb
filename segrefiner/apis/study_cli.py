"""Command-line plumbing shared by the semantic study scripts.

``scripts/ablation.py``, ``scripts/runtime_quality.py`` and ``scripts/sam_compare.py`` take
the same evaluation options, check their input files alike, load their config alike, plot
bars of mIoU and boundary F1 alike and write their outputs alike; this module holds that once.
The studies themselves are built on :mod:`segrefiner.apis.semantic`.
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger

from .semantic import save_study

#: ``--cfg-options`` help of a study on a ResidualRefiner config.
CFG_OPTIONS_HELP = 'overrides of the ResidualRefiner config, key=value'


def require_file(path: str, what: str) -> None:
    """``FileNotFoundError`` naming ``what`` and ``path`` if ``path`` is not a file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')


def add_segrefiner_arguments(parser: argparse.ArgumentParser, steps: bool = True) -> None:
    """``--segrefiner-config``, ``--segrefiner-checkpoint`` and (``steps``)
    ``--segrefiner-steps``; see :func:`check_segrefiner_arguments`."""
    parser.add_argument('--segrefiner-config', help='SegRefiner (Refiner) config')
    parser.add_argument('--segrefiner-checkpoint', help='SegRefiner checkpoint')
    if steps:
        parser.add_argument('--segrefiner-steps', type=int, default=6,
                            help='SegRefiner reverse steps')


def add_evaluation_arguments(parser: argparse.ArgumentParser, out: str,
                             cfg_options_help: str = CFG_OPTIONS_HELP) -> None:
    """The options of :func:`~segrefiner.apis.evaluate_methods` runs: ``--max-images``,
    ``--bound-th``, ``--warmup``, ``--seed``, ``--device``, ``--out`` (default ``out``) and
    ``--cfg-options``."""
    parser.add_argument('--max-images', type=int, help='use the first N test images only')
    parser.add_argument('--bound-th', type=int, default=2,
                        help='boundary F1 tolerance in pixels')
    parser.add_argument('--warmup', type=int, default=1, help='untimed calls per method')
    parser.add_argument('--seed', type=int, default=0, help='seed of the diffusion noise')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--out', default=out, help='output folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help=cfg_options_help)


def check_segrefiner_arguments(parser: argparse.ArgumentParser,
                               args: argparse.Namespace) -> None:
    """A usage error unless the SegRefiner config and checkpoint are given together."""
    if bool(args.segrefiner_config) != bool(args.segrefiner_checkpoint):
        parser.error('--segrefiner-config and --segrefiner-checkpoint go together')


def require_segrefiner_files(args: argparse.Namespace) -> None:
    """:func:`require_file` for the SegRefiner config and checkpoint, if given."""
    if args.segrefiner_config:
        require_file(args.segrefiner_config, 'SegRefiner config')
        require_file(args.segrefiner_checkpoint, 'SegRefiner checkpoint')


def load_study_config(path: str, cfg_options: Optional[dict], logger_name: str) -> Config:
    """The config at ``path`` with ``cfg_options`` merged in.

    A WARNING-level logger named ``logger_name`` becomes the current one first (once per
    name), so the metrics' tables are not logged for every method.
    """
    if not MMLogger.check_instance_created(logger_name):  # quiet the metric tables
        MMLogger.get_instance(logger_name, log_level='WARNING')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def plot_metric_bars(results: Dict[str, dict], title: str, rotation: float = 15,
                     baseline_lines: bool = False):
    """Grouped bars of mIoU and boundary F1 per method.

    Args:
        results (dict): :func:`~segrefiner.apis.evaluate_methods` results by method name.
        title (str): axes title.
        rotation (float): rotation of the method names. Defaults to 15.
        baseline_lines (bool): draw the ``'baseline'`` method's values as dashed lines.
            Defaults to False.

    Returns:
        matplotlib.figure.Figure: the figure.
    """
    import matplotlib.pyplot as plt

    names = list(results)
    x = np.arange(len(names))
    figure, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 4))
    for offset, key, label in ((-0.2, 'mIoU', 'mIoU'), (0.2, 'mBF', 'boundary F1')):
        bars = ax.bar(x + offset, [results[n][key] for n in names], width=0.4, label=label)
        ax.bar_label(bars, fmt='%.1f', fontsize=7)
        if baseline_lines and 'baseline' in results:
            ax.axhline(results['baseline'][key], color=bars.patches[0].get_facecolor(),
                       linestyle='--', linewidth=0.8)
    ax.set_xticks(x, names, rotation=rotation)
    ax.set_ylabel('%')
    ax.set_title(title)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def write_study(out_dir: str, name: str, table: str, summary: dict, figure,
                also_written: Sequence[str] = ()) -> Dict[str, str]:
    """:func:`~segrefiner.apis.save_study`, close ``figure`` and print what was written.

    Args:
        also_written (Sequence[str]): further outputs named in the printed line.

    Returns:
        dict[str, str]: the paths of :func:`~segrefiner.apis.save_study`.
    """
    import matplotlib.pyplot as plt

    paths = save_study(out_dir, name, table, summary, figure)
    plt.close(figure)
    print('written: ' + ', '.join([*paths.values(), *also_written]))
    return paths


def study_main(run: Callable[[argparse.Namespace], object],
               parse_args: Callable[[Optional[List[str]]], argparse.Namespace],
               argv: Optional[List[str]] = None) -> int:
    """``run(parse_args(argv))``; a missing file is an ``error:`` line on stderr and exit
    code 1.

    Returns:
        int: the process exit code.
    """
    try:
        run(parse_args(argv))
    except FileNotFoundError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0
