"""tools/analysis_tools/ablation.py: trains the missing modes with tools/train.py and compares
all of them."""
import json

import cv2
import pytest

from semantic_study import REFINER_CONFIG, load_script, read_table, run_main, trained_study

#: The modes compared: 'full' from its checkpoint, 'no_probs' trained by the script (every
#: mode trains the same way; the model tests build each of them).
MODES = ('full', 'no_probs')


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    return trained_study(tmp_path_factory)


@pytest.fixture(scope='module')
def script():
    return load_script('ablation')


def test_every_mode_is_trained_and_compared(study, script, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    work, out = tmp_path / 'work', tmp_path / 'out'
    printed = run_main(script, [
        REFINER_CONFIG, '--modes', *MODES, '--checkpoints', f'full={study["refiner"]}',
        '--train-iters', 1,
        '--work-dir', work, '--num-steps', 2, '--segrefiner-config', study['segrefiner_config'],
        '--segrefiner-checkpoint', study['segrefiner_checkpoint'], '--segrefiner-steps', 2,
        '--out', out, '--cfg-options', *study['options']
    ], capsys)
    for mode in MODES[1:]:
        assert f"training mode '{mode}'" in printed
        assert (work / mode / 'iter_1.pth').is_file()
    assert not (work / 'full').exists()
    rows = read_table(out / 'ablation.md')
    assert list(rows) == ['baseline'] + [f'residual[{m}]' for m in MODES] + ['segrefiner@2']
    summary = json.loads((out / 'ablation.json').read_text())
    assert summary['num_steps'] == 2 and summary['t_level'] == 100
    results = summary['results']
    for name, row in rows.items():
        assert float(row['ΔmIoU']) == pytest.approx(
            results[name]['mIoU'] - results['baseline']['mIoU'], abs=0.011)
        assert float(row['mBF']) == pytest.approx(results[name]['mBF'])
    for mode in MODES:
        assert rows[f'residual[{mode}]']['mode'] == mode
    assert cv2.imread(str(out / 'ablation.png')) is not None


def test_clear_errors(study, script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main([str(REFINER_CONFIG), '--checkpoints', 'fast=x.pth'])
    assert "MODE=PATH with MODE in ['full'" in capsys.readouterr().err
    assert script.main([str(REFINER_CONFIG), '--checkpoints', f'full={tmp_path}/nope.pth']) == 1
    assert "checkpoint of mode 'full' not found: " in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="does not fit mode 'no_probs'"):
        script.main([str(REFINER_CONFIG), '--modes', 'no_probs', '--checkpoints',
                     f'no_probs={study["refiner"]}', '--out', str(tmp_path), '--cfg-options',
                     *study['options']])
