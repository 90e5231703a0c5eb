"""Helpers shared by the metrics: reading label maps from data samples, tables, percentages."""
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
from prettytable import PrettyTable

from ..functional.utils import as_2d


def get_label_map(sample, key: str, required: bool = True) -> Optional[np.ndarray]:
    """The (H, W) numpy label map of ``sample[key]['data']`` ((1, H, W) tensor or array).

    ``sample`` is a dict (``SegDataSample.to_dict()``, what the Evaluator passes) or a data
    element with attribute access. Returns None for a missing optional field.
    """
    if isinstance(sample, dict):
        field = sample.get(key)
    else:
        field = getattr(sample, key, None) if key in sample else None
    if field is None:
        if required:
            raise KeyError(f'the data sample has no "{key}"')
        return None
    data = field['data'] if isinstance(field, dict) else field.data
    return as_2d(data, f'{key}.data')


def check_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str = 'gt_sem_seg') -> None:
    if a.shape != b.shape:
        raise ValueError(f'{name_a} has shape {tuple(a.shape)} but {name_b} has shape '
                         f'{tuple(b.shape)}; metrics compare them pixel by pixel, so they must '
                         f'be at the same resolution')


def void_mask(gt: np.ndarray, ignore_index: Optional[int]) -> Optional[np.ndarray]:
    """Bool mask of the GT's void pixels (``gt == ignore_index``); None when there are none
    (or ``ignore_index`` is None), so callers can skip the masking."""
    if ignore_index is None:
        return None
    void = gt == ignore_index
    return void if void.any() else None


def refined_and_coarse(sample, gt: np.ndarray) -> Dict[str, Optional[np.ndarray]]:
    """The label maps a refinement metric scores: ``{'refined': pred_sem_seg, 'coarse':
    coarse_sem_seg}`` of ``sample``; the prediction is required, the coarse input optional
    (None when absent). Each must have the shape of ``gt`` (:func:`check_shape`)."""
    maps = {}
    for kind, key in (('refined', 'pred_sem_seg'), ('coarse', 'coarse_sem_seg')):
        label = get_label_map(sample, key, required=kind == 'refined')
        if label is not None:
            check_shape(label, gt, key)
        maps[kind] = label
    return maps


def present_classes(label_maps: Iterable[np.ndarray], num_classes: int) -> np.ndarray:
    """Bool (num_classes,): which class ids in ``[0, num_classes)`` occur in any of the maps."""
    present = np.zeros(num_classes, bool)
    for m in label_maps:
        v = m.ravel()
        if v.dtype == bool:
            v = v.view(np.uint8)
        try:
            counts = np.bincount(v, minlength=num_classes)
        except (ValueError, TypeError):  # negative or non-integer values are no class
            v = v[(v >= 0) & (v < num_classes)].astype(np.int64)
            counts = np.bincount(v, minlength=num_classes)
        present |= counts[:num_classes] > 0
    return present


def percent(x) -> float:
    """``x`` in [0, 1] → percentage rounded to 2 decimals (mmseg's convention); NaN stays NaN."""
    return float(np.round(float(x) * 100, 2))


def tolerance_tag(bound_th: float) -> str:
    """Key suffix of a boundary tolerance: ``'2px'`` for pixels, ``'0.008'`` for a ratio."""
    return f'{int(bound_th)}px' if bound_th >= 1 else f'{bound_th:g}'


def make_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A PrettyTable string; floats printed with 2 decimals."""
    table = PrettyTable()
    table.field_names = list(header)
    for row in rows:
        table.add_row([f'{v:.2f}' if isinstance(v, float) else v for v in row])
    return table.get_string()


def nanmean(values: Sequence[float]) -> float:
    """Mean ignoring NaN; NaN (without a warning) when nothing is left."""
    a = np.asarray(values, dtype=np.float64)
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else float('nan')


def class_names(dataset_meta: Optional[dict], metric: str) -> List[str]:
    if not dataset_meta or 'classes' not in dataset_meta:
        raise ValueError(f'{metric} needs dataset_meta["classes"] (set by the Runner from the '
                         f'dataset, or assign metric.dataset_meta yourself)')
    return list(dataset_meta['classes'])


def selected_classes(dataset_meta: Optional[dict], class_ids: Optional[List[int]],
                     metric: str) -> List[int]:
    """The class ids a metric scores: ``class_ids``, checked against the dataset's classes,
    or all of them when None."""
    names = class_names(dataset_meta, metric)
    if class_ids is None:
        return list(range(len(names)))
    bad = [c for c in class_ids if not 0 <= c < len(names)]
    if bad:
        raise ValueError(f'class_ids {bad} are not classes of the dataset ({len(names)})')
    return class_ids


def check_aggregation(aggregation: str) -> None:
    """``ValueError`` unless ``aggregation`` is ``'image'`` or ``'pooled'``."""
    if aggregation not in ('image', 'pooled'):
        raise ValueError(f"aggregation must be 'image' or 'pooled', got {aggregation!r}")
