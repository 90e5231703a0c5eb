"""Evaluate refined masks against the GT, next to the coarse masks: pooled IoU, mBA, boundary F.

SegRefiner's ``scripts/eval_miou.py`` (BIG) and ``eval_miou_dis.py`` (DIS-5K), with the metrics of
``segrefiner.evaluation.functional``:

* IoU: foreground IoU pooled over the folder, ``Σ|P ∩ G| / Σ|P ∪ G|``;
* mBA: CascadePSP's mean boundary accuracy, the mean over images (an image whose GT is constant
  has no boundary band and is skipped; the number skipped is printed);
* BF: DAVIS boundary F-measure (tolerance ``--bound-th``), the mean over images.

Masks are read as 8-bit grey (PIL ``convert('L')``, like the reference) and binarised at
``>= 128`` (``--threshold``).

Folder layouts (``--layout``):

* ``big``: ``--gt`` holds ``NAME_gt.png``, ``--coarse`` ``NAME_seg.png``, ``--refine``
  ``NAME_refine.png``; other files in these folders (``NAME_im.jpg``, a coarse folder's own
  ``NAME_gt.png``) are ignored, as BIG and CascadePSP ship them side by side;
* ``dis``: all three folders hold the same file names;
* ``auto`` (default): ``big`` when the GT folder holds ``_gt`` names and the coarse folder
  ``_seg`` names, else ``dis``.

Usage::

    python scripts/eval_miou.py --gt data/big/test --coarse data/big/coarse/fcn \\
        --refine work_dirs/big_refine [--nproc 2] [--json results.json]
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from segrefiner.evaluation.functional import (band_accuracies, bound_pixels,  # noqa: E402
                                              boundary_bands, intersection_union)
from segrefiner.evaluation.functional.boundary_fmeasure import (  # noqa: E402
    counts_from_masks, f_measure_array)

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
#: Name suffixes of the BIG layout (before the extension).
BIG_SUFFIXES = {'gt': '_gt', 'coarse': '_seg', 'refine': '_refine'}
#: Per-image statistics of one mask: intersection, union, mBA, boundary counts (4).
N_STATS = 7


class EvalInputError(ValueError):
    """The folders cannot be evaluated (names, unreadable files, sizes)."""


def list_images(folder: str) -> List[str]:
    if not osp.isdir(folder):
        raise EvalInputError(f'not a folder: {folder}')
    return sorted(f for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTS) and osp.isfile(osp.join(folder, f)))


def _big_name(gt_name: str, kind: str) -> Optional[str]:
    stem, ext = osp.splitext(gt_name)
    if not stem.endswith(BIG_SUFFIXES['gt']):
        return None
    return stem[:-len(BIG_SUFFIXES['gt'])] + BIG_SUFFIXES[kind] + ext


def _role_names(names: Sequence[str], kind: str) -> List[str]:
    """The names whose stem ends with the BIG suffix of ``kind`` (``_gt``, ``_seg``...)."""
    return [n for n in names if osp.splitext(n)[0].endswith(BIG_SUFFIXES[kind])]


def detect_layout(gt_names: Sequence[str], coarse_names: Sequence[str]) -> str:
    """``'big'`` if the GT folder has ``_gt`` names and the coarse folder ``_seg`` names."""
    if _role_names(gt_names, 'gt') and _role_names(coarse_names, 'coarse'):
        return 'big'
    return 'dis'


def _names_error(missing: Dict[str, List[str]]) -> EvalInputError:
    lines = ['the three folders do not hold the same images:']
    for where, names in missing.items():
        shown = ', '.join(names[:10]) + (f', ... ({len(names)} in all)' if len(names) > 10 else '')
        lines.append(f'  missing in {where}: {shown}')
    return EvalInputError('\n'.join(lines))


def pair_files(gt_dir: str, coarse_dir: str, refine_dir: str,
               layout: str = 'auto') -> Tuple[str, List[Tuple[str, str, str, str]]]:
    """Match the three folders' files.

    Returns:
        (layout, [(name, gt_path, coarse_path, refine_path), ...]) sorted by GT name.

    Raises:
        EvalInputError: naming every file missing in one folder but present in another.
    """
    gt_names = list_images(gt_dir)
    coarse_names = list_images(coarse_dir)
    refine_names = list_images(refine_dir)
    if layout == 'auto':
        layout = detect_layout(gt_names, coarse_names)
    if layout not in ('big', 'dis'):
        raise EvalInputError(f"layout must be 'auto', 'big' or 'dis', got {layout!r}")
    if not gt_names:
        raise EvalInputError(f'no images in the GT folder {gt_dir}')

    if layout == 'big':
        # BIG's folders also hold the images (and CascadePSP's coarse folders the GT): only the
        # files of each folder's role take part.
        gt_names = _role_names(gt_names, 'gt')
        coarse_names = _role_names(coarse_names, 'coarse')
        refine_names = _role_names(refine_names, 'refine')
        if not gt_names:
            raise EvalInputError(f'BIG layout: no NAME_gt images in the GT folder {gt_dir}')
        to_coarse = {n: _big_name(n, 'coarse') for n in gt_names}
        to_refine = {n: _big_name(n, 'refine') for n in gt_names}
        # the GT name each coarse/refine file stands for
        back = {}
        for kind, names in (('coarse', coarse_names), ('refine', refine_names)):
            suf = BIG_SUFFIXES[kind]
            back[kind] = {}
            for n in names:
                stem, ext = osp.splitext(n)
                key = stem[:-len(suf)] + BIG_SUFFIXES['gt'] + ext if stem.endswith(suf) else n
                back[kind][key] = n
    else:
        to_coarse = {n: n for n in gt_names}
        to_refine = {n: n for n in gt_names}
        back = {'coarse': {n: n for n in coarse_names}, 'refine': {n: n for n in refine_names}}

    missing: Dict[str, List[str]] = {}
    coarse_set, refine_set = set(coarse_names), set(refine_names)
    m = [to_coarse[n] for n in gt_names if to_coarse[n] not in coarse_set]
    if m:
        missing[f'--coarse {coarse_dir}'] = m
    m = [to_refine[n] for n in gt_names if to_refine[n] not in refine_set]
    if m:
        missing[f'--refine {refine_dir}'] = m
    gt_set = set(gt_names)
    extra = sorted({g for kind in ('coarse', 'refine') for g in back[kind] if g not in gt_set})
    if extra:
        missing[f'--gt {gt_dir}'] = extra
    if missing:
        raise _names_error(missing)
    return layout, [(n, osp.join(gt_dir, n), osp.join(coarse_dir, to_coarse[n]),
                     osp.join(refine_dir, to_refine[n])) for n in gt_names]


def read_mask(path: str, threshold: float = 128) -> np.ndarray:
    """An image file as an 8-bit grey mask (PIL ``convert('L')``) binarised at ``>= threshold``."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert('L'))
    except Exception as e:  # noqa: BLE001 - any decoder error means the same to the user
        raise EvalInputError(f'cannot read {path}: {type(e).__name__}: {e}') from None
    return grey >= threshold


