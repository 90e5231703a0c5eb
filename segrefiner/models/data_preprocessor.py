"""Data preprocessor that carries the coarse mask along with the image."""
from typing import Any, Dict

import torch.nn.functional as F
from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class RefineDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` that also pads each sample's ``coarse_sem_seg``.

    The image is normalised, converted BGR→RGB and padded exactly as mmseg does; the coarse
    mask (``PixelData`` (1, H, W) on each ``SegDataSample``) is padded bottom-right with 0 to the
    batch's padded size, so that ``coarse_sem_seg`` always aligns with ``inputs``.
    Arguments are those of :class:`mmseg.models.SegDataPreProcessor`; when neither ``size``
    nor ``size_divisor`` is given, training batches are padded to their largest sample.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.size is None and self.size_divisor is None:
            self.size_divisor = 1

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        data = super().forward(data, training)
        height, width = data['inputs'].shape[-2:]
        for sample in data['data_samples'] or []:
            if 'coarse_sem_seg' not in sample:
                continue
            coarse = sample.coarse_sem_seg.data
            if coarse.shape[-2] > height or coarse.shape[-1] > width:
                raise ValueError(f'coarse mask of size {tuple(coarse.shape[-2:])} is larger than '
                                 f'its image {(height, width)}: {sample.metainfo.get("img_path")}')
            if coarse.shape[-2:] != (height, width):
                sample.coarse_sem_seg.data = F.pad(
                    coarse, (0, width - coarse.shape[-1], 0, height - coarse.shape[-2]), value=0)
        return data
