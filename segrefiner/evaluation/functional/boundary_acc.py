"""mBA, mean boundary accuracy (CascadePSP's ``compute_boundary_acc``, as SegRefiner evaluates).

Definition (``docs/metrics.md``, 'mBA'), per H×W image:

1. Radii: ``max_radius = (W + H) / 300`` and ``r_i = 1 + int((max_radius − 1) / 5 · i)`` for
   i = 0..4 (``int`` truncates toward 0): 480×640 → [1, 1, 2, 2, 3], 1600×2048 → [1, 3, 5, 7, 9],
   100×150 → [1, 1, 1, 1, 1].
2. Kernel: OpenCV's ellipse ``getStructuringElement(MORPH_ELLIPSE, (2r+1, 2r+1))``, whose row
   half-width is ``round(sqrt(r² − dy²))`` — **not** skimage's disk (``floor``): r = 2 has 17
   pixels against 13.
3. Band: the GT's morphological gradient ``dilate(gt) − erode(gt) > 0`` with that kernel, i.e. the
   pixels whose kernel window holds both GT foreground and background, about r pixels on either
   side of the contour. OpenCV's default border ignores pixels outside the image, so a GT touching
   the image edge has no band along the edge. The band depends on the GT only.
4. Accuracy at radius r: the fraction of band pixels where prediction == GT (both polarities).
5. mBA of the image: the plain mean of the five accuracies (repeated radii count again).

**Empty-band policy.** A constant GT (all background or all foreground) has no band; the
reference divides by zero. Here the accuracy of an empty band is NaN, so the image's mBA is NaN,
and dataset means (the metrics, the evaluation scripts) skip NaN images (``nanmean``) and report
how many were skipped. With a ``void`` mask, void pixels are removed from the band (numerator and
denominator, like CascadePSP's multi-class variant); a radius whose band is all void is NaN too.

Implementation: bit-packed morphology (:mod:`.bitmorph`); the horizontal dilations are shared by
all radii, each distinct radius is built once, and :func:`boundary_bands` lets the coarse and the
refined mask share the GT's bands.
"""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from . import bitmorph as bm
from .utils import binarize, check_same_shape, ellipse_halfwidths

#: Number of radii of mBA.
NUM_STEPS = 5


class Band(NamedTuple):
    """The GT's boundary band at one radius, bit-packed (:mod:`.bitmorph`)."""
    radius: int
    words: np.ndarray  # (H, ceil(W / 64)) uint64
    width: int

    @property
    def mask(self) -> np.ndarray:
        """The band as a bool (H, W) array."""
        return bm.unpack(self.words, self.width)

    @property
    def count(self) -> int:
        return bm.popcount(self.words)


def mba_radii(height: int, width: int, num_steps: int = NUM_STEPS) -> List[int]:
    """The radii of mBA for an image of ``height`` × ``width`` (CascadePSP's rule)."""
    min_radius = 1
    max_radius = (width + height) / 300
    return [min_radius + int((max_radius - min_radius) / num_steps * i) for i in range(num_steps)]


def boundary_bands(gt, radii: Optional[Sequence[int]] = None) -> List[Band]:
    """The GT's bands at ``radii`` (default: :func:`mba_radii` of its shape).

    ``band = dilate(gt) & dilate(~gt)`` with the OpenCV ellipse, pixels outside the image ignored
    (== OpenCV's ``MORPH_GRADIENT > 0`` with its default border). Repeated radii share one
    :class:`Band`.
    """
    g = binarize(gt)
    h, w = g.shape
    if radii is None:
        radii = mba_radii(h, w)
    radii = [int(r) for r in radii]
    distinct = sorted(set(radii))
    fg = bm.pack(g)
    box = bm.edge_word_box(fg, w)
    bands = {r: Band(r, np.zeros_like(fg), w) for r in distinct}
    if box is not None:  # else: constant GT, no band
        # Every window farther than r from a pair of differing 4-neighbours is constant, so the
        # bands can be computed on the box of those pairs grown by r (pixels outside the crop
        # are ignored like pixels outside the image: it changes nothing).
        rmax = distinct[-1]
        y0, y1 = max(box[0] - rmax, 0), min(box[1] + rmax, h)
        grow = -(-rmax // bm.WORD)
        c0, c1 = max(box[2] - grow, 0), min(box[3] + grow, fg.shape[1])
        cw = min(w - c0 * bm.WORD, (c1 - c0) * bm.WORD)
        fg_c = np.ascontiguousarray(fg[y0:y1, c0:c1])
        kernels = {r: ellipse_halfwidths(r) for r in distinct}
        dil_fg = bm.dilate_many(fg_c, cw, kernels)
        dil_bg = bm.dilate_many(bm.invert(fg_c, cw), cw, kernels)
        for r in distinct:
            bands[r].words[y0:y1, c0:c1] = dil_fg[r] & dil_bg[r]
    return [bands[r] for r in radii]


def band_accuracies(pred, gt, bands: Sequence[Band], void=None) -> np.ndarray:
    """Accuracy of ``pred`` inside each band (float64 array, NaN for an empty band)."""
    p = binarize(pred)
    g = binarize(gt)
    check_same_shape(p, g)
    wrong = bm.pack(p) ^ bm.pack(g)
    keep = None
    if void is not None:
        v = binarize(void)
        check_same_shape(v, g, ('void', 'gt'))
        keep = bm.invert(bm.pack(v), g.shape[1])
    out = np.full(len(bands), np.nan)
    done = {}
    for i, band in enumerate(bands):
        if band.words.shape != wrong.shape:
            raise ValueError(f'band of shape {band.words.shape} (words) does not fit the masks '
                             f'{g.shape}')
        key = id(band)
        if key not in done:
            valid = band.words if keep is None else band.words & keep
            total = bm.popcount(valid)
            acc = np.nan
            if total:
                acc = (total - bm.popcount(valid & wrong)) / total
            done[key] = acc
        out[i] = done[key]
    return out


def boundary_accuracy(pred, gt, radius: int, void=None) -> float:
    """Fraction of the GT's band of ``radius`` where ``pred`` equals the GT (NaN: empty band)."""
    return float(band_accuracies(pred, gt, boundary_bands(gt, [radius]), void)[0])


def mba(pred, gt, void=None, bands: Optional[Sequence[Band]] = None) -> float:
    """Mean boundary accuracy of one image (see the module docstring).

    Args:
        pred: predicted mask (H, W) or (1, H, W): bool, 0/1 or 0–255 (numpy or torch).
        gt: ground-truth mask of the same shape.
        void: optional mask of pixels left out of the bands.
        bands: the GT's bands from :func:`boundary_bands`, to reuse them across predictions.

    Returns:
        float: in [0, 1]; NaN when the GT has no band (constant GT).

    Examples:
        >>> import numpy as np
        >>> gt = np.zeros((20, 20), np.uint8); gt[5:15, 5:15] = 255
        >>> mba(gt, gt)
        1.0
    """
    if bands is None:
        bands = boundary_bands(gt)
    accs = band_accuracies(pred, gt, bands, void)
    return float(sum(accs.tolist()) / len(accs))
