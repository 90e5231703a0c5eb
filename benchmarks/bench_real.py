"""Refinement of real images: coarse vs refined masks per coarse kind and ``refine()`` mode.

For every pair of a folder laid out as ``NAME_image.png`` (RGB) + ``NAME_mask.png`` (the GT,
0/255) with an optional ``NAME_labels.png`` (one id per instance, 0 = background), coarse
masks of each kind are made from the GT, refined with ``refine(model, image, coarse, mode)``
for each mode, and coarse and refined masks are scored against the GT. One table compares the
modes: per kind and over all kinds, the pooled IoU (intersections and unions summed over the
images), the mean mBA and the mean boundary F at 2 px (``segrefiner.evaluation.functional``:
``intersection_union``, ``mba``, ``boundary_f1``), in percent, with the change over the
coarse masks, the seconds per image of ``refine()`` and the network evaluations per image
(denoiser samples, counted by a forward hook). ``--test-cfg KEY=VALUE ...`` overrides the
model's ``test_cfg`` for every mode (nested keys with dots: ``early_exit.tol=0.003``);
``--savings KEY=VALUE ...`` adds a ``MODE+savings`` row per mode, refined with those keys on
top, so that the full schedule and the savings are compared in one run.

Coarse kinds (:data:`COARSE_KINDS`), deterministic for a ``--seed``:

- ``down8``, ``down16``: a low-resolution semantic head: the GT area-averaged to 1/8 (1/16) of
  the image size, thresholded, up-sampled bilinearly and thresholded again (``resample_mask``);
- ``dilate5``, ``erode5``: dilation / erosion by OpenCV's ellipse of radius 5 px;
- ``polygon``: polygon simplification: every contour (holes included) kept as a seeded random
  tenth of its vertices (SegRefiner's stage A, ``degrade_polygons``, without its cut).

With a labels file each instance's coarse mask is made on its own and the coarse mask is their
union (touching instances stay apart under erosion; small ones may vanish when down-sampled).
The refined mask is one ``refine()`` of that coarse mask; an empty coarse mask stays empty.
Panels (``--out-dir``): ``NAME_KIND_MODE.png``, image | coarse | refined | GT drawn by
``RefineLocalVisualizer``, each view scaled to at most ``--panel-side`` px.

The folder is for evaluation only: nothing here trains or tunes anything on it.

    python benchmarks/bench_real.py DIR [--config CFG --checkpoint CKPT] [--modes auto crop hr]
        [--kinds ...] [--steps 6] [--seed 0] [--out-dir PANELS] [--json RESULTS.json]
        [--test-cfg KEY=VALUE ...] [--savings KEY=VALUE ...]
"""
import argparse
import glob
import json
import os.path as osp
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.config import DictAction
from mmengine.utils import ProgressBar
from torch import nn

from segrefiner.apis import init_refiner, refine
from segrefiner.apis.inference import REFINE_MODES, load_image, load_mask
from segrefiner.datasets.transforms import resample_mask
from segrefiner.datasets.transforms.coarse_mask import degrade_polygons
from segrefiner.evaluation.functional import (boundary_bands, boundary_f1, ellipse_kernel,
                                              intersection_union, mba)
from segrefiner.evaluation.metrics.utils import make_table, percent
from segrefiner.utils.io import write_bytes_atomic, write_image_atomic
from segrefiner.visualization import draw_refine_panel

COARSE_KINDS = ('down8', 'down16', 'dilate5', 'erode5', 'polygon')
#: Boundary F tolerance in pixels.
BOUND_PX = 2


@dataclass
class Pair:
    """One benchmark image: ``NAME_image.png``, ``NAME_mask.png``, ``NAME_labels.png``."""
    name: str
    image: str
    mask: str
    labels: Optional[str] = None


@dataclass
class Scores:
    """Sums and per-image values of one (kind, source) cell of the table."""
    inter: int = 0
    union: int = 0
    mbas: List[float] = field(default_factory=list)
    fs: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    evals: List[int] = field(default_factory=list)

    def add(self, other: 'Scores') -> None:
        self.inter += other.inter
        self.union += other.union
        self.mbas += other.mbas
        self.fs += other.fs
        self.seconds += other.seconds
        self.evals += other.evals

    def summary(self) -> Dict[str, float]:
        """Pooled IoU, mean mBA and mean F@2px in percent; mean seconds and network
        evaluations per image."""
        out = dict(iou=percent(self.inter / self.union if self.union else float('nan')),
                   mba=percent(np.nanmean(self.mbas)), f2px=percent(np.mean(self.fs)))
        if self.seconds:
            out['seconds'] = round(float(np.mean(self.seconds)), 3)
        if self.evals:
            out['evals'] = round(float(np.mean(self.evals)), 2)
        return out


