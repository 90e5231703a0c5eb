"""Binary morphology on bit-packed masks: 64 pixels per word, so one numpy op touches 64 pixels.

A mask (H, W) is stored as ``words`` of shape (H, ceil(W / 64)), dtype little-endian uint64;
pixel x of a row is bit ``x % 64`` of word ``x // 64``. The padding bits past W are always 0,
and every operation here keeps them 0, so they behave as pixels outside the image.

Structuring elements are given by their row half-widths (a symmetric kernel whose row dy covers
``[-hw[dy], hw[dy]]``: disks, ellipses, squares). Out-of-image pixels are 0 for every operation:

* dilation (OR) with 0 outside == "outside pixels are ignored" (OpenCV's default border);
* erosion (AND) with 0 outside == "outside is background" (the zero pad of Boundary IoU).

Costs at 2048²: pack/unpack ≈ 0.4 ms, a shift ≈ 0.2 ms, an AND/OR ≈ 0.03 ms.

Why not ``cv2.erode`` / ``cv2.dilate``: ``benchmarks/bench_metrics.py`` (table 2) times both on
the same masks with identical outputs. On the 2-core development machine, at 480×854 they tie
(mBA bands 0.9×, the three metrics 1.0–1.6× in favour of this module); at 1536×2048 this module
is 3.4× faster for Boundary IoU's 103² erosion, 5.7× for mBA's five ellipse bands and 8× for
boundary F's disk-21 dilation (metrics: 3.2×, 4.3×, 6.2×), OpenCV on 1 or 2 threads.
"""
from typing import Dict, Hashable, Sequence, Tuple

import numpy as np

WORD = 64
U64 = np.dtype('<u8')
_ONE = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S56 = np.uint64(56)


def n_words(width: int) -> int:
    return (width + WORD - 1) // WORD


