"""Write refined masks (and optional overlay panels) during ``runner.test()``."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.io import write_image_atomic
from ...visualization import draw_refine_panel


def _mask_array(sample, field: str) -> Optional[np.ndarray]:
    """(H, W) bool numpy array of a ``PixelData`` field, or None if absent."""
    if field not in sample:
        return None
    return sample.get(field).data[0].cpu().numpy() > 0


@HOOKS.register_module()
class RefinedMaskWriterHook(Hook):
    """Save each test sample's ``pred_sem_seg`` as a 0/255 PNG.

    The file name is the sample's ``out_name`` metainfo when the dataset sets one (e.g.
    ``DIS-TE1/x.png``), else ``<image stem>.png``. Files are written atomically, so an
    interrupted run never leaves a truncated PNG. With ``overlay_dir`` the hook also writes an
    image | coarse | refined | GT panel per sample.

    Args:
        out_dir (str, optional): folder for the refined masks.
        overlay_dir (str, optional): folder for the overlay panels.
    """

    priority = 'LOW'

    def __init__(self, out_dir: Optional[str] = None, overlay_dir: Optional[str] = None) -> None:
        if out_dir is None and overlay_dir is None:
            raise ValueError('RefinedMaskWriterHook needs out_dir and/or overlay_dir')
        self.out_dir = out_dir
        self.overlay_dir = overlay_dir

    @staticmethod
    def output_name(sample) -> str:
        """Relative output path of a sample."""
        name = sample.metainfo.get('out_name')
        if name:
            return name
        return osp.splitext(osp.basename(sample.metainfo['img_path']))[0] + '.png'

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or []:
            name = self.output_name(sample)
            refined = _mask_array(sample, 'pred_sem_seg')
            if self.out_dir is not None:
                write_image_atomic(osp.join(self.out_dir, name), refined.astype(np.uint8) * 255)
            if self.overlay_dir is not None:
                self._write_overlay(sample, name, refined)

    def _write_overlay(self, sample, name: str, refined: np.ndarray) -> None:
        image = mmcv.imread(sample.metainfo['img_path'])
        height, width = refined.shape
        coarse, gt = _mask_array(sample, 'coarse_sem_seg'), _mask_array(sample, 'gt_sem_seg')
        coarse = np.zeros_like(refined) if coarse is None else coarse[:height, :width]
        if gt is not None:
            gt = gt[:height, :width]
        panel = draw_refine_panel(image, coarse, refined, gt)
        write_image_atomic(osp.join(self.overlay_dir, name), panel)
