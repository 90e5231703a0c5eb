"""The harness of the semantic segmentation studies in this folder.

``ablation.py``, ``runtime_quality.py`` and ``sam_compare.py`` compare *methods* (a dataset item
→ a label map) on the test split of a config; this module holds what they share (the scripts
import it as ``study``, their folder being on ``sys.path``):

* methods: :func:`segmentor_method`, :func:`residual_refiner_method` and
  :func:`segrefiner_method` (SegRefiner on the baseline's label map,
  :func:`segrefiner.apis.refine_label_map`), on the items of :func:`build_test_dataset`;
* scoring: :func:`evaluate_methods` runs, scores and times the methods; the scores come from an
  mmengine ``Evaluator`` (:func:`build_evaluator`) with mmseg's ``IoUMetric`` (mIoU, mAcc, aAcc
  and the per-class values) and segrefiner's ``BoundaryF1Metric`` (boundary F1);
* outputs: :func:`results_table` (Markdown), :func:`save_study` (table, JSON and plot, written
  atomically), :func:`plot_metric_bars`;
* command-line plumbing: the shared options (:func:`add_evaluation_arguments`,
  :func:`add_segrefiner_arguments`), input checks (:func:`require_file`), config loading
  (:func:`load_study_config`) and the entry point (:func:`study_main`).
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.utils import track_iter_progress
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS
from torch import nn

from segrefiner.apis import refine_label_map
from segrefiner.evaluation import BoundaryF1Metric
from segrefiner.utils.io import write_bytes_atomic, write_figure_atomic

#: A method of a study: a dataset item (``dict(inputs, data_samples)``) → (H, W) label map at
#: the item's original size.
Method = Callable[[dict], np.ndarray]
#: ``--cfg-options`` help of a study on a ResidualRefiner config.
CFG_OPTIONS_HELP = 'overrides of the ResidualRefiner config, key=value'


# --------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------
def build_test_dataset(cfg: Config, max_images: Optional[int] = None):
    """The dataset of ``cfg.test_dataloader``, optionally cut to its first ``max_images``.

    Args:
        cfg (Config): a loaded config (its ``custom_imports`` must be imported).
        max_images (int, optional): keep the first images only.

    Returns:
        BaseSegDataset: the test dataset with its test pipeline.
    """
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    if max_images is not None:
        dataset_cfg['indices'] = max_images
    return DATASETS.build(dataset_cfg)


@torch.no_grad()
def predict_label_map(model: nn.Module, data: dict, **predict_kwargs) -> np.ndarray:
    """Run an mmseg segmentor on one dataset item.

    Args:
        model (nn.Module): a segmentor with its data preprocessor (``EncoderDecoder``,
            ``ResidualRefiner``...).
        data (dict): a dataset item, ``dict(inputs=Tensor, data_samples=SegDataSample)``; it
            is not modified.
        **predict_kwargs: extra arguments of ``model.predict`` (e.g. ``test_cfg``,
            ``generator`` of a ResidualRefiner).

    Returns:
        np.ndarray: (H, W) int64 label map at the item's original size.
    """
    batch = model.data_preprocessor(pseudo_collate([copy.deepcopy(data)]), False)
    result = model.predict(batch['inputs'], batch['data_samples'], **predict_kwargs)[0]
    return result.pred_sem_seg.data[0].cpu().numpy().astype(np.int64)


def segmentor_method(model: nn.Module) -> Method:
    """A method running an mmseg segmentor (e.g. the UNet baseline) as configured."""
    return lambda data: predict_label_map(model, data)


def residual_refiner_method(model: nn.Module, num_steps: int, t_level: int,
                            seed: int = 0) -> Method:
    """A method running a ResidualRefiner with ``num_steps`` steps from level ``t_level``.

    The starting noise of every image is drawn from a generator seeded with ``seed``.
    """
    device = next(model.parameters()).device

    def run(data: dict) -> np.ndarray:
        generator = torch.Generator(device=device).manual_seed(seed)
        return predict_label_map(model, data, test_cfg=dict(num_steps=num_steps,
                                                            t_level=t_level),
                                 generator=generator)

    return run


def segrefiner_method(baseline: nn.Module, refiner: nn.Module, steps: int,
                      seed: int = 0) -> Method:
    """A method refining the baseline's label map with SegRefiner (:func:`refine_label_map`).

    The image is read at its original size from the item's ``img_path``; the time of a call
    covers the baseline, the file read and the refinement.
    """

    def run(data: dict) -> np.ndarray:
        label_map = predict_label_map(baseline, data)
        image = mmcv.imread(data['data_samples'].img_path)
        return refine_label_map(refiner, image, label_map, steps=steps, seed=seed)

    return run


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------
class ClassIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` that also returns the per-class values it logs.

    Besides ``aAcc``, ``mIoU`` and ``mAcc``: ``IoU`` and ``Acc`` (per-class accuracy,
    ``Acc_c = |P_c ∩ G_c| / |G_c|``), dicts class name → percentage with 2 decimals, NaN for a
    class absent from the predictions and the GT.
    """

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        areas = [sum(values) for values in zip(*results)]
        per_class = self.total_area_to_metrics(*areas, metrics=self.metrics)
        for key in ('IoU', 'Acc'):
            metrics[key] = {c: float(np.round(v * 100, 2))
                            for c, v in zip(self.dataset_meta['classes'], per_class[key])}
        return metrics


