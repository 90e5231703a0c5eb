"""Refinement of semantic label maps, and the evaluation used by the semantic studies.

* :func:`refine_label_map` runs SegRefiner (:class:`~segrefiner.models.Refiner`) on the output
  of an ordinary semantic segmentor: every class's binary mask is refined and the refined
  masks are merged back into one label map (:func:`merge_class_probs`).
* :class:`SemanticScorer` scores label maps with mmseg's ``IoUMetric`` (mIoU, per-class IoU and
  accuracy) and the project's ``BoundaryF1Metric`` (boundary F1 at a fixed pixel tolerance).
* :func:`evaluate_methods` runs several methods over a dataset, scores and times them;
  :func:`segmentor_method`, :func:`residual_refiner_method` and :func:`segrefiner_method`
  make the usual methods; :func:`results_table` and :func:`save_study` write the results.
  ``scripts/ablation.py``, ``scripts/runtime_quality.py`` and ``scripts/sam_compare.py`` are
  built on these (their shared command-line plumbing: :mod:`segrefiner.apis.study_cli`).
"""
import copy
import io
import json
import os.path as osp
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import track_iter_progress
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from torch import nn

from ..evaluation import BoundaryF1Metric
from ..utils.io import write_bytes_atomic
from .inference import _load_image

ImageType = Union[str, Path, np.ndarray]
#: A method of a study: a dataset item (``dict(inputs, data_samples)``) → (H, W) label map at
#: the item's original size.
Method = Callable[[dict], np.ndarray]


def merge_class_probs(probs: np.ndarray, class_ids: Sequence[int], baseline: np.ndarray,
                      threshold: float = 0.5) -> np.ndarray:
    """Merge per-class refined probabilities into a label map.

    Rule: a pixel is *claimed* by the classes whose refined probability is >= ``threshold``;
    among them the highest probability wins (ties: the earlier entry of ``class_ids``). Pixels
    claimed by no class keep the baseline label.

    Args:
        probs (np.ndarray): (K, H, W) refined foreground probability of each class.
        class_ids (Sequence[int]): the K class ids, in the order of ``probs``.
        baseline (np.ndarray): (H, W) baseline label map.
        threshold (float): claim threshold. Defaults to 0.5.

    Returns:
        np.ndarray: (H, W) merged label map, dtype of ``baseline``.

    Example:
        >>> probs = np.array([[[0.9, 0.6, 0.2]], [[0.7, 0.8, 0.1]]])
        >>> merge_class_probs(probs, [1, 2], np.array([[0, 0, 0]]))
        array([[1, 2, 0]])
    """
    if probs.ndim != 3 or probs.shape[0] != len(class_ids):
        raise ValueError(f'probs must be (K={len(class_ids)}, H, W), got {probs.shape}')
    if probs.shape[1:] != baseline.shape:
        raise ValueError(f'probs of size {probs.shape[1:]} do not match the baseline label map '
                         f'of size {baseline.shape}')
    out = baseline.copy()
    if not len(class_ids):
        return out
    best = probs.argmax(axis=0)
    claimed = probs.max(axis=0) >= threshold
    out[claimed] = np.asarray(class_ids, dtype=out.dtype)[best[claimed]]
    return out


@torch.no_grad()
def refine_label_map(refiner: nn.Module, image: ImageType, label_map: np.ndarray,
                     steps: int = 6, class_ids: Optional[Sequence[int]] = None,
                     seed: Optional[int] = None, threshold: float = 0.5,
                     ignore_index: int = 255) -> np.ndarray:
    """SegRefiner on a semantic label map: refine each class's binary mask, then merge.

    Each class's mask ``label_map == c`` is refined by ``refiner`` in its ``'crop'`` mode (the
    mask's box plus a margin, at the model size, ``steps`` reverse steps; all classes of the
    image in one batch) and the refined probabilities are merged by
    :func:`merge_class_probs` (highest refined probability >= ``threshold`` wins; unclaimed
    pixels keep the baseline label).

    Args:
        refiner (nn.Module): a :class:`~segrefiner.models.Refiner` (e.g. from
            :func:`~segrefiner.apis.init_refiner`).
        image (str | Path | np.ndarray): image file or (H, W, 3) uint8 BGR array.
        label_map (np.ndarray): (H, W) integer label map of the image (the baseline output).
        steps (int): reverse diffusion steps, 1..T of the refiner. Defaults to 6.
        class_ids (Sequence[int], optional): the classes to refine. Defaults to every class
            present in ``label_map`` except ``ignore_index``.
        seed (int, optional): seed of the reverse process's draws. Defaults to None.
        threshold (float): claim threshold of the merge. Defaults to 0.5.
        ignore_index (int): label that is never refined. Defaults to 255.

    Returns:
        np.ndarray: (H, W) int64 refined label map.

    Raises:
        ValueError: the label map is not 2-D or differs in size from the image.
    """
    img = _load_image(image)
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f'label_map must be a 2-D (H, W) array, got shape {label_map.shape}')
    if label_map.shape != img.shape[:2]:
        where = f' ({image})' if isinstance(image, (str, Path)) else ''
        raise ValueError(f'label map size {label_map.shape} differs from the image size '
                         f'{img.shape[:2]}{where}')
    label_map = label_map.astype(np.int64)
    if class_ids is None:
        class_ids = [int(c) for c in np.unique(label_map) if c != ignore_index]
    class_ids = [c for c in class_ids if (label_map == c).any()]
    if not class_ids:
        return label_map
    height, width = label_map.shape
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    samples = []
    for c in class_ids:
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
        sample.coarse_sem_seg = PixelData(data=torch.from_numpy(label_map == c)[None].long())
        samples.append(sample)
    data = refiner.data_preprocessor(
        dict(inputs=[inputs] * len(class_ids), data_samples=samples), False)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=data['inputs'].device).manual_seed(seed)
    results = refiner.predict(data['inputs'], data['data_samples'],
                              test_cfg=dict(mode='crop', steps=steps, area_thr=0),
                              generator=generator)
    probs = torch.stack([r.seg_logits.data[0] for r in results]).float().cpu().numpy()
    return merge_class_probs(probs, class_ids, label_map, threshold)


