"""Refinement speed on a GPU: precisions, eager vs compiled vs CUDA graphs, and an instance load.

The prepared script for a lent GPU machine (one run, a few minutes on an H100/H200-class GPU):

1. the released-size denoiser (118.6M, random weights) at 256², batch 1 and 32: one forward
   in fp32, TF32, fp16 and bf16 autocast (channels-last for the last two), eager; and, for
   the ``--compile-precisions``, under ``torch.compile`` (inductor, ``'default'``) and with
   CUDA graphs (``mode='reduce-overhead'``), with the wall time of the first call (compiling);
   ms per forward (CUDA events, median of ``--repeats``), crops per second, and the agreement
   of 6-step refined masks with fp32's (``refine_crops``, same random draws);
2. a COCO-like instance load: ``--instances`` crops of one image (200: a detector's output),
   6 reverse steps in batches of ``--batch``, reference (fp32) vs ``test_cfg.fast=True``, in
   seconds per image.

    python benchmarks/bench_refiner_gpu.py [--device cuda] [--repeats 20] [--json OUT.json]

On a CPU (``--device cpu --config configs/segrefiner/segrefiner_demo_cpu.py --size 128
--batches 1 2 --instances 4 --compile-precisions``) it runs the same code as a smoke test.
"""
import argparse
import json
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config

from segrefiner.apis import init_refiner
from segrefiner.utils.io import write_bytes_atomic

from bench_refiner import crop_inputs  # noqa: E402  (sibling script; benchmarks/ on sys.path)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRECISIONS = ('fp32', 'tf32', 'fp16', 'bf16')
#: test_cfg overrides of each precision (``refine_crops``)
PRECISION_CFG = {
    'fp32': dict(), 'tf32': dict(),
    'fp16': dict(autocast_dtype='float16', channels_last=True),
    'bf16': dict(autocast_dtype='bfloat16', channels_last=True),
}
STEPS = 6