class EvalCounter:
    """Counts a module's evaluations (samples, summed over calls) with a forward hook;
    :meth:`remove` takes the hook off the module again."""

    def __init__(self, module: nn.Module) -> None:
        self.evals = 0
        self._handle = module.register_forward_hook(self._count)

    def _count(self, module: nn.Module, args: tuple, output) -> None:
        self.evals += args[0].shape[0]

    def remove(self) -> None:
        self._handle.remove()


def nested_options(options: Optional[dict]) -> dict:
    """``{'early_exit.tol': 0.003}`` (``DictAction``'s dotted keys) as nested dicts."""
    out: dict = {}
    for key, value in (options or {}).items():
        *parents, leaf = key.split('.')
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                raise ValueError(f'test_cfg option {key!r} sets a key inside a non-dict value')
        node[leaf] = value
    return out


def find_pairs(folder: str) -> List[Pair]:
    """The pairs of ``folder``, sorted by name.

    Raises:
        FileNotFoundError: the folder does not exist or holds no ``*_image.png``, or an image
            has no ``NAME_mask.png``.
        ValueError: a mask or labels file has no image.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'benchmark folder not found: {folder}')
    images = sorted(glob.glob(osp.join(folder, '*_image.png')))
    if not images:
        raise FileNotFoundError(f'no NAME_image.png in {folder}')
    pairs = []
    for image in images:
        name = osp.basename(image)[:-len('_image.png')]
        mask = osp.join(folder, f'{name}_mask.png')
        if not osp.isfile(mask):
            raise FileNotFoundError(f'the GT mask of {image} is missing: {mask}')
        labels = osp.join(folder, f'{name}_labels.png')
        pairs.append(Pair(name, image, mask, labels if osp.isfile(labels) else None))
    names = {p.name for p in pairs}
    for suffix in ('_mask.png', '_labels.png'):
        for path in sorted(glob.glob(osp.join(folder, f'*{suffix}'))):
            if osp.basename(path)[:-len(suffix)] not in names:
                raise ValueError(f'{path} has no image ({osp.basename(path)[:-len(suffix)]}'
                                 '_image.png)')
    return pairs


def load_instances(pair: Pair, shape: Tuple[int, int]) -> Optional[List[np.ndarray]]:
    """(H, W) bool mask of each instance of the labels file (None without one)."""
    if pair.labels is None:
        return None
    labels = mmcv.imread(pair.labels, 'unchanged', backend='pillow')
    if labels is None or labels.ndim != 2 or labels.shape != shape:
        raise ValueError(f'labels file {pair.labels} must be an (H, W) id image of the '
                         f'image size {shape}')
    return [labels == i for i in np.unique(labels) if i != 0]


def coarse_of(gt: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """(H, W) bool coarse mask of one object's (H, W) bool GT (:data:`COARSE_KINDS`)."""
    height, width = gt.shape
    binary = gt.astype(np.uint8)
    if kind in ('down8', 'down16'):
        factor = int(kind[4:])
        low = (max(1, round(height / factor)), max(1, round(width / factor)))
        return resample_mask(binary, low).astype(bool)
    if kind == 'dilate5':
        return cv2.dilate(binary, ellipse_kernel(5)).astype(bool)
    if kind == 'erode5':
        return cv2.erode(binary, ellipse_kernel(5)).astype(bool)
    if kind == 'polygon':
        return degrade_polygons(binary, rng, regional_sample_rate=0.0,
                                sample_rate=0.1).astype(bool)
    raise ValueError(f'unknown coarse kind {kind!r}; use one of {list(COARSE_KINDS)}')


def make_coarse(gt: np.ndarray, instances: Optional[List[np.ndarray]], kind: str, name: str,
                seed: int) -> np.ndarray:
    """The coarse mask of an image: of the GT, or the union over its instances.

    The random source of each object is seeded by ``(seed, name, kind, object index)``.
    """
    objects = [gt] if instances is None else instances
    coarse = np.zeros_like(gt)
    for index, obj in enumerate(objects):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()),
                                     COARSE_KINDS.index(kind), index])
        coarse |= coarse_of(obj, kind, rng)
    return coarse


