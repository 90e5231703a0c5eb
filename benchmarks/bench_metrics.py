"""Time segrefiner's evaluation functions against straightforward implementations and OpenCV.

Table 1: each metric of ``segrefiner.evaluation.functional`` is timed on 1024² and 2048² masks
next to a plain implementation of the same definition written here (``docs/metrics.md``):
seg2bmap with shifted arrays, disks and ellipses built from their row rules, neighbourhoods
checked with ``scipy.ndimage`` binary morphology, erosion by iterating a 3×3 square.

Table 2: the bit-packed morphology (``functional/bitmorph.py``) against ``cv2.erode`` /
``cv2.dilate`` / ``cv2.morphologyEx`` on realistic mask sizes (480×854 DAVIS, 1536×2048 HR; H×W):
the three operations the metrics need (Boundary IoU's square erosion with a zero border, mBA's
ellipse bands at its five radii, boundary F's disk dilation of a seg2bmap boundary) and the
three metrics written on OpenCV (same crops and rules as ours), OpenCV at its default thread
count and on one thread (the numpy code is single-threaded).

Both implementations of every row must give identical outputs (the script fails otherwise); the
tables report the median times and their ratio.

Usage::

    python benchmarks/bench_metrics.py [--sizes 1024 2048] [--morph-sizes 480x854 1536x2048]
                                       [--repeat 3]
"""
import argparse
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segrefiner.evaluation.functional import (boundary_f1, boundary_iou, mba,  # noqa: E402
                                              pooled_iou)
from segrefiner.evaluation.functional import bitmorph as bm  # noqa: E402
from segrefiner.evaluation.functional.boundary_acc import (boundary_bands,  # noqa: E402
                                                           mba_radii)
from segrefiner.evaluation.functional.boundary_fmeasure import (_bmap_words,  # noqa: E402
                                                                bound_pixels)
from segrefiner.evaluation.functional.mask_boundary import boundary_dilation  # noqa: E402
from segrefiner.evaluation.functional.utils import (disk_halfwidths, disk_kernel,  # noqa: E402
                                                    ellipse_kernel)
from segrefiner.evaluation.metrics import RefineMetric  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Straightforward implementations of the definitions.


def ref_binarize(m):
    return m >= 128 if m.dtype != bool else m


def ref_seg2bmap(seg):
    seg = seg.astype(bool)
    h, w = seg.shape
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def ref_disk(r):
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= r * r


def ref_ellipse(r):
    k = np.zeros((2 * r + 1, 2 * r + 1), bool)
    for dy in range(-r, r + 1):
        dx = int(round(math.sqrt(r * r - dy * dy)))
        k[dy + r, r - dx:r + dx + 1] = True
    return k


def ref_boundary_f1(pred, gt, bound_th=0.008):
    p, g = ref_binarize(pred), ref_binarize(gt)
    r = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*g.shape))
    bp, bg = ref_seg2bmap(p), ref_seg2bmap(g)
    disk = ref_disk(int(r))
    dp = ndimage.binary_dilation(bp, disk, border_value=0)
    dg = ndimage.binary_dilation(bg, disk, border_value=0)
    n_p, n_g = bp.sum(), bg.sum()
    if n_p == 0 and n_g > 0:
        prec, rec = 1.0, 0.0
    elif n_p > 0 and n_g == 0:
        prec, rec = 0.0, 1.0
    elif n_p == 0 and n_g == 0:
        prec, rec = 1.0, 1.0
    else:
        prec, rec = (bp & dg).sum() / float(n_p), (bg & dp).sum() / float(n_g)
    return 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)


def ref_mba(pred, gt):
    p, g = ref_binarize(pred), ref_binarize(gt)
    h, w = g.shape
    max_radius = (w + h) / 300
    accs = []
    for i in range(5):
        r = 1 + int((max_radius - 1) / 5 * i)
        k = ref_ellipse(r)
        band = ndimage.binary_dilation(g, k) & ~ndimage.binary_erosion(g, k, border_value=1)
        accs.append(((p == g) & band).sum() / band.sum())
    return sum(accs) / 5


