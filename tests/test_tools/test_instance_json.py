"""tools/test.py with the COCO config (tiny network): refine a results JSON, write NAME.segm.json,
print mask AP and boundary AP; malformed inputs fail clearly and write nothing."""
import importlib.util
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Optional, Tuple
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from pycocotools.coco import COCO

from instance_layouts import degraded_results, lvis_gt_from_coco, write_coco
from segrefiner.evaluation.instance import evaluate_instances

ROOT = Path(__file__).resolve().parents[2]
SHAPES = {139: (72, 96), 285: (80, 64)}
TINY_CONFIG = """
_base_ = ['{root}/configs/segrefiner/segrefiner_coco.py']
model = dict(
    decode_head=dict(denoiser=dict(model_channels=16, num_res_blocks=1, channel_mult=(1, 2),
                                   attention_strides=(2, ), num_heads=2, norm_groups=8)),
    test_cfg=dict(model_size=32, batch_max=4, area_thr=200))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root='{data}', coarse_file='coarse_coco/det.segm.json'))
test_evaluator = dict(gt_file='{data}/lvis/annotations/lvis_v1_val_cocofied.json')
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """COCO val2017 fixture, degraded detections as the coarse results, the LVIS-format GT, a
    tiny config and its checkpoint."""
    folder = tmp_path_factory.mktemp('instance_json')
    data = folder / 'data'
    coco = write_coco(data, SHAPES, objects_per_image=3, seed=4)
    gt = lvis_gt_from_coco(coco)
    (data / 'lvis' / 'annotations').mkdir(parents=True)
    (data / 'lvis' / 'annotations' / 'lvis_v1_val_cocofied.json').write_text(json.dumps(gt))
    coarse = degraded_results(gt, radius=1)
    for det, ann in zip(coarse, gt['annotations']):
        det['bbox'] = ann['bbox']
    (data / 'coarse_coco').mkdir()
    (data / 'coarse_coco' / 'det.segm.json').write_text(json.dumps(coarse))
    config = folder / 'tiny_coco.py'
    config.write_text(TINY_CONFIG.format(root=ROOT, data=data))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    checkpoint = folder / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return folder, config, checkpoint, coarse


_RUNS = itertools.count()


def run(capfd, *args) -> Tuple[Optional[BaseException], str, str]:
    """``python tools/test.py ARGS`` in this process: (the error it ended with or None, stdout,
    stderr).

    One thread (on a loaded 2-core machine, two OpenMP threads slow the tiny network 10x), and
    an experiment and visualizer name of its own, so that mmengine's global logger and
    visualizer of one run do not serve the next.
    """
    run_id = f'instance_json{next(_RUNS)}'
    argv = ['tools/test.py', *map(str, args)]
    options = [f'experiment_name={run_id}', f'visualizer.name=vis_{run_id}']
    if '--cfg-options' in argv:
        argv[argv.index('--cfg-options') + 1:argv.index('--cfg-options') + 1] = options
    else:
        argv += ['--cfg-options', *options]
    spec = importlib.util.spec_from_file_location(f'segrefiner_tools_test_{run_id}',
                                                  ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capfd.readouterr()
    error = None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.object(sys, 'argv', argv):
            module.main()
    except Exception as exc:  # what would end the command with a traceback and exit code 1
        error = exc
        print(f'{type(exc).__name__}: {exc}', file=sys.stderr)
    finally:
        torch.set_num_threads(threads)
    out, err = capfd.readouterr()
    return error, out, err


def test_refine_results_json_end_to_end(setup, capfd):
    folder, config, checkpoint, coarse = setup
    out_dir = folder / 'out'
    error, stdout, stderr = run(capfd, config, checkpoint, '--out-prefix', out_dir / 'refined',
                                '--work-dir', folder / 'work')
    log = stdout + stderr
    assert error is None, log[-3000:]
    out = out_dir / 'refined.segm.json'
    assert sorted(p.name for p in out_dir.iterdir()) == ['refined.segm.json']  # no temp file
    assert f'wrote {len(coarse)} refined instances of 2 images to {out}' in log
    assert '2/2' in log  # progress bar
    # the refined results load with pycocotools and keep the detector's boxes, scores, classes
    api = COCO(str(folder / 'data' / 'coco' / 'annotations' / 'instances_val2017.json'))
    refined = api.loadRes(str(out))
    assert len(refined.getAnnIds()) == len(coarse)
    results = json.loads(out.read_text())
    key = lambda d: (d['image_id'], -d['score'])  # noqa: E731
    for got, det in zip(sorted(results, key=key), sorted(coarse, key=key)):
        assert (got['image_id'], got['category_id']) == (det['image_id'], det['category_id'])
        assert got['score'] == pytest.approx(det['score'])
        assert got['bbox'] == pytest.approx(det['bbox'])
        assert got['segmentation']['size'] == det['segmentation']['size']
    # the test run printed the LVIS mask and boundary AP, as eval_json computes them
    metrics = dict(re.findall(r'lvis/(segm_AP|boundary_AP): ([\d.-]+)', log))
    evaluated = evaluate_instances(
        str(folder / 'data' / 'lvis' / 'annotations' / 'lvis_v1_val_cocofied.json'), str(out))
    assert float(metrics['segm_AP']) == pytest.approx(evaluated['segm']['AP'], abs=1e-4)
    assert float(metrics['boundary_AP']) == pytest.approx(evaluated['boundary']['AP'],
                                                          abs=1e-4)
    assert 'boundary AP' in log and 'mask AP' in log  # the table


def test_malformed_results_file_fails_clearly(setup, capfd):
    folder, config, checkpoint, coarse = setup
    bad = folder / 'data' / 'coarse_coco' / 'bad.segm.json'
    bad.write_text(json.dumps(coarse[:1] + [dict(coarse[1], image_id=31337)]))
    out_dir = folder / 'bad_out'
    error, _, stderr = run(capfd, config, checkpoint, '--out-prefix', out_dir / 'refined',
                           '--work-dir', folder / 'work_bad', '--cfg-options',
                           'test_dataloader.dataset.coarse_file=coarse_coco/bad.segm.json')
    assert error is not None
    assert re.search(r'bad.segm.json: detection #1 refers to image id 31337, which is not in '
                     r'.*instances_val2017.json', stderr)
    assert not out_dir.exists()