def score(pred: np.ndarray, gt: np.ndarray, bands) -> Scores:
    """One image's scores; ``bands`` are the GT's mBA bands (``boundary_bands``)."""
    inter, union = intersection_union(pred, gt)
    return Scores(inter, union, [mba(pred, gt, bands=bands)],
                  [boundary_f1(pred, gt, BOUND_PX).f])


def run(model: nn.Module, pairs: Sequence[Pair], kinds: Sequence[str], modes: Sequence[str],
        steps: int, seed: int, out_dir: Optional[str], panel_side: int,
        savings: Optional[dict] = None) -> Dict[str, Dict[str, Scores]]:
    """Scores per kind and source, panels on the way.

    The sources are ``'coarse'``, each mode with the model's ``test_cfg`` and, with
    ``savings`` (nested ``test_cfg`` keys), each mode again as ``MODE+savings`` with those
    keys merged on top (:meth:`Refiner.merge_test_cfg`, which validates them).
    """
    sources = {mode: (mode, model.test_cfg) for mode in modes}  # source: (mode, test_cfg)
    if savings:
        sources.update({f'{mode}+savings': (mode, model.merge_test_cfg(savings, model.test_cfg))
                        for mode in modes})
    results = {kind: {source: Scores() for source in ('coarse', *sources)} for kind in kinds}
    bar = ProgressBar(len(pairs) * len(kinds) * len(sources), file=sys.stdout)
    for pair in pairs:
        image = load_image(pair.image)
        gt = load_mask(pair.mask)
        if gt.shape != image.shape[:2]:
            raise ValueError(f'GT mask size {gt.shape} of {pair.mask} differs from image size '
                             f'{image.shape[:2]} of {pair.image}')
        instances = load_instances(pair, gt.shape)
        bands = boundary_bands(gt)
        for kind in kinds:
            coarse = make_coarse(gt, instances, kind, pair.name, seed)
            results[kind]['coarse'].add(score(coarse, gt, bands))
            for source, (mode, test_cfg) in sources.items():
                refined, seconds, evals = counted_refine(model, image, coarse, mode, test_cfg,
                                                         steps, seed)
                cell = score(refined, gt, bands)
                cell.seconds.append(seconds)
                cell.evals.append(evals)
                results[kind][source].add(cell)
                if out_dir is not None:
                    write_panel(osp.join(out_dir, f'{pair.name}_{kind}_{source}.png'), image,
                                coarse, refined, gt, (kind, source), panel_side)
                bar.update()
    sys.stdout.write('\n')
    return results


def counted_refine(model: nn.Module, image: np.ndarray, coarse: np.ndarray, mode: str,
                   test_cfg: dict, steps: int, seed: int) -> Tuple[np.ndarray, float, int]:
    """``refine()`` under ``test_cfg`` (the model's own is restored after): the refined mask,
    its seconds and its denoiser evaluations. An empty coarse mask stays empty."""
    base_cfg, model.test_cfg = model.test_cfg, test_cfg
    counter = EvalCounter(model.decode_head.denoiser)
    start = time.perf_counter()
    try:
        refined = (refine(model, image, coarse, steps=steps, seed=seed, mode=mode)
                   if coarse.any() else coarse)
    finally:
        model.test_cfg = base_cfg
        counter.remove()
    return refined, time.perf_counter() - start, counter.evals


def write_panel(path: str, image: np.ndarray, coarse: np.ndarray, refined: np.ndarray,
                gt: np.ndarray, labels: Tuple[str, str], side: int) -> None:
    """image | coarse | refined | GT (``draw_refine_panel``), each view at most ``side`` px."""
    scale = min(1.0, side / max(image.shape[:2])) if side else 1.0
    if scale < 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        coarse, refined, gt = (cv2.resize(m.astype(np.uint8), size,
                                          interpolation=cv2.INTER_NEAREST) > 0
                               for m in (coarse, refined, gt))
    kind, mode = labels
    write_image_atomic(path, draw_refine_panel(image, coarse, refined, gt,
                                               ('image', f'coarse: {kind}',
                                                f'refined: {mode}', 'GT')))


