"""Image | coarse | refined | GT panels of refinement results, drawn by an mmseg visualizer."""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmdet.structures.mask import bitmap_to_polygon
from mmengine.dist import master_only
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from ..utils.io import write_image_atomic

#: RGB tint of each panel's mask: coarse (orange), refined (green), GT (blue).
PANEL_COLORS: Dict[str, Tuple[int, int, int]] = {
    'coarse': (255, 140, 0), 'refined': (0, 200, 80), 'GT': (0, 120, 255)}
#: Panel captions, left to right.
PANEL_TITLES = ('image', 'coarse', 'refined', 'GT')


def output_name(data_sample) -> str:
    """Relative output path of a test sample: its ``out_name`` metainfo when the dataset sets
    one (e.g. ``DIS-TE1/x.png``), else ``<image stem>.png``."""
    name = data_sample.metainfo.get('out_name')
    if name:
        return name
    return osp.splitext(osp.basename(data_sample.metainfo['img_path']))[0] + '.png'


def sample_mask(data_sample, field: str) -> Optional[np.ndarray]:
    """(H, W) bool numpy mask (``> 0``) of a ``PixelData`` field of a sample, or None."""
    if field not in data_sample:
        return None
    return data_sample.get(field).data[0].cpu().numpy() > 0


@VISUALIZERS.register_module()
class RefineLocalVisualizer(SegLocalVisualizer):
    """mmseg's ``SegLocalVisualizer`` drawing a refinement sample as one panel:
    image | coarse | refined [| GT], each mask tinted on the image and outlined, with a caption
    strip on top.

    Drawing uses mmengine's visualizer API (``draw_binary_masks``, ``draw_polygons`` of the
    masks' contours from mmdet's ``bitmap_to_polygon``, ``draw_texts``). With mmseg's
    ``SegVisualizationHook`` (``draw=True``) it draws every ``interval``-th test sample, which
    ``tools/test.py --show-dir DIR`` uses with ``out_dir=DIR``: each sample's panel is then
    written to ``DIR/<output name>`` (the name ``--out`` uses, :func:`output_name`) as a BGR
    PNG, atomically, instead of going to the visualizer's backends. Like every mmengine
    visualizer it draws on rank 0 only.

    Sample fields: ``pred_sem_seg`` (refined, required), ``coarse_sem_seg`` (empty if absent),
    ``gt_sem_seg`` (its panel is left out if absent or ``draw_gt=False``); each is foreground
    where ``> 0`` and cropped to the refined mask's size.

    Args:
        name (str): instance name. Defaults to 'visualizer'.
        out_dir (str, optional): folder for the panels, by output name. Defaults to None
            (panels go to the vis backends, as with ``SegLocalVisualizer``).
        alpha (float): tint opacity. Defaults to 0.45.
        caption_height (int): height of the caption strip in pixels. Defaults to 20.
        **kwargs: other arguments of :class:`mmseg.visualization.SegLocalVisualizer`.

    Examples:
        >>> vis = RefineLocalVisualizer()
        >>> panel = vis.draw_refine_panel(image_rgb, coarse, refined, gt)  # doctest: +SKIP
        >>> panel.shape == (20 + H, 4 * W, 3)                               # doctest: +SKIP
    """

    def __init__(self,
                 name: str = 'visualizer',
                 out_dir: Optional[str] = None,
                 alpha: float = 0.45,
                 caption_height: int = 20,
                 **kwargs) -> None:
        super().__init__(name=name, alpha=alpha, **kwargs)
        self.out_dir = out_dir
        self.caption_height = caption_height

    def draw_refine_panel(self, image: np.ndarray, coarse: np.ndarray, refined: np.ndarray,
                          gt: Optional[np.ndarray] = None,
                          titles: Sequence[str] = PANEL_TITLES) -> np.ndarray:
        """Image | coarse | refined [| GT] side by side, each mask tinted on the image.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB.
            coarse (np.ndarray): (H, W) coarse mask (bool or 0/1).
            refined (np.ndarray): (H, W) refined mask.
            gt (np.ndarray, optional): (H, W) GT mask; its panel is left out when None.
            titles (Sequence[str]): panel captions.

        Returns:
            np.ndarray: (caption_height + H, k·W, 3) uint8 RGB, k = 3 or 4.
        """
        height, width = image.shape[:2]
        top = self.caption_height
        named = [('coarse', coarse), ('refined', refined)] + ([('GT', gt)] if gt is not None
                                                               else [])
        num = 1 + len(named)
        canvas = np.full((top + height, num * width, 3), 255, np.uint8)
        for k in range(num):
            canvas[top:, k * width:(k + 1) * width] = image
        masks = np.zeros((len(named), top + height, num * width), bool)
        polygons, edge_colors = [], []
        for k, (key, mask) in enumerate(named, 1):
            mask = np.asarray(mask).astype(bool)
            masks[k - 1, top:, k * width:(k + 1) * width] = mask
            contours, _ = bitmap_to_polygon(mask)
            # contour points are pixel indices; the pixel's centre is at +0.5
            polygons += [c + np.array([k * width + 0.5, top + 0.5]) for c in contours]
            edge_colors += [PANEL_COLORS[key]] * len(contours)
        self.set_image(canvas)
        self.draw_binary_masks(masks, colors=[PANEL_COLORS[key] for key, _ in named],
                               alphas=self.alpha)
        if polygons:
            self.draw_polygons(polygons, edge_colors=edge_colors, line_widths=1, alpha=1.0)
        self.draw_texts(list(titles[:num]),
                        positions=np.array([[k * width + 4, top / 2] for k in range(num)]),
                        font_sizes=int(round(0.6 * top * 72 / self.dpi)), colors='k',
                        vertical_alignments='center')
        return self.get_image()

    def draw_label_panel(self, image: np.ndarray, label_maps: Dict[str, np.ndarray],
                         palette: Sequence[Sequence[int]],
                         boxes: Optional[Dict[str, np.ndarray]] = None,
                         ignore_index: int = 255) -> np.ndarray:
        """Image | each label map tinted on it, side by side with captions (multi-class).

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB.
            label_maps (dict[str, np.ndarray]): caption → (H, W) integer label map.
            palette (Sequence): RGB colour of each class id.
            boxes (dict[str, np.ndarray], optional): caption → (N, 4) XYXY boxes outlined on
                that panel.
            ignore_index (int): label drawn in grey. Defaults to 255.

        Returns:
            np.ndarray: (caption_height + H, (1 + len(label_maps))·W, 3) uint8 RGB.
        """
        height, width = image.shape[:2]
        top = self.caption_height
        num = 1 + len(label_maps)
        canvas = np.full((top + height, num * width, 3), 255, np.uint8)
        for k in range(num):
            canvas[top:, k * width:(k + 1) * width] = image
        self.set_image(canvas)
        colors = [tuple(int(c) for c in rgb) for rgb in palette] + [(128, 128, 128)]
        for k, label_map in enumerate(label_maps.values(), 1):
            for label in np.unique(label_map):
                mask = np.zeros((top + height, num * width), bool)
                mask[top:, k * width:(k + 1) * width] = label_map == label
                color = colors[-1] if label == ignore_index else colors[int(label)]
                self.draw_binary_masks(mask, colors=[color], alphas=self.alpha)
        for k, caption in enumerate(label_maps, 1):
            panel_boxes = np.asarray((boxes or {}).get(caption, np.zeros((0, 4))), float)
            if len(panel_boxes):
                # end-exclusive boxes: the last pixel inside is x2 - 1, y2 - 1
                offset = np.array([k * width, top, k * width - 1, top - 1])
                self.draw_bboxes(panel_boxes + offset,
                                 edge_colors=(255, 255, 0), line_widths=1, alpha=1.0)
        self.draw_texts(['image'] + list(label_maps),
                        positions=np.array([[k * width + 4, top / 2] for k in range(num)]),
                        font_sizes=int(round(0.6 * top * 72 / self.dpi)), colors='k',
                        vertical_alignments='center')
        return self.get_image()

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw a sample's panel and save it (``out_file``, ``out_dir`` or the backends).

        Args:
            name (str): image identifier (window name / backend key).
            image (np.ndarray): (H, W, 3) uint8 RGB image.
            data_sample (SegDataSample): the test output, with ``pred_sem_seg``.
            draw_gt (bool): add the GT panel when the sample has ``gt_sem_seg``.
            draw_pred (bool): unused (the refined panel is the point of the panel).
            show (bool): also show the panel in a window.
            wait_time (float): seconds to show it.
            out_file (str, optional): write the panel (BGR) there.
            step (int): global step for the backends.
            with_labels (bool): unused (the captions name the panels).
        """
        refined = None if data_sample is None else sample_mask(data_sample, 'pred_sem_seg')
        if refined is None:
            raise KeyError(f'{type(self).__name__} draws refinement results: the sample needs '
                           'pred_sem_seg')
        height, width = refined.shape
        coarse = sample_mask(data_sample, 'coarse_sem_seg')
        coarse = np.zeros_like(refined) if coarse is None else coarse[:height, :width]
        gt = sample_mask(data_sample, 'gt_sem_seg') if draw_gt else None
        if gt is not None:
            gt = gt[:height, :width]
        panel = self.draw_refine_panel(image, coarse, refined, gt)
        if show:
            self.show(panel, win_name=name, wait_time=wait_time)
        if out_file is None and self.out_dir is not None:
            out_file = osp.join(self.out_dir, output_name(data_sample))
        if out_file is not None:
            write_image_atomic(out_file, mmcv.rgb2bgr(panel))
        else:
            self.add_image(name, panel, step)