def _mask_stats(mask: np.ndarray, gt: np.ndarray, bands, radius: int) -> np.ndarray:
    inter, union = intersection_union(mask, gt)
    acc = band_accuracies(mask, gt, bands)
    mba = sum(acc.tolist()) / len(acc)
    return np.array([inter, union, mba, *counts_from_masks(mask, gt, [radius])[0]], np.float64)


def evaluate_files(task) -> np.ndarray:
    """Statistics (2, 7) of one image: rows coarse, refined. ``task`` = (name, gt, coarse,
    refine paths, threshold, bound_th)."""
    name, gt_path, coarse_path, refine_path, threshold, bound_th = task
    gt = read_mask(gt_path, threshold)
    masks = []
    for kind, path in (('coarse', coarse_path), ('refined', refine_path)):
        m = read_mask(path, threshold)
        if m.shape != gt.shape:
            raise EvalInputError(f'{name}: the {kind} mask {path} is {m.shape[0]}x{m.shape[1]} '
                                 f'(HxW) but the GT {gt_path} is {gt.shape[0]}x{gt.shape[1]}')
        masks.append(m)
    bands = boundary_bands(gt)
    radius = bound_pixels(bound_th, gt.shape)
    return np.stack([_mask_stats(m, gt, bands, radius) for m in masks])


