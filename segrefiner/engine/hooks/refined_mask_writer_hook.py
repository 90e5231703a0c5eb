"""Write refined masks (and optional overlay panels) during ``runner.test()``."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.io import write_image_atomic
from ...visualization import RefineLocalVisualizer, output_name, sample_mask


@HOOKS.register_module()
class RefinedMaskWriterHook(Hook):
    """Save each test sample's ``pred_sem_seg`` as a 0/255 PNG.

    The file name is the sample's ``out_name`` metainfo when the dataset sets one (e.g.
    ``DIS-TE1/x.png``), else ``<image stem>.png``. Files are written atomically, so an
    interrupted run never leaves a truncated PNG.

    With ``overlay_dir`` the hook also writes an image | coarse | refined | GT panel per
    sample under the same name, drawn by a :class:`~segrefiner.visualization.
    RefineLocalVisualizer` of its own (on rank 0, like every mmengine visualizer).
    ``tools/test.py --show-dir`` writes the same panels through mmseg's
    ``SegVisualizationHook`` and the runner's visualizer instead.

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
        self._visualizer: Optional[RefineLocalVisualizer] = None
        if overlay_dir is not None:
            # built directly (not get_instance), so it never becomes the current visualizer
            self._visualizer = RefineLocalVisualizer(name=f'refined_mask_writer_{id(self)}',
                                                     out_dir=overlay_dir)

    @staticmethod
    def output_name(sample) -> str:
        """Relative output path of a sample (:func:`~segrefiner.visualization.output_name`)."""
        return output_name(sample)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or []:
            name = self.output_name(sample)
            if self.out_dir is not None:
                refined = sample_mask(sample, 'pred_sem_seg')
                write_image_atomic(osp.join(self.out_dir, name), refined.astype(np.uint8) * 255)
            if self._visualizer is not None:
                image = mmcv.imread(sample.metainfo['img_path'], channel_order='rgb')
                self._visualizer.add_datasample(name, image, sample)
