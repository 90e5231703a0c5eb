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
      ``gt_coarse_seg`` (required);
    - metainfo: the ``meta_keys`` found in ``results``.

    Required Keys:

    - img
    - gt_coarse_seg
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
        if 'gt_coarse_seg' not in results:
            raise KeyError(
                'PackRefineInputs needs results["gt_coarse_seg"]; add LoadCoarseMask, '
                f'GenerateCoarseMask or GenerateLowResCoarseMask to the pipeline of '
                f'{results.get("img_path")}')
        packed = super().transform(results)
        coarse = to_tensor(results['gt_coarse_seg'][None].astype(np.int64))
        packed['data_samples'].set_data(dict(coarse_sem_seg=PixelData(data=coarse)))
        return packed
