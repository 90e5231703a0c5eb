"""LVIS-style mask AP and boundary AP of instance results (``docs/metrics.md``, 'Boundary IoU'
and 'Mask AP and boundary AP').

Mask AP is the ``lvis`` package's ``LVISEval`` (federated rules, 300 detections per image, IoU
0.50:0.95, area and frequency groups). Boundary AP is the definition of lvis-api's
``lvis_challenge_2021`` branch, which PyPI's ``lvis`` 0.5.3 lacks: the same evaluation with
every (detection, GT) IoU replaced by ``min(mask IoU, boundary IoU)``, where the boundary of a
mask is :func:`~segrefiner.evaluation.functional.mask_to_boundary` of the full-image mask
(band width ``dilation_ratio`` × image diagonal, the image edge counting as background) and the
boundary IoU is pycocotools' RLE IoU of the two boundaries.

A detection's area (which decides APs/APm/APl, and whether it takes part at all: LVIS keeps
only ``0 < area``) is, as in lvis-api's ``results.py`` (master and that branch), the area
``w·h`` of its ``bbox`` when it has one (mmdet's segm.json always does), so a detection with an
empty mask is a false positive; a detection without a box has its mask's area and the mask's
box. (lvis-api decides once, from the first result, for all; here each detection decides, which
is the same whenever all or none carry a box.) ``det_area='mask'`` uses the mask area always.
"""
import contextlib
import logging
import warnings
from collections import Counter
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils
from lvis import LVIS, LVISEval, LVISResults
from mmengine.logging import print_log
from prettytable import PrettyTable

from ..functional import mask_to_boundary
from .coco_results import check_results, load_json, load_results, segmentation_to_rle

#: IoU types of :class:`LVISInstanceEval`.
IOU_TYPES = ('segm', 'boundary')
#: Names of the IoU types in tables.
IOU_TYPE_NAMES = dict(segm='mask AP', boundary='boundary AP')
#: Detection area rules: ``'box'`` (lvis-api: ``w·h`` of the bbox if any, else the mask area)
#: or ``'mask'`` (the mask area always).
DET_AREAS = ('box', 'mask')
#: Keys of the summary, in ``LVISEval.summarize`` order.
SUMMARY_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')


@contextlib.contextmanager
def numpy_float_alias() -> Iterator[None]:
    """``np.float`` (= ``float``) while lvis runs, removed again afterwards.

    PyPI ``lvis`` 0.5.3's ``LVISEval.accumulate`` calls ``.astype(np.float)``, an alias numpy
    1.24 removed. It is set only around the lvis calls of this module, so importing
    :mod:`segrefiner` changes nothing in numpy. Re-entrant; an ``np.float`` that was present
    before is left as it was.
    """
    if 'float' in np.__dict__:
        yield
        return
    np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        np.__dict__.pop('float', None)


class LVISDict(LVIS):
    """``lvis.LVIS`` built from an already parsed annotation dict (no second file read).

    Args:
        dataset (dict): an LVIS annotation file's content.
    """

    def __init__(self, dataset: dict) -> None:
        self.logger = logging.getLogger(LVIS.__module__)
        self.dataset = dataset
        with numpy_float_alias():
            self._create_index()


def load_lvis_gt(path: str) -> LVIS:
    """Read an LVIS-format GT file (e.g. ``scripts/lvis2coco.py``'s output) and index it.

    Args:
        path (str): the annotation JSON.

    Returns:
        LVIS: the indexed annotations.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: invalid JSON, or not in the LVIS format (the message names the file and
            the first missing field).
    """
    data = load_json(path, 'GT file')
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if missing:
        raise ValueError(f'GT file {path} is not an LVIS annotation file: no list {missing} at '
                         'the top level')
    required = dict(
        images=('id', 'height', 'width', 'neg_category_ids', 'not_exhaustive_category_ids'),
        categories=('id', 'frequency'),
        annotations=('id', 'image_id', 'category_id', 'segmentation', 'area', 'bbox'))
    for field, keys in required.items():
        for index, entry in enumerate(data[field]):
            absent = [k for k in keys if k not in entry]
            if absent:
                raise ValueError(
                    f'GT file {path} is not an LVIS annotation file: {field}[{index}] lacks '
                    f'{absent} (LVIS needs {list(keys)}; scripts/lvis2coco.py writes LVIS v1 '
                    'val in this format)')
    return LVISDict(data)


def _ids_text(ids: Counter, limit: int = 10) -> str:
    shown = ', '.join(str(i) for i in sorted(ids)[:limit])
    return shown + (f', ... ({len(ids)} ids)' if len(ids) > limit else '')


