"""Refinement speed: the reference computation, the fast path and the evaluations it saves.

One run prints two tables.

1. Speed, for the released-size denoiser (118.6M, random weights) at 256² and the CPU demo
   config at 128², one crop (batch 1): ``refine_crops`` with 6 reverse steps in the reference
   computation (eager float32, the default ``test_cfg``) and with ``test_cfg.fast=True``
   (bf16 autocast + channels-last, same random draws). Per path: the median denoiser forward
   (timed inside the refinement), the FLOPs of one forward (torch's FlopCounterMode: convs,
   matmuls, attention), GFLOP/s and their fraction of the peak GEMM rate measured in the same
   run (float32 rows against the fp32 peak, bf16 rows against the bf16 peak), the whole
   refinement's time, its speed-up over the reference's 6 forwards, and the agreement of the
   refined masks with the reference's (fraction of equal pixels at 0.5). ``--compile`` adds
   the fast path with the denoiser under ``torch.compile`` (inductor) and the wall time of
   its first refinement, which compiles.
2. Network evaluations per image and quality, with the bundled refiner (``init_refiner()``)
   on the synthetic benchmark (the demo's val split: 40 images of 160², generated in a
   temporary folder), without and with the savings of ``--tol`` (``test_cfg.early_exit``)
   and ``dedup``: ``crop`` mode on each image; ``instance`` mode with every object detected
   twice (a detector's duplicate under a second label); ``hr`` mode (``refine(mode='hr')``)
   on the images up-sampled 4× (640²), also with ``max_patches=0`` (the global pass
   alone). Quality: pooled IoU, mean mBA and mean boundary F at 2 px against the GT, in
   percent (``benchmarks/bench_real.py``'s scores); the real images are ``bench_real.py``'s
   job (its ``--savings``).

With ``--threads 1`` every time is the CPU time of this process, so a machine shared with
other jobs gives the times of an idle one; with more threads they are wall times.

    python benchmarks/bench_refiner.py [--repeats 1] [--threads N] [--tol 0.01]
        [--skip-released] [--skip-savings] [--compile]
"""
import argparse
import math
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmseg.structures import SegDataSample
from torch.utils.flop_counter import FlopCounterMode

from segrefiner.apis import init_refiner, refine
from segrefiner.datasets.generators import generate_synthetic_dataset
from segrefiner.models.segmentors.refiner import cpu_has_bf16_kernels

import bench_real  # noqa: E402  (the sibling script: its scores; benchmarks/ is on sys.path)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'released (118.6M) 256²': ('configs/_base_/models/segrefiner.py', 256),
    'demo (CPU) 128²': ('configs/segrefiner/segrefiner_demo_cpu.py', 128),
}
STEPS = 6


def clock() -> float:
    """Seconds of the benchmark's clock: this process's CPU time with one thread (times that do
    not depend on other load of the machine), else wall time (``--threads``)."""
    return time.process_time() if torch.get_num_threads() == 1 else time.perf_counter()


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def peak_gemm_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Achieved GFLOP/s of an n×n×n matmul in ``dtype``."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    seconds = median_time(lambda: a @ b, repeats, warmup=2)
    return 2 * n**3 / seconds / 1e9


