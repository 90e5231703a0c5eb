"""benchmarks/bench_refiner_gpu.py run on the CPU with a tiny network: every row, the tables
and the JSON, and the refusal without CUDA."""
import json

import pytest

import bench_refiner_gpu

TINY = 'configs/segrefiner/segrefiner_demo_cpu.py'


def test_cpu_smoke_run_writes_every_row(tmp_path, capsys):
    out = tmp_path / 'gpu.json'
    results = bench_refiner_gpu.main([
        '--device', 'cpu', '--config', TINY, '--size', '32', '--batches', '1', '2',
        '--precisions', 'fp32', 'tf32', '--compile-precisions', '--repeats', '1',
        '--instances', '3', '--batch', '2', '--json', str(out)])
    rows = results['forwards']
    assert [(r['precision'], r['batch']) for r in rows] == [
        ('fp32', 1), ('fp32', 2), ('tf32', 1), ('tf32', 2)]
    # fp32 and tf32 (no TF32 on a CPU) give the reference's masks
    assert all(r['agree'] == 1.0 and r['ms'] > 0 for r in rows)
    assert [r['path'] for r in results['instances']] == ['reference (fp32)', 'fast=True']
    assert results['instances'][0]['agree'] == 1.0
    assert json.loads(out.read_text())['device'] == 'CPU'
    printed = capsys.readouterr().out
    assert '1. denoiser forward on CPU' in printed and '| fast=True |' in printed


def test_cuda_device_without_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(bench_refiner_gpu.torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='no CUDA device'):
        bench_refiner_gpu.main(['--device', 'cuda'])
