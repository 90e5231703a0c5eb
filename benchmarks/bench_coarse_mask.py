"""Throughput of coarse-mask generation and of the synthetic benchmark generator.

Prints one table: masks (or images) per second and the mean IoU of the result to the GT for

* ``GenerateCoarseMask`` (SegRefiner perturbation) on 256² and 1024² masks, and its two stages;
* ``GenerateLowResCoarseMask`` (instance box at 28², semantic head at 1/8 resolution);
* synthetic scene + coarse mask generation and the full generator (with PNG/JPEG writing).

The masks are synthetic scenes' GTs (concave objects with thin parts and holes). Run::

    python benchmarks/bench_coarse_mask.py [--seconds 2]
"""
import argparse
import contextlib
import io
import os
import platform
import tempfile
import time
from typing import Callable, List, Tuple

import numpy as np

from segrefiner.datasets.generators import (generate_synthetic_dataset, make_sample,
                                            render_scene)
from segrefiner.datasets.transforms import (GenerateCoarseMask, GenerateLowResCoarseMask,
                                            degrade_polygons, mask_iou, random_morphology)


def scene_masks(size: int, count: int) -> List[np.ndarray]:
    """GT masks of ``count`` synthetic scenes of ``size``² that cover 2-60 % of the image."""
    masks, index = [], 0
    while len(masks) < count:
        _, gt, _, _ = render_scene(np.random.default_rng([123, index]), (size, size))
        index += 1
        if 0.02 <= gt.mean() <= 0.6:
            masks.append(gt)
    return masks


def measure(fn: Callable[[int], np.ndarray], masks: List[np.ndarray],
            seconds: float) -> Tuple[float, float]:
    """Calls per second of ``fn(i)`` over at least ``seconds`` (and one pass over ``masks``),
    and the mean IoU of its outputs to ``masks[i]``."""
    calls, ious = 0, []
    start = time.perf_counter()
    while calls < len(masks) or time.perf_counter() - start < seconds:
        out = fn(calls)
        ious.append(mask_iou(out, masks[calls % len(masks)]))
        calls += 1
    return calls / (time.perf_counter() - start), float(np.mean(ious))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=2.0,
                        help='minimal measuring time per row')
    args = parser.parse_args()
    np.random.seed(0)
    rows = []

    for size, count in ((256, 16), (1024, 4)):
        masks = scene_masks(size, count)

        def results(i):
            return dict(gt_seg_map=masks[i % len(masks)], seg_fields=['gt_seg_map'])

        segrefiner = GenerateCoarseMask()
        rows.append((f'GenerateCoarseMask (SegRefiner), {size}²', 'masks/s',
                     *measure(lambda i: segrefiner(results(i))['coarse_seg_map'], masks,
                              args.seconds)))
        rng = np.random.default_rng(0)
        rows.append((f'  stage A: degrade_polygons, {size}²', 'masks/s',
                     *measure(lambda i: degrade_polygons(masks[i % len(masks)], rng), masks,
                              args.seconds)))
        polygons = [degrade_polygons(m, rng) for m in masks]
        rows.append((f'  stage B: random_morphology, {size}²', 'masks/s',
                     *measure(lambda i: random_morphology(polygons[i % len(masks)], rng),
                              masks, args.seconds)))
        box = GenerateLowResCoarseMask(low_res=28, object_box=True)
        rows.append((f'GenerateLowResCoarseMask (box 28²), {size}²', 'masks/s',
                     *measure(lambda i: box(results(i))['coarse_seg_map'], masks,
                              args.seconds)))
        semantic = GenerateLowResCoarseMask(low_res=size // 8, object_box=False)
        rows.append((f'GenerateLowResCoarseMask (1/8 image), {size}²', 'masks/s',
                     *measure(lambda i: semantic(results(i))['coarse_seg_map'], masks,
                              args.seconds)))

    pairs = []
    start = time.perf_counter()
    while len(pairs) < 20 or time.perf_counter() - start < args.seconds:
        _, gt, coarse, _ = make_sample(np.random.default_rng([7, len(pairs)]), (160, 160))
        pairs.append((gt, coarse))
    rate = len(pairs) / (time.perf_counter() - start)
    iou = float(np.mean([mask_iou(coarse, gt) for gt, coarse in pairs]))
    rows.append(('synthetic scene + coarse mask, 160²', 'images/s', rate, iou))

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        generate_synthetic_dataset(tmp, num_train=200, num_val=40, size=(160, 160), seed=0,
                                   progress=False)
        rate = 240 / (time.perf_counter() - start)
    rows.append(('generate_synthetic_dataset 200+40, 160² (with I/O)', 'images/s', rate,
                 float('nan')))

    print(f'\nCoarse-mask generation on {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} CPUs, single process\n')
    width = max(len(r[0]) for r in rows)
    print(f'{"workload":<{width}}  {"throughput":>12}  {"unit":<9} {"IoU to GT":>9}')
    print('-' * (width + 36))
    for name, unit, rate, iou in rows:
        iou_text = '' if np.isnan(iou) else f'{iou:.3f}'
        print(f'{name:<{width}}  {rate:>12.1f}  {unit:<9} {iou_text:>9}')


if __name__ == '__main__':
    main()
