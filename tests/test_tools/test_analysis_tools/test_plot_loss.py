"""tools/analysis_tools/plot_loss.py on hand-written mmengine logs: JSON lines, text, work dirs."""
import json

import cv2
import pytest

from plot_loss import loss_keys, main, read_log, read_text_log, resolve_log

TRAIN = [dict(lr=1e-4, loss=1.0 - 0.1 * i, loss_mse=0.8 - 0.1 * i, time=0.1, iter=10 * i,
              step=10 * i) for i in range(1, 6)]
VAL = dict(mIoU=50.0, data_time=0.01, step=50)  # a validation record: no "iter"

TEXT_LOG = """\
2026/01/01 00:00:01 - mmengine - INFO - Config: loss = dict(type='x')
2026/01/01 00:00:02 - mmengine - INFO - Iter(train) [ 10/200]  lr: 1.0000e-04  eta: 0:01:02  \
time: 0.1000  data_time: 0.0100  memory: 0  loss: 0.9000  decode.loss_mse: 0.7000
2026/01/01 00:00:03 - mmengine - INFO - Iter(train) [ 20/200]  lr: 1.0000e-04  eta: 0:01:00  \
time: 0.1000  data_time: 0.0100  memory: 0  loss: 8.5e-01  decode.loss_mse: 0.6000
2026/01/01 00:00:04 - mmengine - INFO - Iter(val) [4/4]    mIoU: 33.8500  time: 0.0267
"""

EPOCH_LOG = """\
2026/01/01 00:00:02 - mmengine - INFO - Epoch(train)  [1][ 5/50]  lr: 1.0000e-04  loss: 0.9
2026/01/01 00:00:03 - mmengine - INFO - Epoch(train)  [2][10/50]  lr: 1.0000e-04  loss: 0.8
2026/01/01 00:00:03 - mmengine - INFO - Epoch(train) [10][50/50]  lr: 1.0000e-04  loss: 0.7
"""


def write_run(work_dir, stamp='20260101_000000', records=TRAIN + [VAL]):
    """A work dir with one run folder holding vis_data/scalars.json."""
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    return vis / 'scalars.json'


def test_json_records_are_the_training_ones(tmp_path):
    path = write_run(tmp_path)
    records = read_log(str(path))
    assert [r['step'] for r in records] == [10, 20, 30, 40, 50]
    assert loss_keys(records) == ['loss', 'loss_mse']


def test_text_log_iterations_and_epochs(tmp_path):
    log = tmp_path / 'run.log'
    log.write_text(TEXT_LOG)
    records = read_text_log(str(log))
    assert [r['step'] for r in records] == [10, 20]
    assert records[1]['loss'] == pytest.approx(0.85)
    assert records[0]['decode.loss_mse'] == pytest.approx(0.7)
    assert 'eta' not in records[0] and 'mIoU' not in records[0]
    log.write_text(EPOCH_LOG)
    assert [r['step'] for r in read_text_log(str(log))] == [5, 60, 500]


def test_work_dir_resolves_to_the_latest_run(tmp_path):
    write_run(tmp_path, '20260101_000000')
    latest = write_run(tmp_path, '20260102_000000')
    (tmp_path / 'not_a_run').mkdir()
    assert resolve_log(str(tmp_path)) == str(latest)
    assert resolve_log(str(latest.parent.parent)) == str(latest)


def test_png_one_panel_per_key(tmp_path, capsys):
    write_run(tmp_path / 'a')
    log = tmp_path / 'b.log'
    log.write_text(TEXT_LOG)
    out = tmp_path / 'curves.png'
    assert main([str(tmp_path / 'a'), str(log), '--legend', 'json', 'text', '--out',
                 str(out)]) == 0
    assert 'loss, loss_mse, decode.loss_mse of 2 log(s)' in capsys.readouterr().out
    three = cv2.imread(str(out))
    assert main([str(log), '--keys', 'loss', '--out', str(out)]) == 0
    one = cv2.imread(str(out))
    assert one.shape[1] == three.shape[1] and three.shape[0] > 2.5 * one.shape[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.tmp')] == []


def test_errors_name_the_problem(tmp_path, capsys):
    assert main([str(tmp_path / 'missing'), '--out', str(tmp_path / 'x.png')]) == 1
    assert 'log not found' in capsys.readouterr().err
    assert main([str(tmp_path), '--out', str(tmp_path / 'x.png')]) == 1
    assert 'holds no training log' in capsys.readouterr().err
    path = write_run(tmp_path / 'w')
    assert main([str(path), '--keys', 'loss_ce', '--out', str(tmp_path / 'x.png')]) == 1
    assert 'no training record has loss_ce; the logs have: ' in capsys.readouterr().err
    path.write_text('{"loss": 1.0\n')
    assert main([str(path), '--out', str(tmp_path / 'x.png')]) == 1
    assert 'line 1: not a JSON record' in capsys.readouterr().err
    assert not (tmp_path / 'x.png').exists()
    with pytest.raises(SystemExit):
        main([str(path), str(path), '--legend', 'one'])
