"""DAVIS boundary F-measure (``db_eval_boundary`` / ``f_measure`` of davis2017-evaluation).

Definition (``docs/metrics.md``, 'Boundary F-measure'), for one H×W frame with prediction P and
GT G:

1. Tolerance ``r``: ``bound_th`` itself when ``bound_th >= 1`` (a pixel count, must be integral),
   else ``ceil(bound_th * sqrt(H² + W²))`` (0.008: 480×854 → 8, 480×640 → 7, 1080×1920 → 18).
2. Void pixels (optional) are removed from both masks: ``P & ~void``, ``G & ~void``.
3. ``seg2bmap``: a pixel is a boundary pixel if it differs from its east, south or south-east
   neighbour; in the last row only east counts, in the last column only south, the bottom-right
   pixel is 0. Nothing outside the image counts, so a mask touching the border has no boundary
   along the border.
4. A boundary pixel of P is matched if a boundary pixel of G lies within the skimage-style disk
   of radius r (offsets with dx² + dy² ≤ r²), and vice versa.
5. ``precision = matched(P) / |bP|`` (measured on the **prediction's** boundary — DAVIS' public
   ``db_eval_boundary(annotation, segmentation)`` swaps its arguments into ``f_measure``; here the
   order is simply ``(pred, gt)``), ``recall = matched(G) / |bG|``. Empty cases: no boundary in P
   but some in G → P=1, R=0; some in P, none in G → P=0, R=1; none in either → P=R=1.
   ``F = 2PR / (P + R)``, 0 when ``P + R == 0``.

Implementation: the boundaries are computed on bit-packed masks (:mod:`.bitmorph`) and kept as
point lists. Matching uses, per disk row, a binary search of the other boundary's row-major keys
(cost ∝ boundary length), or a bit-packed disk dilation when the boundaries are dense; both are
exact and give the definition's numbers.
"""
from typing import List, NamedTuple, Sequence, Tuple, Union

import numpy as np

from . import bitmorph as bm
from .utils import binarize, check_same_shape, disk_halfwidths

Points = Tuple[np.ndarray, np.ndarray]


class BoundaryFScore(NamedTuple):
    """Boundary F-measure of one frame (all in [0, 1])."""
    f: float
    precision: float
    recall: float


class BoundaryCounts(NamedTuple):
    """Boundary pixel counts of one frame: what precision and recall are made of."""
    matched_pred: int  # boundary pixels of the prediction within the tolerance of the GT's
    n_pred: int  # boundary pixels of the prediction
    matched_gt: int  # boundary pixels of the GT within the tolerance of the prediction's
    n_gt: int  # boundary pixels of the GT


def bound_pixels(bound_th: float, shape: Sequence[int]) -> int:
    """Tolerance radius in pixels: ``bound_th`` if ``>= 1``, else ``ceil(bound_th * diagonal)``."""
    if bound_th < 0:
        raise ValueError(f'bound_th must be >= 0, got {bound_th}')
    if bound_th >= 1:
        if int(bound_th) != bound_th:
            raise ValueError(f'a pixel tolerance (bound_th >= 1) must be a whole number, '
                             f'got {bound_th}')
        return int(bound_th)
    return int(np.ceil(bound_th * np.linalg.norm(tuple(shape[-2:]))))


