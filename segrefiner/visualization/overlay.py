"""Side-by-side panels of image, coarse mask, refined mask and GT."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: BGR tint of each panel's mask: coarse (orange), refined (green), GT (blue).
PANEL_COLORS = {'coarse': (0, 140, 255), 'refined': (80, 200, 0), 'GT': (255, 120, 0)}


def overlay_mask(image: np.ndarray, mask: np.ndarray, color: Tuple[int, int, int],
                 alpha: float = 0.45) -> np.ndarray:
    """Tint ``mask`` on ``image`` and draw its outline.

    Args:
        image (np.ndarray): (H, W, 3) uint8 BGR.
        mask (np.ndarray): (H, W) bool or 0/1.
        color (tuple): BGR colour.
        alpha (float): tint opacity.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.
    """
    mask = mask.astype(bool)
    out = image.copy()
    tint = np.array(color, dtype=np.float32)
    out[mask] = (out[mask] * (1 - alpha) + tint * alpha).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, color, 1)
    return out


def draw_refine_panel(image: np.ndarray, coarse: np.ndarray, refined: np.ndarray,
                      gt: Optional[np.ndarray] = None,
                      titles: Sequence[str] = ('image', 'coarse', 'refined', 'GT')
                      ) -> np.ndarray:
    """Image | coarse | refined [| GT] side by side, each mask tinted on the image.

    Args:
        image (np.ndarray): (H, W, 3) uint8 BGR.
        coarse (np.ndarray): (H, W) coarse mask.
        refined (np.ndarray): (H, W) refined mask.
        gt (np.ndarray, optional): (H, W) GT mask; its panel is left out when None.
        titles (Sequence[str]): panel captions.

    Returns:
        np.ndarray: (H + 20, k·W, 3) uint8 BGR with a caption strip on top.
    """
    panels = [image, overlay_mask(image, coarse, PANEL_COLORS['coarse']),
              overlay_mask(image, refined, PANEL_COLORS['refined'])]
    if gt is not None:
        panels.append(overlay_mask(image, gt, PANEL_COLORS['GT']))
    captioned = []
    for panel, title in zip(panels, titles):
        strip = np.full((20, panel.shape[1], 3), 255, dtype=np.uint8)
        cv2.putText(strip, title, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        captioned.append(np.vstack([strip, panel]))
    return np.hstack(captioned)