def pack(mask: np.ndarray) -> np.ndarray:
    """Pack a 2-D bool mask into (H, ceil(W/64)) little-endian uint64 words."""
    h, w = mask.shape
    nw = n_words(w)
    out = np.zeros((h, nw * 8), np.uint8)
    if w:
        out[:, :(w + 7) // 8] = np.packbits(mask, axis=1, bitorder='little')
    return out.view(U64)


def unpack(words: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`pack`: a bool (H, width) array."""
    return np.unpackbits(
        words.view(np.uint8), axis=1, count=width, bitorder='little').view(bool)


def _last_word_mask(width: int) -> np.uint64:
    rem = width % WORD
    return np.uint64(0xFFFFFFFFFFFFFFFF if rem == 0 else (1 << rem) - 1)


def clear_padding(words: np.ndarray, width: int) -> np.ndarray:
    """Zero the bits past ``width`` (in place); returns ``words``."""
    if width % WORD and words.shape[1]:
        words[:, -1] &= _last_word_mask(width)
    return words


def invert(words: np.ndarray, width: int) -> np.ndarray:
    """Complement inside the image (padding stays 0)."""
    return clear_padding(~words, width)


def popcount(words: np.ndarray) -> int:
    """Number of set bits."""
    x = words[words != 0]
    if x.size == 0:
        return 0
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return int(((x * _H01) >> _S56).sum())


def hshift(words: np.ndarray, s: int, width: int) -> np.ndarray:
    """``out[y, x] = in[y, x + s]`` (0 where ``x + s`` is outside the image)."""
    if s == 0:
        return words.copy()
    nw = words.shape[1]
    k, b = divmod(abs(s), WORD)
    if k >= nw:
        return np.zeros_like(words)
    if k == 0:  # the common case: a shift inside a word plus the carry from the neighbour
        if s > 0:
            out = words >> np.uint64(b)
            out[:, :-1] |= words[:, 1:] << np.uint64(WORD - b)
            return out
        out = words << np.uint64(b)
        out[:, 1:] |= words[:, :-1] >> np.uint64(WORD - b)
        return clear_padding(out, width)
    out = np.zeros_like(words)
    if s > 0:
        src = words[:, k:]
        if b == 0:
            out[:, :nw - k] = src
        else:
            np.right_shift(src, np.uint64(b), out=out[:, :nw - k])
            out[:, :nw - k - 1] |= src[:, 1:] << np.uint64(WORD - b)
    else:
        src = words[:, :nw - k]
        if b == 0:
            out[:, k:] = src
        else:
            np.left_shift(src, np.uint64(b), out=out[:, k:])
            out[:, k + 1:] |= src[:, :-1] >> np.uint64(WORD - b)
        clear_padding(out, width)
    return out


def vshift(words: np.ndarray, s: int) -> np.ndarray:
    """``out[y] = in[y + s]`` (0 outside)."""
    h = words.shape[0]
    out = np.zeros_like(words)
    if abs(s) < h:
        if s >= 0:
            out[:h - s] = words[s:]
        else:
            out[-s:] = words[:h + s]
    return out


def or_vshifted(dst: np.ndarray, src: np.ndarray, s: int) -> None:
    """``dst[y] |= src[y + s]`` in place (rows of ``src`` outside the image contribute 0)."""
    h = dst.shape[0]
    if abs(s) >= h:
        return
    if s >= 0:
        dst[:h - s] |= src[s:]
    else:
        dst[-s:] |= src[:h + s]


def _run_and(words: np.ndarray, length: int, shift) -> np.ndarray:
    """AND over offsets ``[0, length)`` along one axis (``shift(a, s)``: a at +s, 0 outside)."""
    acc = words
    cur = 1
    while cur * 2 <= length:
        acc = acc & shift(acc, cur)
        cur *= 2
    if cur < length:
        acc = acc & shift(acc, length - cur)
    return acc


def erode_square(words: np.ndarray, d: int, width: int) -> np.ndarray:
    """Erosion by the (2d+1)×(2d+1) square with everything outside the image taken as 0."""
    if d <= 0:
        return words.copy()
    length = 2 * d + 1
    a = _run_and(words, length, lambda x, s: hshift(x, s, width))
    a = hshift(a, -d, width)  # window [x - d, x + d]
    a = _run_and(a, length, vshift)
    return vshift(a, -d)


def dilate_many(words: np.ndarray, width: int,
                kernels: Dict[Hashable, Sequence[int]]) -> Dict[Hashable, np.ndarray]:
    """Dilate one mask by several symmetric kernels given by row half-widths.

    The horizontal dilations ``H_w`` (OR over ``[x - w, x + w]``) are built incrementally and
    shared by all kernels; kernel row dy adds ``H_{hw[dy]}`` shifted by dy. Pixels outside the
    image are ignored (OpenCV's default border).

    Returns:
        dict: the dilated words per kernel key.
    """
    rows_by_w: Dict[int, list] = {}
    for key, hws in kernels.items():
        r = (len(hws) - 1) // 2
        for i, hw in enumerate(hws):
            rows_by_w.setdefault(int(hw), []).append((key, i - r))
    out = {key: np.zeros_like(words) for key in kernels}
    max_w = max(rows_by_w) if rows_by_w else 0
    hw_plane = words
    for w in range(max_w + 1):
        if w > 0:
            hw_plane = hw_plane | hshift(hw_plane, 1, width) | hshift(hw_plane, -1, width)
        for key, dy in rows_by_w.get(w, ()):
            # kernel row dy at p covers pixels p + (dy, ·): out[y] |= H_w[y + dy] (symmetric)
            or_vshifted(out[key], hw_plane, dy)
    return out


def nonzero(words: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Row-major ``(ys, xs)`` (int64) of the set bits."""
    r, c = np.nonzero(words)
    if r.size == 0:
        e = np.zeros(0, np.int64)
        return e, e
    bits = np.unpackbits(
        words[r, c].view(np.uint8).reshape(-1, 8), axis=1, bitorder='little').view(bool)
    wi, bi = np.nonzero(bits)
    return r[wi].astype(np.int64), c[wi].astype(np.int64) * WORD + bi


def row_word_box(words: np.ndarray):
    """Rows and word columns ``(y0, y1, c0, c1)`` holding set bits (None when there are none)."""
    rows = np.flatnonzero(words.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(words[rows[0]:rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def edge_word_box(words: np.ndarray, width: int):
    """Rows and word columns ``(y0, y1, c0, c1)`` holding both pixels of every pair of 4-adjacent
    pixels with different values (None when the mask is constant)."""
    h = words.shape[0]
    diff = words ^ hshift(words, 1, width)  # pixel x vs x + 1
    if width:
        diff[:, (width - 1) // WORD] &= ~np.uint64(1 << ((width - 1) % WORD))
    # the right pixel of a horizontal pair may sit in the next word
    diff[:, 1:] |= (diff[:, :-1] >> np.uint64(WORD - 1))
    if h > 1:
        v = words[:-1] ^ words[1:]
        diff[:-1] |= v
        diff[1:] |= v
    return row_word_box(diff)
