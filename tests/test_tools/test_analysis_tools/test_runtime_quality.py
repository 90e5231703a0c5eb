"""tools/analysis_tools/runtime_quality.py on the tiny baseline → refiner run: table, JSON and
plot."""
import json

import cv2
import pytest

from semantic_study import REFINER_CONFIG, load_script, read_table, run_main, trained_study


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    return trained_study(tmp_path_factory)


@pytest.fixture(scope='module')
def script():
    return load_script('runtime_quality')


def test_steps_table_and_plot(study, script, tmp_path, capsys):
    out = tmp_path / 'out'
    printed = run_main(script, [
        REFINER_CONFIG, study['refiner'], '--steps', 1, 3, 5, 10, 20, '--segrefiner-config',
        study['segrefiner_config'], '--segrefiner-checkpoint', study['segrefiner_checkpoint'],
        '--out', out, '--cfg-options', *study['options']
    ], capsys)
    rows = read_table(out / 'runtime_quality.md')
    expected = (['baseline'] + [f'residual@{s}' for s in (1, 3, 5, 10, 20)] +
                [f'segrefiner@{s}' for s in (1, 3, 5)])  # SegRefiner's schedule has 6 steps
    assert list(rows) == expected
    assert 'SegRefiner skipped for steps [10, 20]' in printed
    assert (out / 'runtime_quality.md').read_text().strip() in printed
    results = json.loads((out / 'runtime_quality.json').read_text())['results']
    for name in expected:
        res = results[name]
        assert res['images'] == 4
        assert set(res['Acc']) == {'background', 'foreground', 'border'}
        assert 0 <= res['mIoU'] <= 100 and 0 <= res['mBF'] <= 100
        assert float(rows[name]['mIoU']) == pytest.approx(res['mIoU'])
    # twenty network evaluations cost more than one
    assert results['residual@20']['ms_per_image'] > results['residual@1']['ms_per_image']
    plot = cv2.imread(str(out / 'runtime_quality.png'))
    assert plot is not None and plot.shape[0] > 200 and plot.shape[1] > 400
    assert not list(out.glob('.tmp-*'))


def test_clear_errors(study, script, tmp_path, capsys):
    assert script.main([str(REFINER_CONFIG), str(tmp_path / 'missing.pth')]) == 1
    assert 'ResidualRefiner checkpoint not found: ' in capsys.readouterr().err
    with pytest.raises(ValueError, match='num_steps must be in'):
        script.main([str(REFINER_CONFIG), str(study['refiner']), '--steps', '200',
                     '--out', str(tmp_path), '--cfg-options', *study['options']])
    with pytest.raises(SystemExit):
        script.main([str(REFINER_CONFIG), str(study['refiner']), '--segrefiner-config', 'x.py'])
