"""BGR panel functions kept for scripts: they draw with :class:`RefineLocalVisualizer`."""
from typing import Optional, Sequence, Tuple

import mmcv
import numpy as np

from .refine_visualizer import PANEL_COLORS as _RGB_COLORS
from .refine_visualizer import PANEL_TITLES, RefineLocalVisualizer

#: BGR tint of each panel's mask: coarse (orange), refined (green), GT (blue).
PANEL_COLORS = {key: tuple(reversed(rgb)) for key, rgb in _RGB_COLORS.items()}

_visualizer: Optional[RefineLocalVisualizer] = None


def _panel_visualizer(alpha: float = 0.45) -> RefineLocalVisualizer:
    """A private visualizer (built directly, so it is not mmengine's current instance)."""
    global _visualizer
    if _visualizer is None:
        _visualizer = RefineLocalVisualizer(name='segrefiner_panels')
    _visualizer.alpha = alpha
    return _visualizer


def overlay_mask(image: np.ndarray, mask: np.ndarray, color: Tuple[int, int, int],
                 alpha: float = 0.45) -> np.ndarray:
    """Tint ``mask`` on ``image`` and outline it (mmengine's ``draw_binary_masks`` and
    ``draw_polygons``).

    Args:
        image (np.ndarray): (H, W, 3) uint8 BGR.
        mask (np.ndarray): (H, W) bool or 0/1.
        color (tuple): BGR colour.
        alpha (float): tint opacity.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.
    """
    from mmdet.structures.mask import bitmap_to_polygon
    vis = _panel_visualizer(alpha)
    rgb = tuple(int(c) for c in reversed(color))
    mask = np.asarray(mask).astype(bool)
    vis.set_image(mmcv.bgr2rgb(image))
    vis.draw_binary_masks(mask, colors=[rgb], alphas=alpha)
    contours, _ = bitmap_to_polygon(mask)
    if contours:
        vis.draw_polygons([c + 0.5 for c in contours], edge_colors=rgb, line_widths=1,
                          alpha=1.0)
    return mmcv.rgb2bgr(vis.get_image())


def draw_refine_panel(image: np.ndarray, coarse: np.ndarray, refined: np.ndarray,
                      gt: Optional[np.ndarray] = None,
                      titles: Sequence[str] = PANEL_TITLES) -> np.ndarray:
    """Image | coarse | refined [| GT] side by side (:meth:`RefineLocalVisualizer.
    draw_refine_panel` on BGR images).

    Args:
        image (np.ndarray): (H, W, 3) uint8 BGR.
        coarse (np.ndarray): (H, W) coarse mask.
        refined (np.ndarray): (H, W) refined mask.
        gt (np.ndarray, optional): (H, W) GT mask; its panel is left out when None.
        titles (Sequence[str]): panel captions.

    Returns:
        np.ndarray: (H + 20, k·W, 3) uint8 BGR with a caption strip on top.
    """
    panel = _panel_visualizer().draw_refine_panel(mmcv.bgr2rgb(image), coarse, refined, gt,
                                                  titles)
    return mmcv.rgb2bgr(panel)
