"""scripts/eval_json.py: mask AP and boundary AP of COCO results JSONs against an LVIS GT."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instance_layouts import (degraded_results, gt_as_results, lvis_gt_from_coco, to_rle,
                              write_coco)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def script():
    spec = importlib.util.spec_from_file_location('eval_json', ROOT / 'scripts' / 'eval_json.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('eval_json')
    gt = lvis_gt_from_coco(write_coco(root, {1: (90, 120), 2: (100, 100)}, 3, seed=5))
    paths = dict(gt=root / 'gt.json', perfect=root / 'perfect.segm.json',
                 degraded=root / 'degraded.segm.json')
    paths['gt'].write_text(json.dumps(gt))
    paths['perfect'].write_text(json.dumps(gt_as_results(gt)))
    paths['degraded'].write_text(json.dumps(degraded_results(gt, radius=1)))
    return gt, {k: str(v) for k, v in paths.items()}


def table_values(out):
    """{metric: (value per column)} from the printed table; '-' (not evaluated) is None."""
    values = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if cells and cells[0].startswith('AP'):
            values[cells[0]] = tuple(None if c == '-' else float(c) for c in cells[1:])
    return values


def test_gt_scores_100_and_degraded_lower(script, files, capsys, tmp_path):
    _, paths = files
    assert script.main(['--gt', paths['gt'], '--dt', paths['perfect']]) == 0
    perfect = table_values(capsys.readouterr().out)
    assert perfect['AP'] == (100.0, 100.0) and perfect['AP75'] == (100.0, 100.0)
    metrics = tmp_path / 'metrics.json'
    assert script.main(['--gt', paths['gt'], '--dt', paths['degraded'],
                        '--json', str(metrics)]) == 0
    mask_ap, boundary_ap = table_values(capsys.readouterr().out)['AP']
    assert boundary_ap < mask_ap < 100
    saved = json.loads(metrics.read_text())
    assert saved['segm']['AP'] == pytest.approx(mask_ap / 100, abs=6e-4)
    assert script.main(['--gt', paths['gt'], '--dt', paths['degraded'],
                        '--iou-type', 'boundary']) == 0
    out = capsys.readouterr().out
    assert 'boundary AP' in out and 'mask AP' not in out


def run_json(script, tmp_path, args):
    """main(args + --json) in-process; the metrics it wrote."""
    out = tmp_path / f'metrics{len(list(tmp_path.iterdir()))}.json'
    assert script.main(list(args) + ['--json', str(out)]) == 0
    return json.loads(out.read_text())


def test_max_dets(script, files, tmp_path):
    """With one detection per image only each image's top-scoring object (category 1) is
    found: categories 3 and 18 score 0, so AP = 1/3; with 300 all are found."""
    gt, paths = files
    args = ['--gt', paths['gt'], '--dt', paths['perfect'], '--iou-type', 'segm']
    assert run_json(script, tmp_path, args + ['--max-dets', '300'])['segm']['AP'] == 1.0
    one = run_json(script, tmp_path, args + ['--max-dets', '1'])['segm']
    assert one['AP'] == pytest.approx(1 / 3)
    assert 'AR@1' in one  # LVISEval's own per-image cap follows the flag too


def test_dilation_ratio(script, files, tmp_path):
    """A wider boundary band (0.2 × the diagonal covers almost every object) brings boundary AP
    up towards mask AP; mask AP does not depend on it."""
    _, paths = files
    args = ['--gt', paths['gt'], '--dt', paths['degraded']]
    thin = run_json(script, tmp_path, args + ['--dilation-ratio', '0.02'])
    wide = run_json(script, tmp_path, args + ['--dilation-ratio', '0.2'])
    assert wide['segm'] == thin['segm']
    assert thin['boundary']['AP'] < wide['boundary']['AP'] <= wide['segm']['AP']


def test_det_area(script, files, tmp_path):
    """An empty mask with a box, at the top score: a false positive by its box area (the LVIS
    API's rule, the default), dropped by its mask area (0)."""
    gt, paths = files
    dets = gt_as_results(gt)
    image = next(i for i in gt['images'] if i['id'] == dets[0]['image_id'])
    empty = to_rle(np.zeros((image['height'], image['width']), np.uint8))
    dets.append(dict(dets[0], score=0.99, bbox=[2.0, 2.0, 10.0, 10.0], segmentation=empty))
    dt = tmp_path / 'empty.segm.json'
    dt.write_text(json.dumps(dets))
    args = ['--gt', paths['gt'], '--dt', str(dt), '--iou-type', 'segm']
    by_box = run_json(script, tmp_path, args)['segm']
    assert by_box['AP'] < 1.0 and by_box['APs'] < 1.0  # a 10×10 box: small
    assert run_json(script, tmp_path, args + ['--det-area', 'mask'])['segm']['AP'] == 1.0


def test_unknown_ids_are_reported(script, files, tmp_path, capsys):
    gt, paths = files
    dets = gt_as_results(gt)
    dets += [dict(dets[0], image_id=404), dict(dets[1], category_id=99)]
    dt = tmp_path / 'extra.segm.json'
    dt.write_text(json.dumps(dets))
    assert script.main(['--gt', paths['gt'], '--dt', str(dt), '--iou-type', 'segm']) == 0
    out = capsys.readouterr().out
    assert re.search(r'1 detections of .*extra.segm.json refer to images that are not in the '
                     r'GT and are skipped \(ids 404\)', out)
    assert 'refer to categories that are not in the GT and are skipped (ids 99)' in out
    assert table_values(out)['AP'] == (100.0, )
    assert list(tmp_path.iterdir()) == [dt]  # no filtered copy is cached next to the input


def test_errors_exit_2_with_a_message(script, files, tmp_path, capsys):
    gt, paths = files
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([{'image_id': 1, 'category_id': 1, 'score': 0.5}]))
    assert script.main(['--gt', paths['gt'], '--dt', str(bad)]) == 2
    assert "detection #0 lacks the keys ['segmentation']" in capsys.readouterr().err
    assert script.main(['--gt', str(tmp_path / 'none.json'), '--dt', paths['perfect']]) == 2
    assert 'GT file not found' in capsys.readouterr().err


def test_cli(files):
    _, paths = files
    proc = subprocess.run([sys.executable, 'scripts/eval_json.py', '--gt', paths['gt'], '--dt',
                           paths['perfect'], '--iou_type', 'segm'],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert table_values(proc.stdout)['AP'][0] == 100.0