class ForwardTimer:
    """Wall time of each forward of a module (pre/post forward hooks)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.times: List[float] = []
        self._start = 0.0
        self._handles = [module.register_forward_pre_hook(self._pre),
                         module.register_forward_hook(self._post)]

    def remove(self) -> None:
        """Detach the hooks."""
        for handle in self._handles:
            handle.remove()

    def _pre(self, module, args) -> None:
        self._start = clock()

    def _post(self, module, args, output) -> None:
        self.times.append(clock() - self._start)


def crop_inputs(size: int, num: int = 1, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(num, 3, size, size) random images and (num, 1, size, size) rectangle masks."""
    img = torch.randn(num, 3, size, size, generator=torch.Generator().manual_seed(seed))
    coarse = torch.zeros(num, 1, size, size)
    coarse[:, :, size // 4:3 * size // 4, size // 5:4 * size // 5] = 1
    return img, coarse


def bench_speed(name: str, cfg_path: str, size: int, repeats: int, peaks: Dict[str, float],
                compile_: bool = False) -> List[tuple]:
    """Rows (name, path, ms/fwd, GFLOP/fwd, GFLOP/s, of peak, refine s, speed-up, agree,
    first call s); with ``compile_`` also the fast path with the denoiser under
    ``torch.compile``, whose first refinement (compiling included, inductor's compile workers
    too) is timed in wall seconds."""
    model = init_refiner(Config.fromfile(osp.join(ROOT, cfg_path)))
    head = model.decode_head
    net = head.denoiser
    img, coarse = crop_inputs(size)
    paths = [('fp32 (reference)', {}), ('fast=True', dict(fast=True))]
    if compile_:
        paths.append(('fast + compile', dict(fast=True)))
    # one fast forward: warm-up of the fast path's kernels (bf16 / channels-last, or float32
    # channels-last on a CPU without bf16 kernels), and the FLOP count
    fast_dtype = model.precision(model.merge_test_cfg(dict(fast=True)), img.device)[0]
    counter = FlopCounterMode(display=False)
    x = torch.cat([img, coarse], 1).contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast('cpu', dtype=fast_dtype or torch.float32, enabled=bool(fast_dtype))
    with counter, torch.no_grad(), autocast:
        net.to(memory_format=torch.channels_last)(x, torch.tensor([5]))
    flops = counter.get_total_flops()
    results, rows, first_calls = {}, [], {}
    for label, overrides in paths:
        # the reference runs in the contiguous format; the fast path's one-time conversion of
        # the weights to channels-last is not timed
        net.to(memory_format=torch.channels_last if overrides else torch.contiguous_format)
        cfg = model.merge_test_cfg(overrides, model.test_cfg)
        first_call = float('nan')
        if label == 'fast + compile':
            head.denoiser = torch.compile(net)
            start = time.perf_counter()
            model.refine_crops(img, coarse, STEPS, cfg, torch.Generator().manual_seed(1))
            first_call = time.perf_counter() - start
        timer = ForwardTimer(head.denoiser)
        forwards, totals = [], []
        for _ in range(repeats):
            timer.times.clear()
            start = clock()
            results[label] = model.refine_crops(img, coarse, STEPS, cfg,
                                                torch.Generator().manual_seed(1))
            totals.append(clock() - start)
            forwards += timer.times
        timer.remove()
        head.denoiser = net
        results[label + ' forwards'] = sum(forwards) / repeats
        seconds = statistics.median(forwards)
        rate = flops / seconds / 1e9
        peak = peaks['bf16' if overrides and fast_dtype == torch.bfloat16 else 'fp32']
        first_calls[label] = first_call
        rows.append([name, label, seconds * 1e3, flops / 1e9, rate, rate / peak,
                     statistics.median(totals)])
    reference = results['fp32 (reference)']
    for row, (label, _) in zip(rows, paths):
        row.append(results['fp32 (reference) forwards'] / row[6])
        row.append(((results[label] >= 0.5) == (reference >= 0.5)).float().mean().item())
        row.append(first_calls[label])
    net.to(memory_format=torch.contiguous_format)
    return [tuple(row) for row in rows]


# ----------------------------------------------------------------- evaluations and quality
def synthetic_val(folder: str) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image BGR uint8, GT bool, coarse bool) of the demo's 40 synthetic val images."""
    generate_synthetic_dataset(folder, num_train=0, num_val=40, size=(160, 160), seed=0)
    val = osp.join(folder, 'val')
    out = []
    for file in sorted(os.listdir(osp.join(val, 'images'))):
        name = osp.splitext(file)[0]
        image = cv2.imread(osp.join(val, 'images', file), cv2.IMREAD_COLOR)
        gt = cv2.imread(osp.join(val, 'masks', f'{name}.png'), cv2.IMREAD_GRAYSCALE) > 0
        coarse = cv2.imread(osp.join(val, 'coarse', f'{name}.png'), cv2.IMREAD_GRAYSCALE) > 0
        out.append((image, gt, coarse))
    return out


def instance_refine(model, image: np.ndarray, masks: Sequence[np.ndarray]) -> np.ndarray:
    """The ``'instance'`` mode on one image: (N, H, W) bool refined masks."""
    height, width = masks[0].shape
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    stacked = torch.from_numpy(np.stack(masks))
    sample.coarse_instances = InstanceData(
        masks=stacked, bboxes=torch.zeros(len(masks), 4), scores=torch.ones(len(masks)),
        labels=torch.arange(len(masks)))
    inputs = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    data = model.data_preprocessor(dict(inputs=[inputs], data_samples=[sample]), False)
    with torch.no_grad():
        result = model.predict(data['inputs'], data['data_samples'],
                               test_cfg=dict(mode='instance', area_thr=0),
                               generator=torch.Generator().manual_seed(0))[0]
    return result.pred_instances.masks.numpy()


