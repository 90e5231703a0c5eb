"""bench_ddpm_features: the released extractor's activation shapes (meta device) and a short run
on the Horse-21 shapes with a small pool."""
from mmengine.config import Config

import bench_ddpm_features as bench


def test_released_activation_shapes():
    shapes = bench.activation_shapes(Config.fromfile(bench.ROOT_CONFIG))
    assert [tuple(s[1:]) for s in shapes[:5]] == [(1024, 32, 32), (512, 32, 32), (512, 32, 32),
                                                    (512, 64, 64), (256, 128, 128)]
    assert len(shapes) == 15 and sum(s[1] for s in shapes) == 8448


def test_short_run_prints_the_table(capsys):
    assert bench.main(['--batches', '1', '--steps', '2', '--max-pixels', '256']) == 0
    out = capsys.readouterr().out
    assert 'D = 8448' in out and '| largest pixel pool (measured tensor) | 0.00 GB |' in out
    assert '| original: X + its permuted copy, 2·N·H·W·D·4 B (computed) | 132.9 GB |' in out
