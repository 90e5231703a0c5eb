"""Literal, loop-based implementations of the metric definitions (``docs/metrics.md``).

They follow the words of the definitions pixel by pixel, so they are slow and only used on tiny
masks, as an oracle independent of the vectorised (bit-packed) code under test.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest


def seg2bmap(m):
    """A pixel is boundary if it differs from its E, S or SE neighbour (last row: E only; last
    column: S only; bottom-right: never)."""
    h, w = m.shape
    b = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            if y == h - 1 and x == w - 1:
                continue
            if y == h - 1:
                nbrs = [(y, x + 1)]
            elif x == w - 1:
                nbrs = [(y + 1, x)]
            else:
                nbrs = [(y, x + 1), (y + 1, x), (y + 1, x + 1)]
            b[y, x] = any(m[ny, nx] != m[y, x] for ny, nx in nbrs)
    return b


def boundary_f1(p, g, radius, void=None):
    """(f, precision, recall) with matching by Euclidean distance <= radius and DAVIS' rules."""
    if void is not None:
        p, g = p & ~void, g & ~void
    bp, bg = np.argwhere(seg2bmap(p)), np.argwhere(seg2bmap(g))

    def matched(a, b):
        return sum(any((y - v)**2 + (x - u)**2 <= radius**2 for v, u in b) for y, x in a)

    n_p, n_g = len(bp), len(bg)
    if n_p == 0 and n_g > 0:
        prec, rec = 1.0, 0.0
    elif n_p > 0 and n_g == 0:
        prec, rec = 0.0, 1.0
    elif n_p == 0 and n_g == 0:
        prec, rec = 1.0, 1.0
    else:
        prec, rec = matched(bp, bg) / n_p, matched(bg, bp) / n_g
    f = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return f, prec, rec


def in_ellipse(dy, dx, r):
    """OpenCV's ellipse: row dy spans |dx| <= round(sqrt(r² - dy²))."""
    return abs(dy) <= r and abs(dx) <= int(math.floor(math.sqrt(r * r - dy * dy) + 0.5))


def mba_band(g, r):
    """Pixels whose ellipse window (clipped to the image) holds both GT values."""
    h, w = g.shape
    band = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            vals = {bool(g[y + dy, x + dx]) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
                    if in_ellipse(dy, dx, r) and 0 <= y + dy < h and 0 <= x + dx < w}
            band[y, x] = len(vals) == 2
    return band


def mba(p, g):
    h, w = g.shape
    max_radius = (w + h) / 300
    accs = []
    for i in range(5):
        r = 1 + int((max_radius - 1) / 5 * i)
        band = mba_band(g, r)
        accs.append(np.count_nonzero(band & (p == g)) / np.count_nonzero(band)
                    if band.any() else float('nan'))
    return sum(accs) / 5


def mask_to_boundary(m, ratio=0.02):
    """Foreground pixels with background or the image edge within Chebyshev distance d."""
    h, w = m.shape
    d = max(1, int(round(ratio * math.sqrt(h * h + w * w))))
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            if not m[y, x]:
                continue
            out[y, x] = any(not (0 <= y + dy < h and 0 <= x + dx < w) or not m[y + dy, x + dx]
                            for dy in range(-d, d + 1) for dx in range(-d, d + 1))
    return out


def boundary_iou(p, g, ratio=0.02):
    bp, bg = mask_to_boundary(p, ratio), mask_to_boundary(g, ratio)
    inter = np.count_nonzero(bp & bg)
    return inter / np.count_nonzero(bp | bg) if inter else 0.0


@pytest.fixture(scope='session')
def plain():
    """The literal reference implementations above."""
    return SimpleNamespace(seg2bmap=seg2bmap, boundary_f1=boundary_f1, in_ellipse=in_ellipse,
                           mba_band=mba_band, mba=mba, mask_to_boundary=mask_to_boundary,
                           boundary_iou=boundary_iou)


def random_blobs(rng, h, w, n=3, noise=0.0):
    """A random binary mask: a few rectangles and ellipses, optional salt-and-pepper noise."""
    yy, xx = np.mgrid[:h, :w]
    m = np.zeros((h, w), bool)
    for _ in range(n):
        cy, cx = rng.uniform(-0.1, 1.1) * h, rng.uniform(-0.1, 1.1) * w
        ry, rx = rng.uniform(0.05, 0.4) * h + 1, rng.uniform(0.05, 0.4) * w + 1
        if rng.random() < 0.5:
            m ^= ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1
        else:
            m |= (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
    if noise:
        m ^= rng.random((h, w)) < noise
    return m


@pytest.fixture
def blobs(rng):
    return lambda h, w, n=3, noise=0.0: random_blobs(rng, h, w, n, noise)
