"""Packing of a refinement sample: image, GT and coarse mask into a ``SegDataSample``."""
from typing import Sequence

import numpy as np
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackRefineInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` plus the coarse mask.

    Output: ``dict(inputs=Tensor, data_samples=SegDataSample)`` where

    - ``inputs``: (3, H, W) uint8 image tensor (channel order as loaded, BGR by default);
    - ``data_samples.gt_sem_seg``: ``PixelData(data=(1, H, W) int64)`` when ``gt_seg_map`` is
      present;
    - ``data_samples.coarse_sem_seg``: ``PixelData(data=(1, H, W) int64)`` in {0, 1} from
      ``coarse_seg_map`` (required);
    - metainfo: the ``meta_keys`` found in ``results``.

    Required Keys:

    - img
    - coarse_seg_map
    - gt_seg_map (optional)

    Args:
        meta_keys (Sequence[str]): results keys copied into the metainfo. Defaults to mmseg's
            ``PackSegInputs`` keys plus ``coarse_path``, ``crop_bbox`` and ``out_name`` (the
            output file name a test dataset assigns, see ``RefinedMaskWriterHook``).
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'seg_map_path', 'coarse_path',
                                             'ori_shape', 'img_shape', 'pad_shape',
                                             'scale_factor', 'flip', 'flip_direction',
                                             'reduce_zero_label', 'crop_bbox',
                                             'out_name')) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): result dict of the pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        if 'coarse_seg_map' not in results:
            raise KeyError(
                'PackRefineInputs needs results["coarse_seg_map"]; add LoadCoarseMask, '
                f'GenerateCoarseMask or GenerateLowResCoarseMask to the pipeline of '
                f'{results.get("img_path")}')
        packed = super().transform(results)
        coarse = to_tensor(results['coarse_seg_map'][None].astype(np.int64))
        packed['data_samples'].set_data(dict(coarse_sem_seg=PixelData(data=coarse)))
        return packed
