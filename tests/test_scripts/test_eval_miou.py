"""scripts/eval_miou.py and eval_miou_dis.py on tiny folders written in tmp_path."""
import importlib.util
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segrefiner.evaluation.functional import boundary_f1, mba, pooled_iou

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location('eval_miou', ROOT / 'scripts' / 'eval_miou.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules['eval_miou'] = module  # worker processes find evaluate_files by this name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def script():
    return load_script()


def masks(seed, h=48, w=64):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.uniform(15, 33), rng.uniform(15, 49), rng.uniform(6, 14)
    gt = ((yy - cy)**2 + (xx - cx)**2 <= r * r)
    coarse = ((yy - cy - 2)**2 + (xx - cx)**2 <= (r + 3)**2)
    refine = np.roll(gt, 1, axis=1)
    return [(m * 255).astype(np.uint8) for m in (gt, coarse, refine)]


def write_folders(root, n=3, layout='big'):
    dirs = [root / d for d in ('gt', 'coarse', 'refine')]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    data = []
    for i in range(n):
        ms = masks(i)
        data.append(ms)
        for d, m, suffix in zip(dirs, ms, ('_gt', '_seg', '_refine')):
            name = f'img{i}{suffix}.png' if layout == 'big' else f'img{i}.png'
            Image.fromarray(m).save(d / name)
    return [str(d) for d in dirs], data


def expected_numbers(data):
    gts = [d[0] for d in data]
    out = {}
    for kind, k in (('coarse', 1), ('refined', 2)):
        preds = [d[k] for d in data]
        out[kind] = {
            'IoU': pooled_iou(preds, gts),
            'mBA': float(np.mean([mba(p, g) for p, g in zip(preds, gts)])),
            'BF': float(np.mean([boundary_f1(p, g).f for p, g in zip(preds, gts)])),
        }
    return out


@pytest.mark.parametrize('layout', ['big', 'dis'])
def test_numbers_match_the_functions(script, tmp_path, layout):
    (gt, coarse, refine), data = write_folders(tmp_path, layout=layout)
    res = script.evaluate_folders(gt, coarse, refine, progress=False)
    assert res['layout'] == layout  # auto-detected
    assert res['num_images'] == 3 and res['mba_skipped'] == 0
    exp = expected_numbers(data)
    for kind in ('coarse', 'refined'):
        assert res[kind] == pytest.approx(exp[kind], rel=1e-12)
    assert res['refined']['IoU'] > res['coarse']['IoU']


def test_main_prints_table_and_json(script, tmp_path, capsys):
    (gt, coarse, refine), data = write_folders(tmp_path)
    out_json = tmp_path / 'res.json'
    assert script.main(['--gt', gt, '--coarse', coarse, '--refine', refine, '--json',
                        str(out_json)]) == 0
    printed = capsys.readouterr().out
    exp = expected_numbers(data)
    for key in ('IoU', 'mBA', 'BF'):
        c, r = exp['coarse'][key] * 100, exp['refined'][key] * 100
        assert f'{c:.2f}' in printed and f'{r:.2f}' in printed and f'{r - c:+.2f}' in printed
    assert 'delta' in printed and '3 images (big layout)' in printed
    assert '3/3' in printed  # the progress bar ran
    saved = json.loads(out_json.read_text())
    assert saved['refined']['IoU'] == pytest.approx(exp['refined']['IoU'])


def test_worker_pool_gives_the_same_numbers(script, tmp_path):
    (gt, coarse, refine), _ = write_folders(tmp_path, n=4)
    one = script.evaluate_folders(gt, coarse, refine, progress=False)
    two = script.evaluate_folders(gt, coarse, refine, nproc=2, progress=False)
    assert one == two


def test_mismatched_names_say_which_are_missing_where(script, tmp_path, capsys):
    (gt, coarse, refine), _ = write_folders(tmp_path)
    (Path(refine) / 'img1_refine.png').unlink()
    (Path(coarse) / 'img2_seg.png').rename(Path(coarse) / 'other_seg.png')
    with pytest.raises(script.EvalInputError) as err:
        script.pair_files(gt, coarse, refine)
    msg = str(err.value)
    assert f'missing in --refine {refine}: img1_refine.png' in msg
    assert f'missing in --coarse {coarse}: img2_seg.png' in msg
    assert f'missing in --gt {gt}: other_gt.png' in msg
    assert script.main(['--gt', gt, '--coarse', coarse, '--refine', refine]) == 2
    assert 'img1_refine.png' in capsys.readouterr().err


def test_dis_layout_mismatch(script, tmp_path):
    (gt, coarse, refine), _ = write_folders(tmp_path, layout='dis')
    (Path(gt) / 'img0.png').unlink()
    with pytest.raises(script.EvalInputError, match=f'missing in --gt {gt}: img0.png'):
        script.pair_files(gt, coarse, refine, 'dis')


def test_unreadable_file_is_named(script, tmp_path):
    (gt, coarse, refine), _ = write_folders(tmp_path)
    bad = Path(refine) / 'img1_refine.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(script.EvalInputError, match=f'cannot read {bad}'):
        script.evaluate_folders(gt, coarse, refine, progress=False)


def test_size_mismatch_names_file_and_shapes(script, tmp_path):
    (gt, coarse, refine), _ = write_folders(tmp_path)
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(Path(coarse) / 'img2_seg.png')
    with pytest.raises(script.EvalInputError,
                       match=r'img2_gt.png: the coarse mask .*img2_seg.png is 40x30 \(HxW\) but '
                             r'the GT .* is 48x64'):
        script.evaluate_folders(gt, coarse, refine, progress=False)


def test_threshold_128_is_foreground(script, tmp_path):
    p = tmp_path / 'm.png'
    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)).save(p)
    np.testing.assert_array_equal(script.read_mask(str(p)), [[False, False, True, True]])
    rgb = tmp_path / 'rgb.png'  # colour files are read as grey like the reference (PIL 'L')
    Image.fromarray(np.full((2, 2, 3), 200, np.uint8)).save(rgb)
    assert script.read_mask(str(rgb)).all()


def test_dis_script_shares_the_code(tmp_path, monkeypatch, capsys):
    (gt, coarse, refine), data = write_folders(tmp_path, layout='dis')
    script = ROOT / 'scripts' / 'eval_miou_dis.py'
    # run as ``python scripts/eval_miou_dis.py`` would, in-process: a fresh ``eval_miou`` and
    # no scripts/ on sys.path, so the script must find its sibling by itself
    monkeypatch.delitem(sys.modules, 'eval_miou', raising=False)
    monkeypatch.setattr(sys, 'path', [p for p in sys.path
                                      if Path(p or '.').resolve() != script.parent])
    monkeypatch.setattr(sys, 'argv', [str(script), '--gt', gt, '--coarse', coarse, '--refine',
                                      refine, '--no-progress'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name='__main__')
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    exp = expected_numbers(data)
    assert f"{exp['refined']['IoU'] * 100:.2f}" in out
    assert '(dis layout)' in out
    text = (ROOT / 'scripts' / 'eval_miou_dis.py').read_text()
    assert 'from eval_miou import main' in text and 'def ' not in text
