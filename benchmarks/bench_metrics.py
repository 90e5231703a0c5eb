"""Time segrefiner's evaluation functions against straightforward implementations.

Each metric of ``segrefiner.evaluation.functional`` is timed on 1024² and 2048² masks next to a
plain implementation of the same definition written here (``docs/metrics.md``): seg2bmap with
shifted arrays, disks and ellipses built from their row rules, neighbourhoods checked with
``scipy.ndimage`` binary morphology, erosion by iterating a 3×3 square. Both must give identical
numbers (the script fails otherwise); the table reports the median times and their ratio.

Usage::

    python benchmarks/bench_metrics.py [--sizes 1024 2048] [--repeat 3]
"""
import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segrefiner.evaluation.functional import (boundary_f1, boundary_iou, mba,  # noqa: E402
                                              pooled_iou)
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
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    ang = np.arctan2(yy - 0.5, xx - 0.5)
    rad = np.hypot(yy - 0.5, xx - 0.5)
    wobble = 0.3 + 0.04 * np.sin(5 * ang + rng.uniform(0, 6)) + 0.02 * np.sin(13 * ang)
    gt = rad < wobble
    gt |= (np.abs(yy - 0.2) < 0.004) & (xx > 0.1) & (xx < 0.9)  # thin bar
    gt &= ~((np.abs(xx - 0.55) < 0.05) & (np.abs(yy - 0.5) < 0.05))  # hole
    # coarse prediction: smoothed, shifted and noisy
    pred = np.roll(rad < wobble * 1.03, (size // 200, -size // 300), axis=(0, 1))
    noise = rng.random((size // 16, size // 16)) < 0.1
    noise = np.kron(noise, np.ones((16, 16), bool))[:size, :size]
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
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
