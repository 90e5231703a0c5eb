"""Synthetic coarse masks: the SegRefiner perturbation and low-resolution resampling.

SegRefiner trains on coarse masks made from the ground truth on the fly (``docs/segrefiner.md``,
'The SegRefiner perturbation'):

* stage A (:func:`degrade_polygons`) turns every contour into a coarse polygon: a run of
  consecutive vertices whose two ends are close is cut away (this removes protrusions) and a
  random 10 % of the remaining vertices is kept;
* stage B (:func:`random_morphology`) applies rounds of random dilations/erosions on random
  rectangles until the IoU to the stage-A polygon falls below a target.

:func:`perturb_mask` chains both. :func:`resample_mask` produces the other typical kind of coarse
mask, the blocky, thin-part-less output of a low-resolution mask head. Every function takes a
:class:`numpy.random.Generator`, so results are reproducible; the registered transforms draw that
generator's seed from numpy's global state, like mmseg's random transforms, which makes them
reproducible under the Runner's ``randomness=dict(seed=...)``.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.structures.mask import mask2bbox
from mmseg.registry import TRANSFORMS

from .loading import add_seg_field

BBox = Tuple[int, int, int, int]


def _structuring_element(shape: int, size: int) -> np.ndarray:
    """Kernel ``shape`` of ``size``: 0 an s×s rectangle, 1 an s×s ellipse, 2 a wide (s, s//2)
    ellipse, 3 a tall (s//2, s) ellipse (OpenCV sizes are (width, height))."""
    if shape == 0:
        return cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    ksize = ((size, size), (size, size // 2), (size // 2, size))[shape - 1]
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, ksize)


_KERNELS = {(shape, size): _structuring_element(shape, size)
            for shape in range(4) for size in range(3, 10)}


def to_binary(mask: np.ndarray) -> np.ndarray:
    """A mask as a contiguous uint8 array in {0, 1} (every non-zero pixel is foreground).

    Args:
        mask (np.ndarray): (H, W) mask of any dtype.

    Returns:
        np.ndarray: (H, W) uint8 mask in {0, 1}, always a new array.
    """
    return np.ascontiguousarray(mask != 0, dtype=np.uint8)


def mask_iou(mask_a: np.ndarray, mask_b: np.ndarray) -> float:
    """IoU of two binary uint8 masks of the same shape; 1.0 when both are empty.

    Args:
        mask_a (np.ndarray): (H, W) uint8 mask in {0, 1}.
        mask_b (np.ndarray): (H, W) uint8 mask in {0, 1}.

    Returns:
        float: |a ∩ b| / |a ∪ b|.
    """
    union = cv2.countNonZero(cv2.bitwise_or(mask_a, mask_b))
    if union == 0:
        return 1.0
    return cv2.countNonZero(cv2.bitwise_and(mask_a, mask_b)) / union


def mask_bbox(mask: np.ndarray) -> Optional[BBox]:
    """Tight box of the foreground of a mask (mmdet's ``mask2bbox``, as the models'
    ``mask_box``).

    Args:
        mask (np.ndarray): (H, W) mask; non-zero pixels are foreground.

    Returns:
        tuple[int, int, int, int] | None: ``(x1, y1, x2, y2)`` with exclusive ``x2, y2``, or
        None for an empty mask.
    """
    foreground = torch.from_numpy(np.asarray(mask) != 0)[None]
    x1, y1, x2, y2 = (int(v) for v in mask2bbox(foreground)[0])
    if x2 == 0:  # mmdet's mask2bbox gives zeros for an empty mask
        return None
    return x1, y1, x2, y2


def global_generator() -> np.random.Generator:
    """A Generator seeded from numpy's global random state.

    Transforms use it so that seeding numpy (what the Runner's ``randomness`` setting and the
    dataloader's worker seeding do) makes them reproducible.
    """
    return np.random.default_rng(np.random.randint(np.iinfo(np.int32).max))


def _degrade_contour(points: np.ndarray, rng: np.random.Generator,
                     regional_sample_rate: float, sample_rate: float,
                     move_rate: float) -> np.ndarray:
    """Stage A for one contour: cut a protrusion, subsample the vertices, jitter them.

    Args:
        points (np.ndarray): (N, 2) int32 contour vertices (x, y), N >= 1.
        rng (np.random.Generator): random source.
        regional_sample_rate (float): fraction of vertices cut away as one run, and fraction of
            the best-ranked run starts to choose from.
        sample_rate (float): fraction of the remaining vertices that is kept.
        move_rate (float): std of the radial jitter (relative to the distance to the centroid).

    Returns:
        np.ndarray: (M, 2) int32 polygon, possibly empty.
    """
    num_points = len(points)
    num_cut = int(num_points * regional_sample_rate)
    kept = points
    if num_cut > 0:
        # Squared distance between the two ends of every run of ``num_cut`` vertices; short
        # spans mean the run is a protrusion that can be cut without a large jump.
        ends = points.astype(np.int64)
        span = np.sum((ends[:num_points - num_cut] - ends[num_cut:])**2, axis=1)
        num_best = max(1, math.ceil(len(span) * regional_sample_rate))
        best = np.argsort(span, kind='stable')[:num_best]
        start = int(best[rng.integers(num_best)])
        kept = np.concatenate([points[:start], points[start + num_cut:]])

    num_keep = int(len(kept) * sample_rate)
    indices = np.sort(rng.choice(len(kept), size=num_keep, replace=False))
    polygon = kept[indices]

    if move_rate > 0 and len(polygon):
        moments = cv2.moments(points.reshape(-1, 1, 2))
        if moments['m00'] != 0:
            centre = np.array([moments['m10'], moments['m01']]) / moments['m00']
            scale = 1.0 + rng.normal(0.0, move_rate, size=(len(polygon), 1))
            polygon = np.round(centre + (polygon - centre) * scale).astype(np.int32)
    return polygon


def degrade_polygons(mask: np.ndarray,
                     rng: np.random.Generator,
                     regional_sample_rate: float = 0.1,
                     sample_rate: float = 0.1,
                     move_rate: float = 0.0) -> np.ndarray:
    """Stage A of the SegRefiner perturbation: replace every contour by a coarse polygon.

    Contours are found with ``RETR_LIST``/``CHAIN_APPROX_NONE``; contours with fewer than 10
    points are dropped. For each, a run of ``int(regional_sample_rate * N)`` consecutive vertices
    is removed, its start drawn uniformly among the ``ceil(regional_sample_rate * #starts)``
    starts whose run ends are closest (squared distance); then a random ``sample_rate`` fraction
    of the rest is kept in order and, if ``move_rate > 0``, moved radially from the contour
    centroid by a factor ``1 + N(0, move_rate)``. All polygons are drawn filled in a single
    ``cv2.drawContours`` call, which fills with the even-odd rule: a hole contour inside an
    outer contour stays a hole. If no polygon survives, the input is returned.

    Args:
        mask (np.ndarray): (H, W) mask; non-zero pixels are foreground.
        rng (np.random.Generator): random source.
        regional_sample_rate (float): see above. Defaults to 0.1.
        sample_rate (float): see above. Defaults to 0.1.
        move_rate (float): see above. Defaults to 0.0 (no jitter, as SegRefiner).

    Returns:
        np.ndarray: (H, W) uint8 mask in {0, 1}.
    """
    binary = to_binary(mask)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    polygons: List[np.ndarray] = []
    for contour in contours:
        if len(contour) < 10:
            continue
        polygon = _degrade_contour(contour[:, 0, :], rng, regional_sample_rate,
                                   sample_rate, move_rate)
        if len(polygon):
            polygons.append(np.ascontiguousarray(polygon, dtype=np.int32).reshape(-1, 1, 2))
    if not polygons:
        return binary
    canvas = np.zeros_like(binary)
    cv2.drawContours(canvas, polygons, -1, 1, thickness=cv2.FILLED)
    return canvas


def random_morphology(mask: np.ndarray,
                      rng: np.random.Generator,
                      reference: Optional[np.ndarray] = None,
                      iou_target: float = 0.8,
                      max_rounds: int = 250) -> np.ndarray:
    """Stage B of the SegRefiner perturbation: random local dilations and erosions.

    Each round applies 4 operations. An operation picks a rectangle ``x0 ∈ [0, W)``,
    ``y0 ∈ [0, H)``, ``x1 ∈ [x0+1, W]``, ``y1 ∈ [y0+1, H]``; with probability 0.25 sets the
    rectangle's centre pixel to a random 0/1 (this seeds holes and islands), then dilates (p=0.5)
    or erodes the rectangle with a kernel of size 3..9 and one of 4 shapes (rectangle, ellipse,
    wide ellipse, tall ellipse). Rounds stop once IoU(result, reference) < ``iou_target``.
    Masks with H <= 2 or W <= 2 are returned unchanged. All random numbers are drawn up front,
    so the generator's state afterwards does not depend on when the loop stopped.

    Args:
        mask (np.ndarray): (H, W) mask; non-zero pixels are foreground.
        rng (np.random.Generator): random source.
        reference (np.ndarray, optional): (H, W) mask the IoU is measured against. Defaults to
            ``mask`` itself.
        iou_target (float): stop once the IoU falls below this. Defaults to 0.8.
        max_rounds (int): maximal number of rounds. Defaults to 250.

    Returns:
        np.ndarray: (H, W) uint8 mask in {0, 1}.
    """
    seg = to_binary(mask)
    ref = seg.copy() if reference is None else to_binary(reference)
    h, w = seg.shape
    if h <= 2 or w <= 2:
        return seg

    num_ops = 4 * max_rounds
    x0 = rng.integers(0, w, size=num_ops)
    y0 = rng.integers(0, h, size=num_ops)
    x1 = rng.integers(x0 + 1, w + 1)
    y1 = rng.integers(y0 + 1, h + 1)
    seed_pixel = rng.random(num_ops) < 0.25
    seed_value = rng.integers(0, 2, size=num_ops)
    dilate = rng.random(num_ops) < 0.5
    ksize = rng.integers(3, 10, size=num_ops)
    kshape = rng.integers(0, 4, size=num_ops)
    ops = zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), seed_pixel.tolist(),
              seed_value.tolist(), dilate.tolist(), ksize.tolist(), kshape.tolist())

    # The IoU is kept up to date from the counts inside each changed rectangle, instead of
    # being recomputed over the whole mask after every round.
    ref_area = cv2.countNonZero(ref)
    inter = cv2.countNonZero(cv2.bitwise_and(seg, ref))
    area = cv2.countNonZero(seg)
    for op_index, (left, top, right, bottom, seed, value, grow, size, shape) in enumerate(ops):
        roi, ref_roi = seg[top:bottom, left:right], ref[top:bottom, left:right]
        inter -= cv2.countNonZero(cv2.bitwise_and(roi, ref_roi))
        area -= cv2.countNonZero(roi)
        if seed:
            seg[(top + bottom) // 2, (left + right) // 2] = value
        morph = cv2.dilate if grow else cv2.erode
        roi[...] = morph(roi, _KERNELS[shape, size])
        inter += cv2.countNonZero(cv2.bitwise_and(roi, ref_roi))
        area += cv2.countNonZero(roi)
        union = area + ref_area - inter
        if op_index % 4 == 3 and union and inter / union < iou_target:
            break
    return seg


def perturb_mask(mask: np.ndarray,
                 rng: np.random.Generator,
                 iou_target: float = 0.8,
                 regional_sample_rate: float = 0.1,
                 sample_rate: float = 0.1,
                 move_rate: float = 0.0,
                 max_rounds: int = 250) -> np.ndarray:
    """The SegRefiner coarse mask: :func:`degrade_polygons` then :func:`random_morphology`.

    The IoU target of stage B is measured against the stage-A polygon (as in SegRefiner), so the
    IoU to the input is usually lower than ``iou_target``. Empty masks and masks with H <= 2 or
    W <= 2 are returned unchanged (as uint8 {0, 1}).

    Args:
        mask (np.ndarray): (H, W) mask; non-zero pixels are foreground.
        rng (np.random.Generator): random source.
        iou_target (float): stage-B stop criterion. Defaults to 0.8.
        regional_sample_rate (float): stage-A cut fraction. Defaults to 0.1.
        sample_rate (float): stage-A vertex keep fraction. Defaults to 0.1.
        move_rate (float): stage-A vertex jitter. Defaults to 0.0.
        max_rounds (int): stage-B round limit. Defaults to 250.

    Returns:
        np.ndarray: (H, W) uint8 coarse mask in {0, 1}.
    """
    binary = to_binary(mask)
    h, w = binary.shape
    if h <= 2 or w <= 2 or not binary.any():
        return binary
    polygon = degrade_polygons(binary, rng, regional_sample_rate, sample_rate, move_rate)
    return random_morphology(polygon, rng, reference=polygon, iou_target=iou_target,
                             max_rounds=max_rounds)


def jitter_bbox(bbox: BBox, shape: Tuple[int, int], rng: np.random.Generator,
                jitter: float) -> BBox:
    """Move each side of a box by up to ``jitter`` × its extent, keeping it inside the image.

    Mimics the imprecise proposal/detection box a mask head works in.

    Args:
        bbox (tuple[int, int, int, int]): ``(x1, y1, x2, y2)``, exclusive ``x2, y2``.
        shape (tuple[int, int]): image (H, W).
        rng (np.random.Generator): random source.
        jitter (float): maximal relative offset of each side.

    Returns:
        tuple[int, int, int, int]: the moved box, at least 1 px in each direction.
    """
    x1, y1, x2, y2 = bbox
    bw, bh = x2 - x1, y2 - y1
    dx1, dy1, dx2, dy2 = rng.uniform(-jitter, jitter, size=4) * (bw, bh, bw, bh)
    h, w = shape
    nx1 = int(np.clip(round(x1 + dx1), 0, w - 1))
    ny1 = int(np.clip(round(y1 + dy1), 0, h - 1))
    nx2 = int(np.clip(round(x2 + dx2), nx1 + 1, w))
    ny2 = int(np.clip(round(y2 + dy2), ny1 + 1, h))
    return nx1, ny1, nx2, ny2


def resample_mask(mask: np.ndarray,
                  low_size: Tuple[int, int],
                  bbox: Optional[BBox] = None,
                  threshold: float = 0.5) -> np.ndarray:
    """Degrade a mask the way a low-resolution mask head does.

    The region (the whole mask, or ``bbox``) is down-sampled to ``low_size`` with area averaging
    (the anti-aliased form of bilinear down-sampling, as RoIAlign-made mask targets), thresholded,
    up-sampled back bilinearly and thresholded again. Pixels outside ``bbox`` become background,
    as a box-bound instance head cannot predict there. Thin parts and sharp corners are lost.

    Args:
        mask (np.ndarray): (H, W) mask; non-zero pixels are foreground.
        low_size (tuple[int, int]): (h, w) of the low-resolution grid.
        bbox (tuple[int, int, int, int], optional): ``(x1, y1, x2, y2)`` region the head sees
            (exclusive ``x2, y2``). Defaults to the whole mask.
        threshold (float): binarisation threshold at both resolutions. Defaults to 0.5.

    Returns:
        np.ndarray: (H, W) uint8 mask in {0, 1}.
    """
    binary = to_binary(mask)
    h, w = binary.shape
    x1, y1, x2, y2 = (0, 0, w, h) if bbox is None else bbox
    region = binary[y1:y2, x1:x2].astype(np.float32)
    low_h, low_w = low_size
    low = cv2.resize(region, (low_w, low_h), interpolation=cv2.INTER_AREA)
    low = (low >= threshold).astype(np.float32)
    up = cv2.resize(low, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    out = np.zeros_like(binary)
    out[y1:y2, x1:x2] = up >= threshold
    return out


@TRANSFORMS.register_module()
class GenerateCoarseMask(BaseTransform):
    """Make the coarse mask from the GT with the SegRefiner perturbation (:func:`perturb_mask`).

    Run it on the full-image GT, before any crop (as SegRefiner does), so every draw of a sample
    sees a new coarse mask. An empty GT gives an empty coarse mask.

    Required Keys:

    - gt_seg_map (np.uint8, (H, W), {0, 1})

    Added Keys:

    - coarse_seg_map (np.uint8, (H, W), {0, 1}), also appended to ``seg_fields``

    Args:
        iou_target (float): stage-B stop criterion. Defaults to 0.8.
        regional_sample_rate (float): stage-A cut fraction. Defaults to 0.1.
        sample_rate (float): stage-A vertex keep fraction. Defaults to 0.1.
        move_rate (float): stage-A vertex jitter. Defaults to 0.0.
        max_rounds (int): stage-B round limit. Defaults to 250.
    """

    def __init__(self,
                 iou_target: float = 0.8,
                 regional_sample_rate: float = 0.1,
                 sample_rate: float = 0.1,
                 move_rate: float = 0.0,
                 max_rounds: int = 250) -> None:
        assert 0 < iou_target <= 1, f'iou_target must be in (0, 1], got {iou_target}'
        assert 0 <= regional_sample_rate < 1 and 0 < sample_rate <= 1
        assert move_rate >= 0 and max_rounds >= 1
        self.iou_target = iou_target
        self.regional_sample_rate = regional_sample_rate
        self.sample_rate = sample_rate
        self.move_rate = move_rate
        self.max_rounds = max_rounds

    def transform(self, results: dict) -> dict:
        """Add ``coarse_seg_map``.

        Args:
            results (dict): result dict with ``gt_seg_map``.

        Returns:
            dict: the same dict with ``coarse_seg_map``.
        """
        results['coarse_seg_map'] = perturb_mask(
            results['gt_seg_map'], global_generator(), iou_target=self.iou_target,
            regional_sample_rate=self.regional_sample_rate, sample_rate=self.sample_rate,
            move_rate=self.move_rate, max_rounds=self.max_rounds)
        add_seg_field(results, 'coarse_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(iou_target={self.iou_target}, '
                f'regional_sample_rate={self.regional_sample_rate}, '
                f'sample_rate={self.sample_rate}, move_rate={self.move_rate}, '
                f'max_rounds={self.max_rounds})')


@TRANSFORMS.register_module()
class GenerateLowResCoarseMask(BaseTransform):
    """Make the coarse mask by down-/up-sampling the GT (:func:`resample_mask`).

    Two kinds of low-resolution heads are modelled:

    - ``object_box=True``: an instance head (Mask R-CNN style) that predicts a
      ``low_res × low_res`` grid inside the object's box. The box is the tight GT box with every
      side moved by up to ``box_jitter`` × its extent (an imprecise detection).
    - ``object_box=False``: a semantic head at a coarse output stride; the longer image side is
      mapped to ``low_res`` cells and the other side scaled alike.

    An empty GT gives an empty coarse mask. Use mmcv's ``RandomChoice`` to mix this transform
    with :class:`GenerateCoarseMask`.

    Required Keys:

    - gt_seg_map (np.uint8, (H, W), {0, 1})

    Added Keys:

    - coarse_seg_map (np.uint8, (H, W), {0, 1}), also appended to ``seg_fields``

    Args:
        low_res (int | Sequence[int]): grid size; a pair ``(min, max)`` draws it uniformly per
            sample. Defaults to 28 (Mask R-CNN).
        object_box (bool): resample the object box (True) or the whole image. Defaults to True.
        box_jitter (float): maximal relative displacement of each box side. Defaults to 0.1.
        threshold (float): binarisation threshold. Defaults to 0.5.
    """

    def __init__(self,
                 low_res: Union[int, Sequence[int]] = 28,
                 object_box: bool = True,
                 box_jitter: float = 0.1,
                 threshold: float = 0.5) -> None:
        low_range = (low_res, low_res) if isinstance(low_res, int) else tuple(low_res)
        assert len(low_range) == 2 and 1 <= low_range[0] <= low_range[1], \
            f'low_res must be a positive int or a (min, max) pair, got {low_res}'
        assert 0 <= box_jitter < 0.5, f'box_jitter must be in [0, 0.5), got {box_jitter}'
        self.low_res = low_res
        self.low_range = low_range
        self.object_box = object_box
        self.box_jitter = box_jitter
        self.threshold = threshold

    def transform(self, results: dict) -> dict:
        """Add ``coarse_seg_map``.

        Args:
            results (dict): result dict with ``gt_seg_map``.

        Returns:
            dict: the same dict with ``coarse_seg_map``.
        """
        gt = results['gt_seg_map']
        rng = global_generator()
        side = int(rng.integers(self.low_range[0], self.low_range[1] + 1))
        bbox = mask_bbox(gt)
        if bbox is None:
            coarse = np.zeros(gt.shape[:2], dtype=np.uint8)
        elif self.object_box:
            bbox = jitter_bbox(bbox, gt.shape[:2], rng, self.box_jitter)
            coarse = resample_mask(gt, (side, side), bbox, self.threshold)
        else:
            h, w = gt.shape[:2]
            scale = side / max(h, w)
            low_size = (max(1, round(h * scale)), max(1, round(w * scale)))
            coarse = resample_mask(gt, low_size, threshold=self.threshold)
        results['coarse_seg_map'] = coarse
        add_seg_field(results, 'coarse_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(low_res={self.low_res}, '
                f'object_box={self.object_box}, box_jitter={self.box_jitter}, '
                f'threshold={self.threshold})')