class SemanticScorer:
    """Scores label maps against the GT: mIoU, accuracies and boundary F1.

    * mIoU, per-class IoU and per-class accuracy (``Acc_c = |P_c ∩ G_c| / |G_c|``), mAcc and
      aAcc: mmseg's ``IoUMetric`` (``iou_metrics=['mIoU']``), dataset-level sums of the
      per-image class histograms;
    * mBF: :class:`~segrefiner.evaluation.BoundaryF1Metric` with a pixel tolerance
      (``bound_th >= 1``), the per-class F1 averaged over images, then over classes.

    All values are percentages with 2 decimals; pixels whose GT is ``ignore_index`` are left
    out.

    Args:
        classes (Sequence[str]): class names (index = label).
        bound_th (int): boundary tolerance in pixels. Defaults to 2.
        ignore_index (int): GT label of ignored pixels. Defaults to 255.
    """

    def __init__(self, classes: Sequence[str], bound_th: int = 2,
                 ignore_index: int = 255) -> None:
        if bound_th < 1:
            raise ValueError(f'bound_th must be a pixel tolerance (>= 1), got {bound_th}')
        self.classes = tuple(classes)
        meta = dict(classes=self.classes)
        self.iou = IoUMetric(ignore_index=ignore_index, iou_metrics=['mIoU'])
        self.boundary = BoundaryF1Metric(bound_th=bound_th, ignore_index=ignore_index)
        self.iou.dataset_meta = meta
        self.boundary.dataset_meta = meta

    def add(self, pred: Union[np.ndarray, torch.Tensor],
            gt: Union[np.ndarray, torch.Tensor]) -> None:
        """Add one image's (H, W) prediction and GT label maps."""
        pred, gt = torch.as_tensor(pred), torch.as_tensor(gt)
        if pred.shape != gt.shape:
            raise ValueError(f'prediction of size {tuple(pred.shape)} differs from the GT of '
                             f'size {tuple(gt.shape)}')
        sample = dict(pred_sem_seg=dict(data=pred.long()[None]),
                      gt_sem_seg=dict(data=gt.long()[None]))
        self.iou.process({}, [sample])
        self.boundary.process({}, [sample])

    def __len__(self) -> int:
        return len(self.iou.results)

    def compute(self) -> dict:
        """The scores of the images added so far.

        Returns:
            dict: ``aAcc``, ``mIoU``, ``mAcc``, ``mBF`` (floats) and ``IoU``, ``Acc``
            (dicts class name → float).
        """
        if not len(self):
            raise ValueError('no image was scored')
        areas = [sum(values) for values in zip(*self.iou.results)]
        per_class = IoUMetric.total_area_to_metrics(*areas, metrics=['mIoU'])

        def pct(value) -> float:
            return float(np.round(value * 100, 2))

        return dict(
            aAcc=pct(per_class['aAcc']),
            mIoU=pct(np.nanmean(per_class['IoU'])),
            mAcc=pct(np.nanmean(per_class['Acc'])),
            mBF=float(self.boundary.compute_metrics(self.boundary.results)['mBF']),
            IoU={c: pct(v) for c, v in zip(self.classes, per_class['IoU'])},
            Acc={c: pct(v) for c, v in zip(self.classes, per_class['Acc'])})


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
        dict[str, dict]: per method, :meth:`SemanticScorer.compute`'s scores plus
        ``ms_per_image`` and ``images``.
    """
    if not len(dataset):
        raise ValueError('the dataset is empty')
    classes = dataset.metainfo['classes']
    ignore_index = getattr(dataset, 'ignore_index', 255)
    scorers = {name: SemanticScorer(classes, bound_th, ignore_index) for name in methods}
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
            scorers[name].add(preds[name], gt)
        if callback is not None:
            callback(i, data, preds)
    return {
        name: dict(scorers[name].compute(), ms_per_image=round(1000 * seconds[name] /
                                                               len(dataset), 2),
                   images=len(dataset))
        for name in methods
    }


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
        buffer = io.BytesIO()
        figure.savefig(buffer, format='png', dpi=120, bbox_inches='tight')
        paths['plot'] = osp.join(out_dir, f'{name}.png')
        write_bytes_atomic(paths['plot'], buffer.getvalue())
    return paths