def summarize(stats: np.ndarray) -> Dict[str, float]:
    """Dataset numbers in [0, 1] from per-image statistics (N, 7) of one mask kind."""
    inter, union, mba = stats[:, 0], stats[:, 1], stats[:, 2]
    valid = ~np.isnan(mba)
    f = f_measure_array(stats[:, 3:7].astype(np.int64))[0]
    return {
        'IoU': float(inter.sum() / union.sum()) if union.sum() else float('nan'),
        'mBA': float(mba[valid].mean()) if valid.any() else float('nan'),
        'BF': float(f.mean()),
    }


def evaluate_folders(gt_dir: str, coarse_dir: str, refine_dir: str, layout: str = 'auto',
                     threshold: float = 128, bound_th: float = 0.008, nproc: int = 1,
                     progress: bool = True) -> dict:
    """Evaluate the three folders.

    Returns:
        dict: ``coarse`` and ``refined`` (each ``{'IoU', 'mBA', 'BF'}`` in [0, 1]), ``layout``,
        ``num_images`` and ``mba_skipped`` (images without GT boundary).
    """
    bound_pixels(bound_th, (1, 1))  # validate early
    layout, files = pair_files(gt_dir, coarse_dir, refine_dir, layout)
    tasks = [(*f, threshold, bound_th) for f in files]
    if nproc > 1 and len(tasks) > 1:
        from mmengine.utils import track_parallel_progress
        if progress:
            per_image = track_parallel_progress(evaluate_files, tasks, nproc, file=sys.stdout)
        else:
            from multiprocessing import Pool
            with Pool(nproc) as pool:
                per_image = pool.map(evaluate_files, tasks)
    else:
        if progress:
            from mmengine.utils import track_iter_progress
            tasks = track_iter_progress(tasks, file=sys.stdout)
        per_image = [evaluate_files(t) for t in tasks]
    stats = np.stack(per_image)  # (N, 2, 7)
    return {
        'layout': layout,
        'num_images': len(files),
        'mba_skipped': int(np.isnan(stats[:, 1, 2]).sum()),
        'coarse': summarize(stats[:, 0]),
        'refined': summarize(stats[:, 1]),
    }


def format_table(results: dict) -> str:
    """Rows IoU / mBA / BF, columns coarse, refined, delta (percentages)."""
    from prettytable import PrettyTable
    table = PrettyTable()
    table.field_names = ['metric', 'coarse', 'refined', 'delta']
    for key in ('IoU', 'mBA', 'BF'):
        c, r = results['coarse'][key] * 100, results['refined'][key] * 100
        table.add_row([key, f'{c:.2f}', f'{r:.2f}', f'{r - c:+.2f}'])
    lines = [table.get_string(),
             f'{results["num_images"]} images ({results["layout"]} layout); IoU pooled over '
             f'the images, mBA and BF averaged per image']
    if results['mba_skipped']:
        lines.append(f'{results["mba_skipped"]} images without GT boundary were skipped by mBA')
    return '\n'.join(lines)


def build_parser(default_layout: str = 'auto', prog: Optional[str] = None,
                 description: Optional[str] = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description or __doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gt', required=True, help='folder of GT masks')
    parser.add_argument('--coarse', required=True, help='folder of coarse masks')
    parser.add_argument('--refine', required=True, help='folder of refined masks')
    parser.add_argument('--layout', choices=['auto', 'big', 'dis'], default=default_layout,
                        help=f'file naming (default: {default_layout}; see the module doc)')
    parser.add_argument('--threshold', type=float, default=128,
                        help='foreground iff grey value >= this (default 128)')
    parser.add_argument('--bound-th', type=float, default=0.008,
                        help='boundary F tolerance: < 1 fraction of the diagonal, >= 1 pixels')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--json', help='also write the numbers to this JSON file')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def main(argv: Optional[Sequence[str]] = None, default_layout: str = 'auto',
         prog: Optional[str] = None, description: Optional[str] = None) -> int:
    args = build_parser(default_layout, prog, description).parse_args(argv)
    try:
        results = evaluate_folders(args.gt, args.coarse, args.refine, args.layout,
                                   args.threshold, args.bound_th, args.nproc,
                                   progress=not args.no_progress)
    except EvalInputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(format_table(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