def build_evaluator(classes: Sequence[str], bound_th: int = 2,
                    ignore_index: int = 255) -> Evaluator:
    """An ``Evaluator`` of label maps: mIoU, accuracies and boundary F1.

    * aAcc, mIoU, mAcc and the per-class IoU and accuracy: mmseg's ``IoUMetric``
      (:class:`ClassIoUMetric`), dataset-level sums of the per-image class histograms;
    * mBF: :class:`~segrefiner.evaluation.BoundaryF1Metric` with a pixel tolerance, the
      per-class F1 averaged over images, then over classes.

    Pixels whose GT is ``ignore_index`` are left out. Give it :func:`label_map_sample`'s and
    read it with :func:`compute_scores`.

    Args:
        classes (Sequence[str]): class names (index = label).
        bound_th (int): boundary tolerance in pixels (>= 1). Defaults to 2.
        ignore_index (int): GT label of ignored pixels. Defaults to 255.

    Returns:
        Evaluator: the evaluator, its ``dataset_meta`` set.
    """
    if bound_th < 1:
        raise ValueError(f'bound_th must be a pixel tolerance (>= 1), got {bound_th}')
    evaluator = Evaluator([
        ClassIoUMetric(ignore_index=ignore_index, iou_metrics=['mIoU']),
        BoundaryF1Metric(bound_th=bound_th, ignore_index=ignore_index)
    ])
    evaluator.dataset_meta = dict(classes=tuple(classes))
    return evaluator


def label_map_sample(pred: Union[np.ndarray, torch.Tensor],
                     gt: Union[np.ndarray, torch.Tensor]) -> dict:
    """The data sample of one image's (H, W) prediction and GT label maps for an evaluator."""
    pred, gt = torch.as_tensor(pred), torch.as_tensor(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction of size {tuple(pred.shape)} differs from the GT of '
                         f'size {tuple(gt.shape)}')
    return dict(pred_sem_seg=dict(data=pred.long()[None]), gt_sem_seg=dict(data=gt.long()[None]))


def compute_scores(evaluator: Evaluator, size: int) -> dict:
    """The scores of the ``size`` images given to a :func:`build_evaluator` evaluator.

    Its results are cleared (``Evaluator.evaluate``).

    Returns:
        dict: ``aAcc``, ``mIoU``, ``mAcc``, ``mBF`` (percentages with 2 decimals) and ``IoU``,
        ``Acc`` (dicts class name → percentage).
    """
    if not evaluator.metrics[0].results:
        raise ValueError('no image was scored')
    metrics = evaluator.evaluate(size)
    scores = {key: float(metrics[key]) for key in ('aAcc', 'mIoU', 'mAcc', 'mBF')}
    return dict(scores, IoU=metrics['IoU'], Acc=metrics['Acc'])


