"""Instance results in the COCO results format: reading, checking, RLE conversion, writing.

A results file is a JSON list with one dict per detection::

    {"image_id": int, "category_id": int, "score": float,
     "segmentation": RLE dict {"size": [H, W], "counts": str} or polygons [[x, y, ...], ...],
     "bbox": [x, y, w, h]}                                  # optional

(what mmdet's ``CocoMetric`` writes as ``*.segm.json`` and what detectors' result files hold).
"""
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import mmengine
import mmengine.fileio as fileio
import numpy as np
import pycocotools.mask as mask_utils
from mmdet.structures.mask import encode_mask_results
from mmengine.structures import InstanceData

from ...utils.io import write_bytes_atomic

#: The keys every detection of a segmentation results file must have.
RESULT_KEYS = ('image_id', 'category_id', 'segmentation', 'score')
#: A COCO ``segmentation``: polygons (list of flat xy lists) or an RLE dict.
Segmentation = Union[List[List[float]], Dict[str, Any]]


def load_json(path: str, what: str, backend_args: Optional[dict] = None) -> Any:
    """Parse a JSON file; errors name the file and its role.

    Args:
        path (str): file path or URI.
        what (str): role of the file in messages, e.g. ``'results file'``.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not valid JSON.
    """
    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        return mmengine.load(path, file_format='json', backend_args=backend_args)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f'{what} {path} is not valid JSON ({error})') from error


def check_results(results: Any, source: str) -> List[dict]:
    """Check that ``results`` is a list of detections in the COCO results format.

    Args:
        results: the parsed JSON.
        source (str): where it came from (file name), for messages.

    Returns:
        list[dict]: ``results`` itself.

    Raises:
        ValueError: naming ``source``, the first bad detection's index and the problem
        (not a list, a missing key, a non-numeric score or id, a malformed segmentation/bbox).
    """
    if not isinstance(results, list):
        raise ValueError(f'{source} is not in the COCO results format: expected a list of '
                         f'detections, got {type(results).__name__}')
    for index, det in enumerate(results):
        where = f'{source}: detection #{index}'
        if not isinstance(det, dict):
            raise ValueError(f'{where} is a {type(det).__name__}, not a dict')
        missing = [key for key in RESULT_KEYS if key not in det]
        if missing:
            raise ValueError(f'{where} lacks the keys {missing} (a segmentation result needs '
                             f'{list(RESULT_KEYS)}, bbox optional)')
        for key in ('image_id', 'category_id'):
            if isinstance(det[key], bool) or not isinstance(det[key], (int, np.integer)):
                raise ValueError(f'{where}: {key} must be an int, got {det[key]!r}')
        if isinstance(det['score'], bool) or not isinstance(det['score'], (int, float)):
            raise ValueError(f'{where}: score must be a number, got {det["score"]!r}')
        segmentation = det['segmentation']
        if isinstance(segmentation, dict):
            if not {'size', 'counts'} <= set(segmentation) or len(segmentation['size']) != 2:
                raise ValueError(f'{where}: an RLE segmentation needs "size" [H, W] and '
                                 f'"counts", got keys {sorted(segmentation)}')
        elif not (isinstance(segmentation, list)
                  and all(isinstance(p, list) for p in segmentation)):
            raise ValueError(f'{where}: segmentation must be an RLE dict or a list of '
                             'polygons')
        bbox = det.get('bbox')
        if bbox is not None and (not isinstance(bbox, (list, tuple)) or len(bbox) != 4):
            raise ValueError(f'{where}: bbox must be [x, y, w, h], got {bbox!r}')
    return results


def load_results(path: str, backend_args: Optional[dict] = None) -> List[dict]:
    """Read and check a COCO results file (:func:`check_results`)."""
    return check_results(load_json(path, 'results file', backend_args), path)


def segmentation_to_rle(segmentation: Segmentation, height: int, width: int) -> dict:
    """Compressed RLE (``counts`` as str) of polygons, uncompressed or compressed RLE.

    The package's one conversion of COCO segmentations (pycocotools' ``frPyObjects`` and
    ``merge``); ``coco_segmentation_to_mask`` decodes its output. Polygons with fewer than 3
    points are dropped (pycocotools would read a 4-number polygon as a box); no polygon left
    gives an empty mask.

    Args:
        segmentation (list | dict): the COCO segmentation.
        height (int): image height.
        width (int): image width.

    Returns:
        dict: ``{'size': [height, width], 'counts': str}``.

    Raises:
        ValueError: an RLE whose size is not (height, width).
    """
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if len(p) >= 6]
        if polygons:
            rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
        else:
            rle = mask_utils.encode(np.zeros((height, width, 1), np.uint8, order='F'))[0]
    else:
        if [int(v) for v in segmentation['size']] != [height, width]:
            raise ValueError(f'RLE of size {list(segmentation["size"])} does not match the '
                             f'image size {[height, width]}')
        if isinstance(segmentation['counts'], list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = dict(segmentation)
    counts = rle['counts']
    return dict(size=[height, width],
                counts=counts.decode('ascii') if isinstance(counts, bytes) else counts)


def encode_masks(masks: np.ndarray) -> List[dict]:
    """Compressed RLEs (``counts`` as str) of a stack of binary masks.

    mmdet's ``encode_mask_results`` (pycocotools ``encode``), with the counts decoded to str as
    mmdet's ``CocoMetric`` does before writing JSON.

    Args:
        masks (np.ndarray): (N, H, W) bool/0-1 masks.

    Returns:
        list[dict]: N RLE dicts ``{'size': [H, W], 'counts': str}``.
    """
    rles = encode_mask_results(masks)
    for rle in rles:
        rle['counts'] = rle['counts'].decode('ascii')
    return rles


def instances_to_results(instances: Union[InstanceData, Mapping], image_id: int,
                         cat_ids: Sequence[int]) -> List[dict]:
    """COCO results of one image's instances.

    Args:
        instances (InstanceData | dict): ``masks`` (N, H, W) bool tensor, ``bboxes`` (N, 4) xyxy,
            ``scores`` (N,) and ``labels`` (N,) indices into ``cat_ids``.
        image_id (int): the image's id.
        cat_ids (Sequence[int]): category id of each label.

    Returns:
        list[dict]: N detections with ``image_id``, ``category_id``, ``bbox`` (xywh),
        ``score`` and ``segmentation`` (compressed RLE with str counts).
    """
    masks = instances['masks'].detach().cpu().numpy().astype(bool)
    bboxes = instances['bboxes'].detach().cpu().numpy().astype(float)
    scores = instances['scores'].detach().cpu().numpy().astype(float)
    labels = instances['labels'].detach().cpu().numpy()
    results = []
    for rle, (x1, y1, x2, y2), score, label in zip(encode_masks(masks), bboxes, scores, labels):
        results.append(dict(image_id=int(image_id), category_id=int(cat_ids[int(label)]),
                            bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                            score=float(score),
                            segmentation=rle))
    return results


def dump_results(results: Sequence[Mapping], path: str) -> None:
    """Write detections as a JSON list atomically (a temporary file, then a rename)."""
    write_bytes_atomic(path, json.dumps(list(results)).encode('utf-8'))