def ref_boundary_iou(pred, gt, dilation_ratio=0.02):
    def boundary(m):
        h, w = m.shape
        d = max(1, int(round(dilation_ratio * math.sqrt(h * h + w * w))))
        padded = np.pad(m, 1)
        eroded = ndimage.binary_erosion(padded, np.ones((3, 3), bool), iterations=d,
                                        border_value=0)[1:-1, 1:-1]
        return m & ~eroded

    bp, bg = boundary(ref_binarize(pred)), boundary(ref_binarize(gt))
    inter = (bp & bg).sum()
    return inter / (bp | bg).sum() if inter else 0.0


def ref_pooled_iou(preds, gts):
    inter = union = 0
    for p, g in zip(preds, gts):
        p, g = ref_binarize(p), ref_binarize(g)
        inter += np.logical_and(p, g).sum()
        union += np.logical_or(p, g).sum()
    return inter / union


# ---------------------------------------------------------------------------------------------
# Test masks: a blobby object with a thin part and a hole (GT), and a coarse, shifted version.


def make_pair(size, seed=0):
    """(pred, gt) 0/255 uint8 masks of ``size`` (int: a square; or (H, W))."""
    height, width = (size, size) if isinstance(size, int) else size
    size = max(height, width)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float32) / size
    yy += (size - height) / (2 * size)
    xx += (size - width) / (2 * size)
    ang = np.arctan2(yy - 0.5, xx - 0.5)
    rad = np.hypot(yy - 0.5, xx - 0.5)
    wobble = 0.3 + 0.04 * np.sin(5 * ang + rng.uniform(0, 6)) + 0.02 * np.sin(13 * ang)
    gt = rad < wobble
    gt |= (np.abs(yy - 0.2) < 0.004) & (xx > 0.1) & (xx < 0.9)  # thin bar
    gt &= ~((np.abs(xx - 0.55) < 0.05) & (np.abs(yy - 0.5) < 0.05))  # hole
    # coarse prediction: smoothed, shifted and noisy
    pred = np.roll(rad < wobble * 1.03, (size // 200, -size // 300), axis=(0, 1))
    noise = rng.random((-(-height // 16), -(-width // 16))) < 0.1
    noise = np.kron(noise, np.ones((16, 16), bool))[:height, :width]
    pred ^= noise & (np.abs(rad - wobble) < 0.03)
    return (pred * 255).astype(np.uint8), (gt * 255).astype(np.uint8)


def refine_metric_fn(pred, coarse, gt):
    """RefineMetric.process on one sample (refined and coarse: IoU, mBA, BF), then the coarse BF
    from its statistics (``compute_metrics`` would round to 2 decimals and log a table)."""
    import torch

    def run():
        metric = RefineMetric()
        metric.process([None], [{
            'gt_sem_seg': {'data': torch.from_numpy((gt >= 128).astype(np.uint8))[None]},
            'pred_sem_seg': {'data': torch.from_numpy(pred)[None]},
            'coarse_sem_seg': {'data': torch.from_numpy(coarse)[None]},
        }])
        return metric._summary(np.stack([r['coarse'] for r in metric.results]))['BF']

    return run


def ref_refine_metric(pred, coarse, gt):
    """The same numbers from the plain implementations (what process needs per sample)."""
    for m in (pred, coarse):
        ref_pooled_iou([m], [gt])
        ref_mba(m, gt)
        out = ref_boundary_f1(m, gt)
    return out


# ---------------------------------------------------------------------------------------------
# The same morphology and metrics on OpenCV (table 2).


def _u8(mask):
    return np.ascontiguousarray(mask, dtype=np.uint8)


def _grown_box(mask, grow, shape):
    """Rows and columns ``(y0, y1, x0, x1)`` of the foreground's box grown by ``grow``."""
    x, y, w, h = cv2.boundingRect(_u8(mask))
    if w == 0:
        return None
    return (max(y - grow, 0), min(y + h + grow, shape[0]), max(x - grow, 0),
            min(x + w + grow, shape[1]))


def cv_erode_square(mask, d):
    """Erosion by the (2d+1)² square, outside the image = background (Boundary IoU)."""
    return cv2.erode(_u8(mask), np.ones((2 * d + 1, 2 * d + 1), np.uint8),
                     borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def cv_bands(gt, radii):
    """mBA's bands (CascadePSP: ``MORPH_GRADIENT > 0``, OpenCV's default border)."""
    g = _u8(gt)
    return {r: cv2.morphologyEx(g, cv2.MORPH_GRADIENT, ellipse_kernel(r)) > 0
            for r in sorted(set(radii))}


def cv_dilate_disk(mask, r):
    return cv2.dilate(_u8(mask), disk_kernel(r)) > 0


def cv_boundary_iou(pred, gt, dilation_ratio=0.02):
    """Boundary IoU with cv2.erode, on the box of both masks (zero outside: exact)."""
    p, g = pred >= 128, gt >= 128
    h, w = g.shape
    d = boundary_dilation(h, w, dilation_ratio)
    box = _grown_box(p | g, 0, g.shape)
    if box is None:
        return 0.0
    y0, y1, x0, x1 = box
    p, g = p[y0:y1, x0:x1], g[y0:y1, x0:x1]
    bp, bg = p & ~cv_erode_square(p, d), g & ~cv_erode_square(g, d)
    inter = cv2.countNonZero(_u8(bp & bg))
    return inter / cv2.countNonZero(_u8(bp | bg)) if inter else 0.0


def cv_mba(pred, gt):
    """mBA with cv2.morphologyEx, on the GT's foreground box grown by the largest radius
    (every band pixel lies there, and the crop ignores only background: exact)."""
    p, g = pred >= 128, gt >= 128
    h, w = g.shape
    radii = mba_radii(h, w)
    box = _grown_box(g, max(radii), g.shape)
    if box is None:
        return float('nan')
    y0, y1, x0, x1 = box
    p, g = p[y0:y1, x0:x1], g[y0:y1, x0:x1]
    bands = cv_bands(g, radii)
    right = _u8(p == g)
    accs = []
    for r in radii:
        total = cv2.countNonZero(_u8(bands[r]))
        accs.append(cv2.countNonZero(right & _u8(bands[r])) / total if total else float('nan'))
    return float(sum(accs) / len(accs))


def cv_boundary_f1(pred, gt, bound_th=0.008):
    """Boundary F with cv2.dilate of each seg2bmap boundary by the disk (on its grown box)."""
    p, g = pred >= 128, gt >= 128
    r = bound_pixels(bound_th, g.shape)
    bp, bg = ref_seg2bmap(p), ref_seg2bmap(g)

    def within(src, dst):  # src pixels with a dst pixel inside the disk
        box = _grown_box(dst, r, dst.shape)
        if box is None:
            return 0
        y0, y1, x0, x1 = box
        return cv2.countNonZero(_u8(src[y0:y1, x0:x1] & cv_dilate_disk(dst[y0:y1, x0:x1], r)))

    n_p, n_g = cv2.countNonZero(_u8(bp)), cv2.countNonZero(_u8(bg))
    if n_p == 0 and n_g > 0:
        prec, rec = 1.0, 0.0
    elif n_p > 0 and n_g == 0:
        prec, rec = 0.0, 1.0
    elif n_p == 0 and n_g == 0:
        prec, rec = 1.0, 1.0
    else:
        prec, rec = within(bp, bg) / float(n_p), within(bg, bp) / float(n_g)
    return 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)


def morphology_cases(shape):
    """(name, bit-packed fn, OpenCV fn) of one mask size; the outputs must be equal."""
    pred, gt = make_pair(shape)
    g = gt >= 128
    h, w = g.shape
    d = boundary_dilation(h, w)
    radii = mba_radii(h, w)
    r_bf = bound_pixels(0.008, (h, w))
    bmap = ref_seg2bmap(g)
    bmap_words = _bmap_words(g)

    def bm_erode():
        return bm.unpack(bm.erode_square(bm.pack(g), d, w), w)

    def bm_bands():
        return {b.radius: b.mask for b in boundary_bands(g, radii)}

    def bm_dilate():
        return bm.unpack(bm.dilate_many(bmap_words, w, {0: disk_halfwidths(r_bf)})[0], w)

    return [
        (f'erode {2 * d + 1}² square', bm_erode, lambda: cv_erode_square(g, d)),
        (f'mBA bands r={radii}', bm_bands, lambda: cv_bands(g, radii)),
        (f'dilate boundary, disk {r_bf}', bm_dilate, lambda: cv_dilate_disk(bmap, r_bf)),
        ('Boundary IoU (metric)', lambda: boundary_iou(pred, gt), lambda: cv_boundary_iou(pred, gt)),
        ('mBA (metric)', lambda: mba(pred, gt), lambda: cv_mba(pred, gt)),
        ('boundary F 0.008 (metric)', lambda: boundary_f1(pred, gt).f,
         lambda: cv_boundary_f1(pred, gt)),
    ]


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b)
    return float(a) == float(b)


def bench_morphology(shapes, repeat):
    """Table 2 rows and whether every pair of outputs was equal."""
    threads = cv2.getNumThreads()
    rows, ok = [], True
    for shape in shapes:
        for name, ours, opencv in morphology_cases(shape):
            t_ours, v_ours = timeit(ours, repeat)
            t_cv, v_cv = timeit(opencv, repeat)
            cv2.setNumThreads(1)
            try:
                t_cv1, _ = timeit(opencv, repeat)
            finally:
                cv2.setNumThreads(threads)
            same = _equal(v_ours, v_cv)
            ok &= same
            rows.append((f'{shape[0]}x{shape[1]}', name, t_ours * 1e3, t_cv * 1e3, t_cv1 * 1e3,
                         min(t_cv, t_cv1) / t_ours, 'yes' if same else 'NO'))
    return rows, ok, threads


def parse_shape(text: str):
    height, width = (int(v) for v in text.lower().split('x'))
    return height, width


def timeit(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 2048])
    parser.add_argument('--morph-sizes', type=parse_shape, nargs='*',
                        default=[(480, 854), (1536, 2048)], metavar='HxW',
                        help='mask sizes of the bit-packed vs OpenCV table (none: skip it)')
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args(argv)

    rows = []
    ok = True
    for size in args.sizes:
        pred, gt = make_pair(size)
        preds = [make_pair(size, s)[0] for s in range(4)]
        gts = [make_pair(size, s)[1] for s in range(4)]
        cases = [
            ('boundary F (0.008)', lambda: boundary_f1(pred, gt, 0.008).f,
             lambda: ref_boundary_f1(pred, gt, 0.008), 1),
            ('boundary F (2 px)', lambda: boundary_f1(pred, gt, 2).f,
             lambda: ref_boundary_f1(pred, gt, 2), args.repeat),
            ('mBA', lambda: mba(pred, gt), lambda: ref_mba(pred, gt), 1),
            ('boundary IoU (0.02)', lambda: boundary_iou(pred, gt),
             lambda: ref_boundary_iou(pred, gt), args.repeat),
            ('pooled IoU (4 images)', lambda: pooled_iou(preds, gts),
             lambda: ref_pooled_iou(preds, gts), args.repeat),
            ('RefineMetric (1 sample)', refine_metric_fn(pred, preds[1], gt),
             lambda: ref_refine_metric(pred, preds[1], gt), 1),
        ]
        for name, fast, ref, ref_repeat in cases:
            t_fast, v_fast = timeit(fast, args.repeat)
            t_ref, v_ref = timeit(ref, ref_repeat)
            same = float(v_fast) == float(v_ref)
            ok &= same
            rows.append((f'{size}x{size}', name, t_ref * 1e3, t_fast * 1e3, t_ref / t_fast,
                         float(v_fast), 'yes' if same else f'NO (ref {float(v_ref)!r})'))

    header = ('size', 'metric', 'plain [ms]', 'ours [ms]', 'speed-up', 'value', 'identical')
    fmt = '{:<10} {:<24} {:>11} {:>10} {:>9} {:>10} {}'
    print(fmt.format(*header))
    for size, name, tr, tf, ratio, val, same in rows:
        print(fmt.format(size, name, f'{tr:.1f}', f'{tf:.2f}', f'{ratio:.1f}x', f'{val:.6f}', same))
    if not ok:
        print('ERROR: fast and plain implementations disagree', file=sys.stderr)
    if args.morph_sizes:
        morph_rows, morph_ok, threads = bench_morphology(args.morph_sizes, args.repeat)
        print(f'\nbit-packed morphology (numpy, 1 thread) vs OpenCV ({threads} threads / 1 thread)')
        fmt = '{:<10} {:<30} {:>12} {:>12} {:>12} {:>9} {}'
        print(fmt.format('HxW', 'operation', 'bitmorph [ms]', f'cv2 x{threads} [ms]',
                         'cv2 x1 [ms]', 'speed-up', 'identical'))
        for size, name, tb, tc, tc1, ratio, same in morph_rows:
            print(fmt.format(size, name, f'{tb:.2f}', f'{tc:.2f}', f'{tc1:.2f}', f'{ratio:.1f}x',
                             same))
        if not morph_ok:
            print('ERROR: bit-packed and OpenCV morphology disagree', file=sys.stderr)
        ok &= morph_ok
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