def bench_savings(tol: float) -> List[list]:
    """Rows (mode, savings, evals/img, IoU, mBA, F@2px) on the synthetic benchmark."""
    model = init_refiner()
    counter = bench_real.EvalCounter(model.decode_head.denoiser)
    savings = dict(early_exit=dict(tol=tol), dedup=True)
    settings = (('full schedule', dict(early_exit=None, dedup=False, max_patches=None)),
                (f'early_exit tol={tol} + dedup', dict(savings, max_patches=None)))
    # hr only: without the native-resolution patches as well (the global pass alone)
    no_patches = (f'early_exit tol={tol}, max_patches=0', dict(savings, max_patches=0))
    with tempfile.TemporaryDirectory() as folder:
        images = synthetic_val(folder)
    rows = []
    for mode in ('crop', 'instance', 'hr'):
        for label, keys in settings + ((no_patches, ) if mode == 'hr' else ()):
            model.test_cfg.update(keys)
            counter.evals = 0
            scores = bench_real.Scores()
            for image, gt, coarse in images:
                if mode == 'hr':
                    image = cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
                    gt, coarse = (cv2.resize(m.astype(np.uint8), None, fx=4, fy=4,
                                             interpolation=cv2.INTER_NEAREST) > 0
                                  for m in (gt, coarse))
                if mode == 'instance':
                    pred = instance_refine(model, image, [coarse, coarse])[0]
                else:
                    pred = refine(model, image, coarse, STEPS, seed=0, mode=mode)
                scores.add(bench_real.score(pred, gt, bench_real.boundary_bands(gt)))
            summary = scores.summary()
            rows.append([mode, label, counter.evals / len(images), summary['iou'],
                         summary['mba'], summary['f2px']])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=1, help='refinements per path')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--tol', type=float, default=0.01, help='test_cfg.early_exit.tol')
    parser.add_argument('--skip-released', action='store_true',
                        help='time only the demo denoiser (the released one takes minutes)')
    parser.add_argument('--skip-savings', action='store_true', help='no table 2')
    parser.add_argument('--compile', action='store_true',
                        help='also time the fast path under torch.compile (minutes of compiling)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # without oneDNN bf16 kernels a bf16 GEMM is emulated (minutes at 2048³) and no path uses it
    bf16 = cpu_has_bf16_kernels()
    peaks = {'fp32': peak_gemm_gflops(torch.float32),
             'bf16': peak_gemm_gflops(torch.bfloat16) if bf16 else math.nan}
    fast = ('bf16 autocast + channels-last' if bf16 else
            'float32 channels-last: this CPU has no oneDNN bf16 kernels')
    print(f'threads: {args.threads}; peak GEMM (2048³): fp32 {peaks["fp32"]:.0f} GFLOP/s, '
          f'bf16 {peaks["bf16"]:.1f} GFLOP/s; fast=True here: {fast}', flush=True)
    rows = []
    for name, (cfg_path, size) in CONFIGS.items():
        if args.skip_released and name.startswith('released'):
            continue
        print(f'timing {name} ...', file=sys.stderr, flush=True)
        rows += bench_speed(name, cfg_path, size, args.repeats, peaks, args.compile)
    print(f'\n1. one crop, {STEPS} reverse steps (refine_crops), batch 1')
    header = (f'| {"denoiser":<24} | {"path":<16} | {"ms/fwd":>8} | {"GFLOP/fwd":>9} | '
              f'{"GFLOP/s":>7} | {"of peak":>7} | {"refine s":>8} | '
              f'{"vs 6 fp32 fwd":>13} | {"masks agree":>11} | {"1st call s":>10} |')
    print(header)
    print('|' + '|'.join('-' * len(c) for c in header.split('|')[1:-1]) + '|')
    for name, label, ms, gflop, rate, frac, total, ratio, agree, first_call in rows:
        compiled = '' if first_call != first_call else f'{first_call:.1f}'  # NaN: eager
        print(f'| {name:<24} | {label:<16} | {ms:>8.1f} | {gflop:>9.2f} | {rate:>7.1f} | '
              f'{frac:>7.0%} | {total:>8.2f} | {ratio:>12.2f}× | {agree:>11.2%} | '
              f'{compiled:>10} |')
    if args.skip_savings:
        return
    print('\nevaluating savings ...', file=sys.stderr, flush=True)
    savings = bench_savings(args.tol)
    print('\n2. bundled refiner on the synthetic benchmark (40 images; hr: up-sampled 4×), '
          f'{STEPS} steps')
    header = (f'| {"mode":<8} | {"savings":<34} | {"evals/img":>9} | {"IoU":>6} | '
              f'{"mBA":>6} | {"F@2px":>6} |')
    print(header)
    print('|' + '|'.join('-' * len(c) for c in header.split('|')[1:-1]) + '|')
    for mode, label, evals, iou, mba, f2px in savings:
        print(f'| {mode:<8} | {label:<34} | {evals:>9.2f} | {iou:>6.2f} | {mba:>6.2f} | '
              f'{f2px:>6.2f} |')


if __name__ == '__main__':
    main()