def set_tf32(enabled: bool) -> None:
    """TF32 matmuls and convolutions on (True) or off."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median milliseconds of ``fn()`` after two warm-up calls (wall time, synchronised)."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def forward_fn(net: torch.nn.Module, precision: str, batch: int, size: int,
               device: torch.device) -> Callable[[], torch.Tensor]:
    """A no-grad forward of ``net`` on a (batch, 4, size, size) input in ``precision``."""
    x = torch.randn(batch, 4, size, size, device=device)
    t = torch.full((batch, ), 5, device=device)
    dtype = {'fp16': torch.float16, 'bf16': torch.bfloat16}.get(precision)
    if dtype is not None:
        x = x.contiguous(memory_format=torch.channels_last)

    def run() -> torch.Tensor:
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                             enabled=dtype is not None):
            return net(x, t)
    return run


def bench_forwards(model, precisions: Sequence[str], compile_precisions: Sequence[str],
                   batches: Sequence[int], size: int, repeats: int,
                   device: torch.device) -> List[dict]:
    """Rows of table 1."""
    head = model.decode_head
    net = head.denoiser
    img, coarse = (t.to(device) for t in crop_inputs(size, num=8))
    set_tf32(False)
    reference = model.refine_crops(img, coarse, STEPS, model.merge_test_cfg({}),
                                   torch.Generator(device).manual_seed(1))
    rows = []
    for precision in precisions:
        set_tf32(precision == 'tf32')
        channels_last = precision in ('fp16', 'bf16')
        net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        cfg = model.merge_test_cfg(PRECISION_CFG[precision])
        refined = model.refine_crops(img, coarse, STEPS, cfg,
                                     torch.Generator(device).manual_seed(1))
        agree = ((refined >= 0.5) == (reference >= 0.5)).float().mean().item()
        variants = [('eager', net, None)]
        if precision in compile_precisions:
            variants += [('compile', torch.compile(net), 'default'),
                         ('CUDA graphs', torch.compile(net, mode='reduce-overhead'),
                          'reduce-overhead')]
        for variant, module, mode in variants:
            if mode == 'reduce-overhead' and device.type != 'cuda':
                continue
            for batch in batches:
                fn = forward_fn(module, precision, batch, size, device)
                first = float('nan')
                if mode is not None:
                    sync(device)
                    start = time.perf_counter()
                    fn()
                    sync(device)
                    first = time.perf_counter() - start
                ms = median_ms(fn, device, repeats)
                rows.append(dict(precision=precision, variant=variant, batch=batch, ms=ms,
                                 crops_per_s=batch / ms * 1e3, agree=agree, first_call_s=first))
                print(f'  {precision:<4} {variant:<11} batch {batch:>3}: {ms:9.2f} ms',
                      flush=True)
    set_tf32(False)
    net.to(memory_format=torch.contiguous_format)
    return rows


def bench_instances(model, instances: int, batch: int, size: int,
                    device: torch.device) -> List[dict]:
    """Rows of table 2: ``instances`` crops of one image, reference vs ``fast=True``."""
    img, coarse = (t.to(device) for t in crop_inputs(size, num=instances, seed=1))
    rows, results = [], {}
    for label, overrides in (('reference (fp32)', {}), ('fast=True', dict(fast=True))):
        cfg = model.merge_test_cfg(dict(batch_max=batch, **overrides))
        model.refine_crops(img[:batch], coarse[:batch], STEPS, cfg)  # warm-up
        sync(device)
        start = time.perf_counter()
        results[label] = model.refine_crops(img, coarse, STEPS, cfg,
                                            torch.Generator(device).manual_seed(1))
        sync(device)
        rows.append(dict(path=label, seconds=time.perf_counter() - start))
    reference = results['reference (fp32)'] >= 0.5
    for row in rows:
        row['agree'] = ((results[row['path']] >= 0.5) == reference).float().mean().item()
    model.decode_head.denoiser.to(memory_format=torch.contiguous_format)
    return rows


def format_tables(forwards: List[dict], instances: List[dict], instances_n: int,
                  device: str) -> str:
    lines = [f'1. denoiser forward on {device}',
             '| precision | variant | batch | ms / forward | crops / s | masks agree (6 steps) '
             '| first call [s] |', '|---|---|---|---|---|---|---|']
    for r in forwards:
        first = '' if r['first_call_s'] != r['first_call_s'] else f'{r["first_call_s"]:.1f}'
        lines.append(f'| {r["precision"]} | {r["variant"]} | {r["batch"]} | {r["ms"]:.2f} | '
                     f'{r["crops_per_s"]:.1f} | {r["agree"]:.2%} | {first} |')
    lines += ['', f'2. instance load: {instances_n} crops of one image, {STEPS} steps',
              '| path | s / image | masks agree |', '|---|---|---|']
    for r in instances:
        lines.append(f'| {r["path"]} | {r["seconds"]:.2f} | {r["agree"]:.2%} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--config', default='configs/_base_/models/segrefiner.py')
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 32])
    parser.add_argument('--precisions', nargs='+', default=list(PRECISIONS),
                        choices=PRECISIONS)
    parser.add_argument('--compile-precisions', nargs='*', default=['bf16'],
                        choices=PRECISIONS, help='precisions also run compiled / CUDA graphs')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--instances', type=int, default=200)
    parser.add_argument('--batch', type=int, default=32, help='batch_max of the instance load')
    parser.add_argument('--json', help='also write the rows to this JSON file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, list]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('no CUDA device: run with --device cpu for a smoke test')
    config = args.config if osp.isabs(args.config) else osp.join(ROOT, args.config)
    model = init_refiner(Config.fromfile(config), device=args.device)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    print(f'device: {name}; torch {torch.__version__}', flush=True)
    forwards = bench_forwards(model, args.precisions, args.compile_precisions, args.batches,
                              args.size, args.repeats, device)
    instances = bench_instances(model, args.instances, args.batch, args.size, device)
    print(format_tables(forwards, instances, args.instances, name))
    results = dict(device=name, forwards=forwards, instances=instances)
    if args.json:
        write_bytes_atomic(args.json, json.dumps(results, indent=1).encode())
    return results


if __name__ == '__main__':
    main()
