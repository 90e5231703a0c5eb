"""Denoiser forward latency and efficiency, next to the machine's peak GEMM rate.

Prints one table: for the released-size denoiser at 256² and the CPU demo config, the median
forward latency (batch 1), the FLOPs of one forward (counted by torch's FlopCounterMode: convs,
matmuls, attention), the achieved GFLOP/s, and that rate as a fraction of the peak GEMM rate
measured in the same run (fp32; bf16 rows use the bf16 GEMM peak). Also the agreement of the
bf16 / channels-last masks with fp32 on a refinement run.

    python benchmarks/bench_refiner.py [--repeats 5] [--threads N]
"""
import argparse
import os.path as osp
import statistics
import time

import torch
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

from segrefiner.apis import init_refiner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'released (118.6M) 256²': ('configs/_base_/models/segrefiner.py', 256),
    'demo (CPU) 128²': ('configs/segrefiner/segrefiner_demo_cpu.py', 128),
}


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_gemm_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Achieved GFLOP/s of an n×n×n matmul in ``dtype``."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    seconds = median_time(lambda: a @ b, repeats, warmup=2)
    return 2 * n**3 / seconds / 1e9


def forward_flops(net, x, t) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(x, t)
    return counter.get_total_flops()


def bench_config(name, cfg_path, size, repeats, peaks):
    cfg = Config.fromfile(osp.join(ROOT, cfg_path))
    model = init_refiner(cfg)
    net = model.decode_head.denoiser
    x, t = torch.randn(1, 4, size, size), torch.tensor([5])
    flops = forward_flops(net, x, t)
    rows = []
    for label, dtype, channels_last in (('fp32', None, False),
                                        ('bf16 autocast + channels-last', torch.bfloat16, True)):
        xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        if channels_last:
            net.to(memory_format=torch.channels_last)

        def run():
            with torch.no_grad(), torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
                net(xin, t)

        seconds = median_time(run, repeats)
        gflops = flops / seconds / 1e9
        peak = peaks['bf16' if dtype is not None else 'fp32']
        rows.append((name, label, seconds * 1e3, flops / 1e9, gflops, gflops / peak))
    net.to(memory_format=torch.contiguous_format)
    return rows, model


def mask_agreement(model, size: int) -> float:
    """Fraction of pixels where bf16/channels-last refinement equals fp32 (same draws)."""
    gen = torch.Generator().manual_seed(0)
    img = torch.randn(2, 3, size, size, generator=gen)
    coarse = torch.zeros(2, 1, size, size)
    coarse[:, :, size // 4:3 * size // 4, size // 5:4 * size // 5] = 1
    cfg = model.merge_test_cfg(base=model.test_cfg)
    ref = model.refine_crops(img, coarse, cfg=cfg, generator=torch.Generator().manual_seed(1))
    cfg.update(autocast_dtype='bfloat16', channels_last=True)
    fast = model.refine_crops(img, coarse, cfg=cfg, generator=torch.Generator().manual_seed(1))
    model.decode_head.denoiser.to(memory_format=torch.contiguous_format)
    return ((ref >= 0.5) == (fast >= 0.5)).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peaks = {'fp32': peak_gemm_gflops(torch.float32), 'bf16': peak_gemm_gflops(torch.bfloat16)}
    print(f'threads: {args.threads}; peak GEMM (2048³): fp32 {peaks["fp32"]:.0f} GFLOP/s, '
          f'bf16 {peaks["bf16"]:.0f} GFLOP/s')
    rows, agreements = [], {}
    for name, (cfg_path, size) in CONFIGS.items():
        print(f'timing {name} ...', flush=True)
        cfg_rows, model = bench_config(name, cfg_path, size, args.repeats, peaks)
        rows += cfg_rows
        agreements[name] = mask_agreement(model, size)
    header = f'{"denoiser":<24} {"precision":<30} {"ms/fwd":>9} {"GFLOP/fwd":>10} ' \
             f'{"GFLOP/s":>8} {"of peak":>8}'
    print(header)
    print('-' * len(header))
    for name, label, ms, gflop, rate, frac in rows:
        print(f'{name:<24} {label:<30} {ms:>9.1f} {gflop:>10.2f} {rate:>8.1f} {frac:>7.0%}')
    for name, agree in agreements.items():
        print(f'{name}: bf16+channels-last masks agree with fp32 on {agree:.2%} of pixels '
              f'(6 steps, same random draws)')


if __name__ == '__main__':
    main()
