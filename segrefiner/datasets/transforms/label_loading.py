"""Loading of multi-class GT label maps (Oxford-IIIT Pets trimaps, COCO person masks).

Both transforms raise errors that name the file and the problem: a missing or undecodable file,
a label map whose size differs from its image's, unexpected label values, or person annotations
that rasterise to nothing.
"""
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS
from pycocotools import mask as mask_utils

from ...evaluation.instance.coco_results import Segmentation, segmentation_to_rle
from .border_class import add_border_class
from .loading import _decode_image, _read_bytes, add_seg_field

def _check_image_size(results: dict, shape: Sequence[int], what: str) -> None:
    """Raise if ``shape`` differs from the loaded image's original (H, W)."""
    ori_shape = results.get('ori_shape')
    if ori_shape is not None and tuple(shape) != tuple(ori_shape[:2]):
        raise ValueError(f'{what} has size (H, W)={tuple(shape)} but image '
                         f'{results.get("img_path")} has size {tuple(ori_shape[:2])}')


def apply_label_map(label: np.ndarray, label_map: Optional[dict]) -> np.ndarray:
    """Relabel a (H, W) map by the dataset's ``label_map`` (old id → new id), as mmseg does.

    ``label`` is relabelled in place (each id is looked up in the original values) and returned.
    """
    if label_map is None:
        return label
    raw = label.copy()
    for old_id, new_id in label_map.items():
        label[raw == old_id] = new_id
    return label


@TRANSFORMS.register_module()
class LoadCheckedAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` with input checks.

    Decoding and label mapping are mmseg's: the file is decoded ``'unchanged'`` to an (H, W)
    uint8 map, then the data item's ``reduce_zero_label`` and ``label_map`` are applied in that
    order. Before mapping, the transform checks that

    - the file exists (``FileNotFoundError``) and decodes to a 2-D map (``ValueError``);
    - its size equals the original size of the image loaded before it (``ori_shape``), so it
      must come after the image loader (and may come after ``Resize`` in test pipelines);
    - with ``valid_values``, every raw value is one of them (e.g. ``(1, 2, 3)`` for the Oxford-IIIT
      Pets trimaps).

    Required Keys:

    - seg_map_path
    - reduce_zero_label, label_map (from the dataset)
    - ori_shape, img_path (optional; for the size check and messages)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W))
    - seg_fields (``'gt_seg_map'`` appended)

    Args:
        valid_values (Sequence[int], optional): the raw values a file may contain. Defaults to
            None (any value).
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """

    def __init__(self,
                 valid_values: Optional[Sequence[int]] = None,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(backend_args=backend_args, imdecode_backend=imdecode_backend)
        self.valid_values = None if valid_values is None else sorted(int(v) for v in valid_values)

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        data = _read_bytes(path, 'annotation', self.backend_args)
        label = _decode_image(data, f'annotation file {path}', 'unchanged',
                              self.imdecode_backend).squeeze()
        if label.ndim != 2:
            raise ValueError(f'annotation file {path} must hold a single-channel label map, '
                             f'got shape {label.shape}')
        _check_image_size(results, label.shape, f'annotation file {path}')
        if self.valid_values is not None:
            bad = np.setdiff1d(np.unique(label), self.valid_values)
            if bad.size:
                raise ValueError(f'annotation file {path} holds values {bad.tolist()} outside '
                                 f'the valid values {self.valid_values}')
        label = label.astype(np.uint8)
        if results.get('reduce_zero_label', False):
            label[label == 0] = 255
            label = label - 1
            label[label == 254] = 255
        results['gt_seg_map'] = apply_label_map(label, results.get('label_map'))
        add_seg_field(results, 'gt_seg_map')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(valid_values={self.valid_values}, '
                f'imdecode_backend={self.imdecode_backend!r}, backend_args={self.backend_args})')


def coco_segmentation_to_mask(segmentation: Segmentation, height: int, width: int) -> np.ndarray:
    """Rasterise a COCO ``segmentation`` (polygons, uncompressed or compressed RLE).

    The package's one polygon/RLE conversion: pycocotools' ``decode`` of
    :func:`~segrefiner.evaluation.instance.coco_results.segmentation_to_rle` (polygons with
    fewer than 3 points are dropped, since pycocotools would read a 4-number polygon as a box;
    an RLE must have the image's size).

    Args:
        segmentation (list | dict): the annotation's ``segmentation``.
        height (int): image height.
        width (int): image width.

    Returns:
        np.ndarray: (H, W) bool mask.

    Raises:
        ValueError: an RLE whose size is not (height, width).
    """
    return mask_utils.decode(segmentation_to_rle(segmentation, height, width)).astype(bool)


@TRANSFORMS.register_module()
class LoadCOCOHumansAnnotations(BaseTransform):
    """Rasterise a COCO-Humans item's person annotations into a 3-class label map.

    Labels: 0 background, 1 person (union of the non-crowd person masks), 2 border (the band of
    half-width ``border_radius`` around the person union's contour, see
    :func:`~segrefiner.datasets.transforms.border_class.border_band`; default 2, a 4-pixel band
    straddling the contour). Crowd person regions (``iscrowd=1``) that are neither person nor
    border are ``ignore_index``.

    Required Keys:

    - person_segmentations (list of COCO segmentations), crowd_segmentations
    - height, width (from the annotation file), ann_file
    - ori_shape, img_path (optional; the image must have the annotated size)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W))
    - seg_fields (``'gt_seg_map'`` appended)

    Args:
        border_radius (int): border band half-width in pixels. Defaults to 2.
        ignore_index (int): label of crowd regions. Defaults to 255.
    """

    def __init__(self, border_radius: int = 2, ignore_index: int = 255) -> None:
        if border_radius < 1:
            raise ValueError(f'border_radius must be >= 1, got {border_radius}')
        self.border_radius = border_radius
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        """Rasterise the person and crowd masks and build the label map.

        Args:
            results (dict): result dict of a :class:`COCOHumansDataset` item.

        Returns:
            dict: the dict with ``gt_seg_map``.
        """
        height, width = results['height'], results['width']
        where = f'{results.get("img_path")} (annotations: {results.get("ann_file")})'
        _check_image_size(results, (height, width), f'the annotated size of {where}')

        def union(segmentations: List[Segmentation]) -> np.ndarray:
            mask = np.zeros((height, width), bool)
            for segmentation in segmentations:
                try:
                    mask |= coco_segmentation_to_mask(segmentation, height, width)
                except (KeyError, TypeError, ValueError, AttributeError) as error:
                    raise ValueError(f'invalid person segmentation of {where}: {error}') \
                        from error
            return mask

        person = union(results['person_segmentations'])
        if not person.any():
            raise ValueError(f'the person annotations of {where} rasterise to an empty mask')
        label = np.zeros((height, width), np.uint8)
        label[union(results['crowd_segmentations'])] = self.ignore_index
        label[person] = 1
        results['gt_seg_map'] = add_border_class(label, person, self.border_radius, 2,
                                                 self.ignore_index)
        add_seg_field(results, 'gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(border_radius={self.border_radius}, '
                f'ignore_index={self.ignore_index})')