def summarise(results: Dict[str, Dict[str, Scores]]) -> Dict[str, Dict[str, dict]]:
    """Per kind and ``'all'`` (every kind pooled), per source: :meth:`Scores.summary`."""
    sources = next(iter(results.values())).keys()
    pooled = {source: Scores() for source in sources}
    for by_source in results.values():
        for source, cell in by_source.items():
            pooled[source].add(cell)
    rows = {kind: {s: c.summary() for s, c in by_source.items()}
            for kind, by_source in results.items()}
    rows['all'] = {s: c.summary() for s, c in pooled.items()}
    return rows


def format_table(summary: Dict[str, Dict[str, dict]]) -> str:
    """One row per (kind, source): IoU, mBA, F@2px in percent, changes, seconds and
    network evaluations per image."""
    header = ['kind', 'masks', 'IoU', 'mBA', f'F@{BOUND_PX}px', 'ΔIoU', 'ΔmBA', 'ΔF', 's/img',
              'evals/img']
    rows = []
    for kind, by_source in summary.items():
        base = by_source['coarse']
        for source, cell in by_source.items():
            deltas = (['', '', ''] if source == 'coarse' else
                      [f"{cell[k] - base[k]:+.2f}" for k in ('iou', 'mba', 'f2px')])
            rows.append([kind, source, cell['iou'], cell['mba'], cell['f2px'], *deltas,
                         f"{cell['seconds']:.2f}" if 'seconds' in cell else '',
                         f"{cell['evals']:.2f}" if 'evals' in cell else ''])
    return make_table(header, rows)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('folder', help='NAME_image.png / NAME_mask.png [/ NAME_labels.png]')
    parser.add_argument('--config', help='model config (default: the bundled refiner)')
    parser.add_argument('--checkpoint', help='checkpoint of --config')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load the checkpoint with the full pickle (a file you trust)')
    parser.add_argument('--modes', nargs='+', default=list(REFINE_MODES), choices=REFINE_MODES)
    parser.add_argument('--kinds', nargs='+', default=list(COARSE_KINDS), choices=COARSE_KINDS)
    parser.add_argument('--steps', type=int, default=6, help='reverse steps, 1..6')
    parser.add_argument('--seed', type=int, default=0, help='coarse masks and reverse process')
    parser.add_argument('--out-dir', help='folder for the image | coarse | refined | GT panels')
    parser.add_argument('--panel-side', type=int, default=640,
                        help='longest side of each panel view in px (0: native)')
    parser.add_argument('--json', help='write the table as JSON here')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--test-cfg', nargs='+', action=DictAction, default={},
                        help="test_cfg overrides for every mode, e.g. fast=True "
                        "early_exit.tol=0.003")
    parser.add_argument('--savings', nargs='+', action=DictAction,
                        help="also refine each mode with these test_cfg keys on top "
                        "(rows 'MODE+savings'), e.g. early_exit.tol=0.003 max_patches=0")
    args = parser.parse_args(argv)
    if args.checkpoint is not None and args.config is None:
        parser.error('--checkpoint needs --config (the bundled refiner has its own weights)')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, dict]]:
    """Run the benchmark, print the table; returns the summary (:func:`summarise`)."""
    args = parse_args(argv)
    pairs = find_pairs(args.folder)
    if args.config is None:
        model = init_refiner(device=args.device)
    else:
        model = init_refiner(args.config, args.checkpoint, device=args.device,
                             trust_checkpoint=args.trust_checkpoint)
    overrides, savings = nested_options(args.test_cfg), nested_options(args.savings)
    if overrides:
        model.test_cfg = model.merge_test_cfg(overrides, model.test_cfg)
    results = run(model, pairs, args.kinds, args.modes, args.steps, args.seed, args.out_dir,
                  args.panel_side, savings)
    summary = summarise(results)
    print(f'{len(pairs)} images of {args.folder}, {len(args.kinds)} coarse kinds, '
          f'modes {" ".join(args.modes)}, {args.steps} steps, seed {args.seed}'
          + (f'; test_cfg {overrides}' if overrides else '')
          + (f'; savings {savings}' if savings else ''))
    print(format_table(summary))
    if args.json is not None:
        write_bytes_atomic(args.json, json.dumps(summary, indent=1).encode())
    return summary


if __name__ == '__main__':
    main()