def filter_to_gt(results: Sequence[dict], gt: LVIS, source: str = 'results',
                 logger: Optional[Union[str, logging.Logger]] = None) -> List[dict]:
    """Drop the detections whose image or category is not in the GT, saying which.

    Args:
        results (Sequence[dict]): checked detections (:func:`check_results`).
        gt (LVIS): the GT.
        source (str): name of the results in messages.
        logger (str | Logger, optional): where the warning goes (mmengine ``print_log``;
            None prints).

    Returns:
        list[dict]: the detections of known images and categories.
    """
    unknown_images = Counter(d['image_id'] for d in results if d['image_id'] not in gt.imgs)
    unknown_cats = Counter(d['category_id'] for d in results
                           if d['image_id'] in gt.imgs and d['category_id'] not in gt.cats)
    for counts, what in ((unknown_images, 'images'), (unknown_cats, 'categories')):
        if counts:
            print_log(f'{sum(counts.values())} detections of {source} refer to {what} that are '
                      f'not in the GT and are skipped (ids {_ids_text(counts)})',
                      logger=logger, level=logging.WARNING)
    return [d for d in results if d['image_id'] in gt.imgs and d['category_id'] in gt.cats]


def prepare_results(results: Sequence[dict], gt: LVIS, source: str = 'results',
                    det_area: str = 'box') -> List[dict]:
    """Copies of the detections with compressed-RLE masks at their image's size, a box (from
    the mask if missing) and an ``area``.

    Args:
        results (Sequence[dict]): checked detections of GT images (:func:`filter_to_gt`).
        gt (LVIS): the GT (for the image sizes).
        source (str): name of the results in messages.
        det_area (str): ``'box'``: the box area ``w·h`` of a detection with a ``bbox``, the mask
            area of one without (lvis-api's ``LVISResults``); ``'mask'``: the mask area.

    Returns:
        list[dict]: ``image_id``, ``category_id``, ``score``, ``segmentation`` (RLE),
        ``bbox`` (xywh) and ``area`` of each detection.

    Raises:
        ValueError: a mask whose size differs from its image's (naming the detection), or an
            unknown ``det_area``.
    """
    if det_area not in DET_AREAS:
        raise ValueError(f'det_area must be one of {DET_AREAS}, got {det_area!r}')
    prepared = []
    for index, det in enumerate(results):
        image = gt.imgs[det['image_id']]
        try:
            rle = segmentation_to_rle(det['segmentation'], image['height'], image['width'])
        except (ValueError, TypeError) as error:
            raise ValueError(f'{source}: detection #{index} (image {det["image_id"]}): '
                             f'{error}') from error
        bbox = det.get('bbox')
        if bbox is not None and det_area == 'box':
            area = float(bbox[2]) * float(bbox[3])
        else:
            area = float(mask_utils.area(rle))
        prepared.append(dict(
            image_id=det['image_id'], category_id=det['category_id'],
            score=float(det['score']), segmentation=rle,
            bbox=[float(v) for v in (mask_utils.toBbox(rle) if bbox is None else bbox)],
            area=area))
    return prepared


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence a logger below ERROR and its deprecation warnings (``LVISResults`` warns about
    in-memory results through the deprecated ``Logger.warn``)."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            yield
    finally:
        log.setLevel(level)


def build_lvis_results(gt: LVIS, results: List[dict], max_dets: int = 300) -> LVISResults:
    """``LVISResults`` of prepared detections (:func:`prepare_results`), their ``area`` kept
    (``LVISResults`` would give every detection its box area, as all prepared ones have a box).

    Args:
        gt (LVIS): the GT.
        results (list[dict]): prepared detections; not modified.
        max_dets (int): detections kept per image, by score.

    Returns:
        LVISResults: the indexed detections (ids 1, 2, ...).
    """
    if not results:
        raise ValueError('no detections to evaluate: none refers to an image and a category '
                         'of the GT')
    with _quiet(LVISResults.__module__), numpy_float_alias():
        dt = LVISResults(gt, [dict(d, prepared_area=d['area']) for d in results],
                         max_dets=max_dets)
    for ann in dt.dataset['annotations']:
        ann['area'] = ann.pop('prepared_area')
    return dt


