"""scripts/eval_miou.py and eval_miou_dis.py on the BIG and DIS-5K folder layouts.

The refined folders are named as ``tools/test.py --out`` writes them (``<name>_refine.png`` for
BIG, ``<set>/<name>.png`` for DIS-5K; see tests/test_tools/test_hr_test_outputs.py).
"""
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from hr_layouts import write_big, write_dis, write_mask
from segrefiner.evaluation.functional import mba, pooled_iou

ROOT = Path(__file__).resolve().parents[2]


def refined_of(gt):
    return np.roll(gt, 1, axis=1)


def run_eval(script: str, *args: str) -> int:
    """``scripts/<script> --no-progress *args`` in-process; returns the exit code.

    ``eval_miou_dis.py`` is ``eval_miou.py``'s ``main`` with the DIS layout as the default (its
    standalone run is tested in test_eval_miou.py); a subprocess would only add the imports.
    """
    spec = importlib.util.spec_from_file_location('eval_miou', ROOT / 'scripts' / 'eval_miou.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules['eval_miou'] = module  # worker processes find evaluate_files by this name
    spec.loader.exec_module(module)
    argv = ['--no-progress', *args]
    if script == 'eval_miou_dis.py':
        return module.main(argv, default_layout='dis', prog=script)
    assert script == 'eval_miou.py', script
    return module.main(argv)


def expected(arrays):
    gts = [a['gt'] for a in arrays]
    return {kind: dict(IoU=pooled_iou([fn(a) for a in arrays], gts),
                       mBA=float(np.mean([mba(fn(a), a['gt']) for a in arrays])))
            for kind, fn in (('coarse', lambda a: a['coarse']),
                             ('refined', lambda a: refined_of(a['gt'])))}


def check_numbers(json_path, arrays):
    got = json.loads(Path(json_path).read_text())
    for kind, numbers in expected(arrays).items():
        for key, value in numbers.items():
            assert got[kind][key] == pytest.approx(value, abs=1e-9), (kind, key)


def write_big_refined(root, arrays):
    out = root / 'work_dirs' / 'big_deeplab'
    for name, masks in arrays.items():
        write_mask(out / f'{name}_refine.png', refined_of(masks['gt']))
    return out


def test_big_separated_folders(tmp_path):
    """GT folder with only ``_gt.png``, coarse folder with only ``_seg.png``."""
    arrays = write_big(tmp_path / 'big')
    gt_dir, coarse_dir = tmp_path / 'gt_only', tmp_path / 'seg_only'
    gt_dir.mkdir()
    coarse_dir.mkdir()
    for name in arrays:
        shutil.copy(tmp_path / 'big' / 'test' / f'{name}_gt.png', gt_dir)
        shutil.copy(tmp_path / 'big' / 'coarse' / 'deeplab' / f'{name}_seg.png', coarse_dir)
    refine = write_big_refined(tmp_path, arrays)
    code = run_eval('eval_miou.py', '--gt', str(gt_dir), '--coarse', str(coarse_dir),
                    '--refine', str(refine), '--json', str(tmp_path / 'r.json'))
    assert code == 0
    check_numbers(tmp_path / 'r.json', list(arrays.values()))


def test_big_release_layout(tmp_path):
    arrays = write_big(tmp_path / 'big')
    refine = write_big_refined(tmp_path, arrays)
    code = run_eval('eval_miou.py', '--gt', str(tmp_path / 'big' / 'test'), '--coarse',
                    str(tmp_path / 'big' / 'coarse' / 'deeplab'), '--refine', str(refine),
                    '--json', str(tmp_path / 'r.json'))
    assert code == 0
    check_numbers(tmp_path / 'r.json', list(arrays.values()))


def test_dis_per_set(tmp_path):
    arrays = write_dis(tmp_path / 'dis')
    out = tmp_path / 'work_dirs' / 'dis_isnet'
    for dis_set, names in arrays.items():
        for name, masks in names.items():
            write_mask(out / dis_set / f'{name}.png', refined_of(masks['gt']))
    for dis_set, names in arrays.items():
        result = tmp_path / f'{dis_set}.json'
        code = run_eval('eval_miou_dis.py', '--gt', str(tmp_path / 'dis' / dis_set / 'gt'),
                        '--coarse', str(tmp_path / 'dis' / 'coarse' / 'isnet' / dis_set),
                        '--refine', str(out / dis_set), '--json', str(result))
        assert code == 0
        check_numbers(result, list(names.values()))
