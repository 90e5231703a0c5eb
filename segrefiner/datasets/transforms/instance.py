"""Instance-level transforms: one random instance as the GT mask (LR training) and the coarse
instances of a detector's results (instance refinement).

Both read mmdet-style ``results['instances']``: a list of dicts with ``mask`` (a COCO
segmentation: polygons or RLE), ``bbox`` ([x1, y1, x2, y2]) and ``bbox_label``, plus ``score``
for detections; ``height`` and ``width`` are the annotated image size.
"""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from .label_loading import _check_image_size, coco_segmentation_to_mask
from .loading import add_seg_field


def _decode(instance: dict, height: int, width: int, where: str) -> np.ndarray:
    """(H, W) bool mask of an instance; ``ValueError`` naming ``where`` if it is malformed."""
    try:
        return coco_segmentation_to_mask(instance['mask'], height, width)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f'invalid instance mask of {where}: {type(error).__name__}: '
                         f'{error}') from error


def _where(results: dict) -> str:
    """The image and the file its instances come from (results file or annotations)."""
    source = results.get('coarse_file') or results.get('ann_file', '?')
    return f'{results.get("img_path")} (from {source})'


@TRANSFORMS.register_module()
class LoadRandomInstanceMask(BaseTransform):
    """Draw one instance uniformly at random and rasterise it as the binary GT mask.

    SegRefiner's LR training (``docs/segrefiner.md``, 'LR training (LVIS objects)') refines one
    object per image and draw,
    class-agnostically: every time an image is loaded, a new instance is chosen (numpy's global
    RNG, like mmseg's random transforms, so the Runner's seed makes it reproducible).

    Required Keys:

    - instances (list[dict] with ``mask``; at least one)
    - height, width
    - ori_shape, img_path (optional; the image must have the annotated size)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W), {0, 1})
    - seg_fields (``'gt_seg_map'`` appended)
    - instance_index (int): index of the chosen instance in ``instances``
    """

    @cache_randomness
    def choose(self, num: int) -> int:
        """Index of the instance to use among ``num``."""
        return int(np.random.randint(num))

    def transform(self, results: dict) -> dict:
        """Rasterise one random instance into ``gt_seg_map``.

        Args:
            results (dict): result dict with ``instances``, ``height`` and ``width``.

        Returns:
            dict: the dict with ``gt_seg_map`` and ``instance_index``.
        """
        instances = results.get('instances') or []
        if not instances:
            raise ValueError(f'{_where(results)} has no instance to train on; the dataset '
                             'should have filtered it out')
        height, width = results['height'], results['width']
        _check_image_size(results, (height, width), f'the annotated size of {_where(results)}')
        index = self.choose(len(instances))
        mask = _decode(instances[index], height, width, _where(results))
        results['gt_seg_map'] = mask.astype(np.uint8)
        results['instance_index'] = index
        add_seg_field(results, 'gt_seg_map')
        return results


@TRANSFORMS.register_module()
class LoadCoarseInstances(BaseTransform):
    """Decode all coarse instances of an image (a detector's masks) at full resolution.

    Required Keys:

    - instances (list[dict] with ``mask``, ``bbox``, ``bbox_label`` and ``score``)
    - height, width
    - ori_shape, img_path (optional; the image must have the annotated size)

    Added Keys:

    - coarse_masks (:obj:`mmdet.structures.mask.BitmapMasks`, N × H × W uint8)
    - coarse_bboxes (np.float32, (N, 4), x1 y1 x2 y2)
    - coarse_scores (np.float32, (N,))
    - coarse_labels (np.int64, (N,))
    """

    def transform(self, results: dict) -> dict:
        """Decode the masks and stack the boxes, scores and labels.

        Args:
            results (dict): result dict with ``instances``, ``height`` and ``width``.

        Returns:
            dict: the dict with the four ``coarse_*`` keys.
        """
        instances = results.get('instances') or []
        height, width = results['height'], results['width']
        _check_image_size(results, (height, width), f'the annotated size of {_where(results)}')
        masks = np.zeros((len(instances), height, width), np.uint8)
        for index, instance in enumerate(instances):
            masks[index] = _decode(instance, height, width, f'{_where(results)}, #{index}')
        results['coarse_masks'] = BitmapMasks(masks, height, width)
        results['coarse_bboxes'] = np.array([i['bbox'] for i in instances],
                                            np.float32).reshape(-1, 4)
        results['coarse_scores'] = np.array([i['score'] for i in instances], np.float32)
        results['coarse_labels'] = np.array([i['bbox_label'] for i in instances], np.int64)
        return results


@TRANSFORMS.register_module()
class PackInstanceRefineInputs(PackSegInputs):
    """Pack an image and its coarse instances for the Refiner's ``'instance'`` mode.

    Output: ``dict(inputs=Tensor, data_samples=SegDataSample)`` where

    - ``inputs``: (3, H, W) uint8 image tensor (channel order as loaded, BGR by default);
    - ``data_samples.coarse_instances``: :obj:`InstanceData` with ``masks`` (N, H, W) bool,
      ``bboxes`` (N, 4) float32 xyxy, ``scores`` (N,) float32 and ``labels`` (N,) int64;
    - metainfo: the ``meta_keys`` found in ``results`` (``img_id`` identifies the image in the
      COCO results).

    Required Keys:

    - img
    - coarse_masks, coarse_bboxes, coarse_scores, coarse_labels (:class:`LoadCoarseInstances`)

    Args:
        meta_keys (Sequence[str]): results keys copied into the metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'img_id', 'ori_shape', 'img_shape',
                                             'pad_shape', 'scale_factor', 'flip',
                                             'flip_direction')) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): result dict of the pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        if 'coarse_masks' not in results:
            raise KeyError('PackInstanceRefineInputs needs results["coarse_masks"]; add '
                           f'LoadCoarseInstances to the pipeline of {results.get("img_path")}')
        packed = super().transform(results)
        packed['data_samples'].coarse_instances = InstanceData(
            masks=torch.from_numpy(results['coarse_masks'].masks.astype(bool)),
            bboxes=torch.from_numpy(results['coarse_bboxes']),
            scores=torch.from_numpy(results['coarse_scores']),
            labels=torch.from_numpy(results['coarse_labels']))
        return packed