class LVISInstanceEval(LVISEval):
    """``lvis.LVISEval`` for masks: mask AP (``'segm'``) or boundary AP (``'boundary'``).

    For ``'boundary'`` the IoU of a (detection, GT) pair is ``min(mask IoU, boundary IoU)``
    (LVIS challenge 2021); matching, accumulation and summaries are ``LVISEval``'s. Boundaries
    are computed once per annotation, only for the (image, category) pairs that have both
    detections and GT.

    Args:
        lvis_gt (LVIS): the GT.
        lvis_dt (LVISResults): the detections.
        iou_type (str): ``'segm'`` or ``'boundary'``.
        dilation_ratio (float): boundary band width as a fraction of the image diagonal.

    Examples:
        >>> ev = LVISInstanceEval(gt, dt, 'boundary')  # doctest: +SKIP
        >>> ev.run(); ev.get_results()['AP']            # doctest: +SKIP
    """

    def __init__(self, lvis_gt: LVIS, lvis_dt: LVISResults, iou_type: str = 'segm',
                 dilation_ratio: float = 0.02) -> None:
        if iou_type not in IOU_TYPES:
            raise ValueError(f'iou_type must be one of {IOU_TYPES}, got {iou_type!r}')
        with numpy_float_alias():
            super().__init__(lvis_gt, lvis_dt, iou_type='segm')
        self.iou_type = iou_type
        self.dilation_ratio = dilation_ratio
        self._boundaries: Dict[tuple, dict] = {}

    def _boundary(self, ann: dict, source: str) -> dict:
        key = (source, ann['id'])
        if key not in self._boundaries:
            mask = mask_utils.decode(ann['segmentation'])
            band = mask_to_boundary(mask, self.dilation_ratio)
            self._boundaries[key] = mask_utils.encode(
                np.asfortranarray(band[..., None].astype(np.uint8)))[0]
        return self._boundaries[key]

    def run(self) -> None:
        """``LVISEval.run`` (evaluate, accumulate, summarize) with ``np.float`` for lvis."""
        with numpy_float_alias():
            super().run()

    def accumulate(self) -> None:
        """``LVISEval.accumulate`` (which uses ``np.float``)."""
        with numpy_float_alias():
            super().accumulate()

    def compute_iou(self, img_id: int, cat_id: int):
        """IoUs (num_dt, num_gt) of one image and category, detections by decreasing score."""
        ious = super().compute_iou(img_id, cat_id)
        if self.iou_type == 'segm' or len(ious) == 0:
            return ious
        gt, dt = self._get_gt_dt(img_id, cat_id)
        order = np.argsort([-d['score'] for d in dt], kind='mergesort')
        boundary_ious = mask_utils.iou([self._boundary(dt[i], 'dt') for i in order],
                                       [self._boundary(g, 'gt') for g in gt], [0] * len(gt))
        return np.minimum(ious, boundary_ious)


def evaluate_instances(gt: Union[str, LVIS],
                       results: Union[str, Sequence[dict]],
                       iou_types: Sequence[str] = ('segm', 'boundary'),
                       dilation_ratio: float = 0.02,
                       max_dets: int = 300,
                       logger: Optional[Union[str, logging.Logger]] = None,
                       det_area: str = 'box') -> Dict[str, Dict[str, float]]:
    """LVIS mask AP and/or boundary AP of instance results.

    Detections whose image or category is not in the GT are skipped with a warning that says
    how many and which ids (SegRefiner's ``eval_json.py`` filters them silently).

    Args:
        gt (str | LVIS): LVIS-format GT file (e.g. LVIS v1 val restricted to COCO, written by
            ``scripts/lvis2coco.py``) or an indexed ``LVIS`` (whose polygons ``LVISEval``
            converts to RLE in place).
        results (str | Sequence[dict]): COCO results file or the detections themselves.
        iou_types (Sequence[str]): any of ``'segm'`` and ``'boundary'``.
        dilation_ratio (float): boundary band width as a fraction of the image diagonal.
        max_dets (int): detections kept per image, by score.
        logger (str | Logger, optional): for the skipped-detections warning.
        det_area (str): area of a detection (APs/m/l, and LVIS keeps only ``0 < area``):
            ``'box'`` (lvis-api's rule): ``w·h`` of its ``bbox``, the mask area if it has
            none; ``'mask'``: the mask area.

    Returns:
        dict[str, dict[str, float]]: per IoU type, ``LVISEval``'s results (``AP``, ``AP50``,
        ``AP75``, ``APs/m/l``, ``APr/c/f``, ``AR@300``, ...), fractions in [0, 1] or -1 where
        nothing was evaluated.
    """
    bad = [t for t in iou_types if t not in IOU_TYPES]
    if bad or not iou_types:
        raise ValueError(f'iou_types must be a non-empty subset of {IOU_TYPES}, got '
                         f'{list(iou_types)}')
    if det_area not in DET_AREAS:
        raise ValueError(f'det_area must be one of {DET_AREAS}, got {det_area!r}')
    gt_api = load_lvis_gt(gt) if isinstance(gt, str) else gt
    if isinstance(results, str):
        source, dets = results, load_results(results)
    else:
        source, dets = 'results', check_results(list(results), 'results')
    dets = prepare_results(filter_to_gt(dets, gt_api, source, logger), gt_api, source, det_area)
    dt_api = build_lvis_results(gt_api, dets, max_dets)
    evaluated = {}
    for iou_type in iou_types:
        with numpy_float_alias():
            lvis_eval = LVISInstanceEval(gt_api, dt_api, iou_type, dilation_ratio)
            lvis_eval.params.max_dets = max_dets
            lvis_eval.run()
            evaluated[iou_type] = {k: float(v) for k, v in lvis_eval.get_results().items()}
    return evaluated


def ap_table(evaluated: Dict[str, Dict[str, float]],
             keys: Sequence[str] = SUMMARY_KEYS) -> str:
    """A table of :func:`evaluate_instances`' results in percent, one column per IoU type
    (``-`` where nothing was evaluated, e.g. no rare category)."""
    table = PrettyTable()
    table.add_column('metric', list(keys))
    for iou_type, values in evaluated.items():
        table.add_column(IOU_TYPE_NAMES.get(iou_type, iou_type),
                         ['-' if values[k] < 0 else f'{100 * values[k]:.1f}' for k in keys])
    table.align = 'r'
    return table.get_string()