def evaluate_methods(dataset, methods: Dict[str, Method], bound_th: int = 2,
                     warmup: int = 1, progress: bool = True,
                     callback: Optional[Callable[[int, dict, Dict[str, np.ndarray]], None]] = None
                     ) -> Dict[str, dict]:
    """Score and time several methods on every image of a dataset.

    Each image is loaded once and given to every method; a method's time is the wall-clock
    time of its calls (preprocessing, network evaluations, post-processing), averaged over the
    images. ``warmup`` untimed, unscored calls on the first image come first, so one-off costs
    (allocations, lazy initialisation) do not count.

    Args:
        dataset (BaseSegDataset): items with ``gt_sem_seg`` (e.g. :func:`build_test_dataset`).
        methods (dict[str, Callable]): name → method (item → (H, W) label map).
        bound_th (int): boundary F1 tolerance in pixels. Defaults to 2.
        warmup (int): untimed calls per method before the run. Defaults to 1.
        progress (bool): show a progress bar. Defaults to True.
        callback (Callable, optional): called after each image with its index, the item and
            the methods' label maps (e.g. to draw overlays). Defaults to None.

    Returns:
        dict[str, dict]: per method, :func:`compute_scores`'s scores plus ``ms_per_image``
        and ``images``.
    """
    if not len(dataset):
        raise ValueError('the dataset is empty')
    classes = dataset.metainfo['classes']
    ignore_index = getattr(dataset, 'ignore_index', 255)
    evaluators = {name: build_evaluator(classes, bound_th, ignore_index) for name in methods}
    seconds = dict.fromkeys(methods, 0.0)
    first = dataset[0]
    for method in methods.values():
        for _ in range(warmup):
            method(first)
    indices: List[int] = list(range(len(dataset)))
    for i in (track_iter_progress(indices) if progress else indices):
        data = first if i == 0 else dataset[i]
        gt = data['data_samples'].gt_sem_seg.data[0]
        preds = {}
        for name, method in methods.items():
            start = time.perf_counter()
            preds[name] = method(data)
            seconds[name] += time.perf_counter() - start
            evaluators[name].process([label_map_sample(preds[name], gt)])
        if callback is not None:
            callback(i, data, preds)
    return {
        name: dict(compute_scores(evaluators[name], len(dataset)),
                   ms_per_image=round(1000 * seconds[name] / len(dataset), 2),
                   images=len(dataset))
        for name in methods
    }


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------
def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table; floats with 2 decimals.

    Example:
        >>> print(format_table(['method', 'mIoU'], [['baseline', 61.234]]))
        | method | mIoU |
        |---|---|
        | baseline | 61.23 |
    """
    def cell(value) -> str:
        return f'{value:.2f}' if isinstance(value, float) else str(value)

    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)


def results_table(results: Dict[str, dict],
                  columns: Optional[Dict[str, Dict[str, object]]] = None) -> str:
    """A Markdown table of :func:`evaluate_methods` results, one row per method.

    Columns: method, the extra ``columns`` (header → method → value), mIoU, mAcc, aAcc, mBF,
    the per-class accuracies ``Acc.<class>`` and ``ms/img``.
    """
    columns = columns or {}
    classes = list(next(iter(results.values()))['Acc']) if results else []
    header = (['method'] + list(columns) + ['mIoU', 'mAcc', 'aAcc', 'mBF'] +
              [f'Acc.{c}' for c in classes] + ['ms/img'])
    rows = []
    for name, res in results.items():
        rows.append([name] + [values.get(name, '-') for values in columns.values()] +
                    [res[k] for k in ('mIoU', 'mAcc', 'aAcc', 'mBF')] +
                    [res['Acc'][c] for c in classes] + [res['ms_per_image']])
    return format_table(header, rows)


def save_study(out_dir: str, name: str, table: str, results: dict,
               figure=None) -> Dict[str, str]:
    """Write ``<name>.md`` (the table), ``<name>.json`` and ``<name>.png`` (a matplotlib figure)
    into ``out_dir``, each through a temporary file and an atomic rename.

    Returns:
        dict[str, str]: the written paths by kind (``'table'``, ``'json'``, ``'plot'``).
    """
    paths = dict(table=osp.join(out_dir, f'{name}.md'), json=osp.join(out_dir, f'{name}.json'))
    write_bytes_atomic(paths['table'], (table + '\n').encode())
    write_bytes_atomic(paths['json'], json.dumps(results, indent=2, allow_nan=True).encode())
    if figure is not None:
        paths['plot'] = osp.join(out_dir, f'{name}.png')
        write_figure_atomic(paths['plot'], figure, dpi=120, close=False, bbox_inches='tight')
    return paths


def plot_metric_bars(results: Dict[str, dict], title: str, rotation: float = 15,
                     baseline_lines: bool = False):
    """Grouped bars of mIoU and boundary F1 per method.

    Args:
        results (dict): :func:`evaluate_methods` results by method name.
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


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
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
    """The options of :func:`evaluate_methods` runs: ``--max-images``, ``--bound-th``,
    ``--warmup``, ``--seed``, ``--device``, ``--out`` (default ``out``) and ``--cfg-options``."""
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


def write_study(out_dir: str, name: str, table: str, summary: dict, figure,
                also_written: Sequence[str] = ()) -> Dict[str, str]:
    """:func:`save_study`, close ``figure`` and print what was written.

    Args:
        also_written (Sequence[str]): further outputs named in the printed line.

    Returns:
        dict[str, str]: the paths of :func:`save_study`.
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