def _bmap_words(m: np.ndarray) -> np.ndarray:
    """``seg2bmap`` of a bool mask, bit-packed (see :mod:`.bitmorph`)."""
    h, w = m.shape
    p = bm.pack(m)
    e = bm.hshift(p, 1, w)  # east neighbour (0 past the last column)
    b = p ^ e
    if h > 1:
        b[:-1] |= p[:-1] ^ e[1:]  # south-east
    if w:
        # last column: no east / south-east neighbour
        b[:, (w - 1) // bm.WORD] &= ~np.uint64(1 << ((w - 1) % bm.WORD))
    if h > 1:
        b[:-1] |= p[:-1] ^ p[1:]  # south; the last row keeps east only
    return b


def seg2bmap(mask) -> np.ndarray:
    """BSDS/DAVIS one-pixel boundary map of a binary mask (bool (H, W)); see the module doc."""
    m = binarize(mask)
    return bm.unpack(_bmap_words(m), m.shape[1])


# Relative costs of the two exact matchers, measured on this project's 2-core CPU (only the
# choice between them depends on these numbers, never the result).
_SPARSE_COST = 1.0  # per query point and disk row (plus the point extraction)
_DENSE_COST = 0.04  # per word and (kernel row + 6 × radius)


class _Boundary:
    """One mask's ``seg2bmap`` boundary: bit-packed, with its points and dilations on demand."""

    def __init__(self, mask: np.ndarray):
        self.width = mask.shape[1]
        self.words = _bmap_words(mask)
        self.count = bm.popcount(self.words)
        self._points = None
        self._dilated = {}

    @property
    def points(self) -> Points:
        if self._points is None:
            self._points = bm.nonzero(self.words)
        return self._points

    def dilated(self, radius: int) -> np.ndarray:
        if radius not in self._dilated:
            self._dilated[radius] = bm.dilate_many(self.words, self.width,
                                                   {0: disk_halfwidths(radius)})[0]
        return self._dilated[radius]


def _count_within_sparse(src: Points, dst: Points, radius: int, width: int) -> int:
    """Number of ``src`` points with a ``dst`` point inside the disk of ``radius`` (exact).

    For each disk row dy (0, -1, +1, -2, ...: most matches come early), a binary search of the
    row-major keys of ``dst`` tells whether row ``y + dy`` holds a point in ``[x - w, x + w]``.
    """
    hw = disk_halfwidths(radius)
    stride = width + radius + 1  # keys of neighbouring rows never overlap a query interval
    keys = dst[0] * stride + dst[1]  # sorted: the points are row-major
    last = keys.size - 1
    rem = src[0] * stride + src[1]
    n = rem.size
    for k in range(2 * radius + 1):
        dy = (k + 1) // 2 * (1 if k % 2 == 0 else -1)
        w = hw[dy + radius]
        q = rem + dy * stride
        pos = np.searchsorted(keys, q - w)
        hit = keys[np.minimum(pos, last)] <= q + w
        hit &= pos <= last
        rem = rem[~hit]
        if rem.size == 0:
            break
    return n - rem.size


def _count_within(src: _Boundary, dst: _Boundary, radius: int) -> int:
    """How many ``src`` boundary pixels have a ``dst`` one at Euclidean distance ``<= radius``.

    Sparse boundaries: binary searches over the point lists; dense ones (or small radii): the
    bit-packed disk dilation of ``dst`` ANDed with ``src``. Both are exact.
    """
    if src.count == 0 or dst.count == 0:
        return 0
    sparse = (src.count * (2 * radius + 1) + 2 * (src.count + dst.count)) * _SPARSE_COST
    dense = src.words.size * (8 * radius + 1) * _DENSE_COST
    if radius in dst._dilated:
        dense = src.words.size * _DENSE_COST
    if sparse <= dense:
        return _count_within_sparse(src.points, dst.points, radius, src.width)
    return bm.popcount(src.words & dst.dilated(radius))


def _prepare(pred, gt, void):
    p = binarize(pred)
    g = binarize(gt)
    check_same_shape(p, g)
    if void is not None:
        v = binarize(void)
        check_same_shape(v, g, ('void', 'gt'))
        p = p & ~v
        g = g & ~v
    return p, g


def counts_from_masks(p: np.ndarray, g: np.ndarray, radii: Sequence[int]) -> List[BoundaryCounts]:
    """Boundary counts of two bool masks (void already removed) for several pixel radii."""
    bp, bg = _Boundary(p), _Boundary(g)
    return [
        BoundaryCounts(_count_within(bp, bg, r), bp.count, _count_within(bg, bp, r), bg.count)
        for r in radii
    ]


def boundary_f1_counts(pred, gt, bound_th: Union[float, Sequence[float]] = 0.008,
                       void=None) -> Union[BoundaryCounts, List[BoundaryCounts]]:
    """Boundary pixel counts (matched/total for prediction and GT) of one frame.

    Args:
        pred, gt: masks (H, W) or (1, H, W), binarised by :func:`~.utils.binarize`.
        bound_th (float | Sequence[float]): tolerance; ``< 1`` is a fraction of the image
            diagonal, ``>= 1`` a whole number of pixels. A sequence gives one result per value.
        void: optional mask of pixels removed from both masks before extracting boundaries.

    Returns:
        BoundaryCounts, or a list of them when ``bound_th`` is a sequence.
    """
    p, g = _prepare(pred, gt, void)
    ths = list(bound_th) if isinstance(bound_th, (list, tuple)) else [bound_th]
    out = counts_from_masks(p, g, [bound_pixels(t, p.shape) for t in ths])
    return out if isinstance(bound_th, (list, tuple)) else out[0]


def f_measure(counts: BoundaryCounts) -> BoundaryFScore:
    """Precision, recall and F of boundary counts, with DAVIS' empty-boundary rules."""
    mp, n_p, mg, n_g = counts
    if n_p == 0 and n_g > 0:
        precision, recall = 1.0, 0.0
    elif n_p > 0 and n_g == 0:
        precision, recall = 0.0, 1.0
    elif n_p == 0 and n_g == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = mp / float(n_p)
        recall = mg / float(n_g)
    if precision + recall == 0:
        f = 0.0
    else:
        f = 2 * precision * recall / (precision + recall)
    return BoundaryFScore(float(f), float(precision), float(recall))


def f_measure_array(counts: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`f_measure`: ``counts[..., 0:4]`` = (matched_pred, n_pred, matched_gt,
    n_gt) → float64 arrays ``(f, precision, recall)`` of shape ``counts.shape[:-1]``."""
    c = np.asarray(counts, dtype=np.int64)
    mp, n_p, mg, n_g = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = np.where(n_p > 0, mp / np.maximum(n_p, 1).astype(np.float64), 1.0)
        recall = np.where(n_g > 0, mg / np.maximum(n_g, 1).astype(np.float64), 1.0)
    precision = np.where((n_p > 0) & (n_g == 0), 0.0, precision)
    recall = np.where((n_p == 0) & (n_g > 0), 0.0, recall)
    denom = precision + recall
    with np.errstate(divide='ignore', invalid='ignore'):
        f = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1.0), 0.0)
    return f, precision, recall


def boundary_f1(pred, gt, bound_th: float = 0.008, void=None) -> BoundaryFScore:
    """DAVIS boundary F-measure of a prediction against the GT (see the module docstring).

    Args:
        pred: predicted mask (H, W) or (1, H, W): bool, 0/1 or 0–255 (numpy or torch).
        gt: ground-truth mask of the same shape.
        bound_th (float): ``< 1``: tolerance as a fraction of the image diagonal (DAVIS' 0.008);
            ``>= 1``: tolerance in pixels (a whole number, e.g. 2).
        void: optional mask of pixels to remove from both masks.

    Returns:
        BoundaryFScore: ``(f, precision, recall)``; precision is measured on the prediction's
        boundary, recall on the GT's.

    Examples:
        >>> import numpy as np
        >>> gt = np.zeros((10, 10), bool); gt[2:6, 2:6] = True
        >>> boundary_f1(gt, gt).f
        1.0
    """
    return f_measure(boundary_f1_counts(pred, gt, bound_th, void))
