"""scripts/gen_coarse_masks_hr.py on DIS-TR and ThinObject-5K fixtures in their real layouts."""
import importlib.util
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHAPES = {'dis': {'a': (60, 80), 'b': (64, 48)}, 'thin': {'c': (50, 70)}}


def load_script():
    spec = importlib.util.spec_from_file_location('gen_coarse_masks_hr',
                                                  ROOT / 'scripts' / 'gen_coarse_masks_hr.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules['gen_coarse_masks_hr'] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def script():
    return load_script()


def object_with_hole(shape, seed):
    """uint8 {0, 1}: an ellipse with a hole and a thin rod."""
    h, w = shape
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 3, h // 3), float(rng.uniform(0, 90)), 0, 360,
                1, -1)
    cv2.circle(mask, (w // 2, h // 2), min(h, w) // 5, 0, -1)
    cv2.line(mask, (w // 2, h // 2 + h // 3), (w - 3, h - 3), 1, 1)
    return mask


def write_fixture(root: Path):
    """DIS-TR and ThinObject-5K training files (JPEG images, 0/255 PNG GTs)."""
    rng = np.random.default_rng(0)
    layout = {'dis': ('dis/DIS-TR/im', 'dis/DIS-TR/gt'),
              'thin': ('thin_object/images', 'thin_object/masks')}
    gts = {}
    for dataset, names in SHAPES.items():
        img_dir, gt_dir = (root / d for d in layout[dataset])
        img_dir.mkdir(parents=True)
        gt_dir.mkdir(parents=True)
        for i, (name, shape) in enumerate(names.items()):
            cv2.imwrite(str(img_dir / f'{name}.jpg'),
                        rng.integers(0, 256, shape + (3, ), dtype=np.uint8))
            gts[name] = object_with_hole(shape, i)
            cv2.imwrite(str(gt_dir / f'{name}.png'), gts[name] * 255)
    (root / 'thin_object/list').mkdir(parents=True)
    (root / 'thin_object/list/train.txt').write_text('c.png\n')
    return gts


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def outputs(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob('coarse*/*.png'))}


def test_cli_writes_masks_and_collection(tmp_path, script, monkeypatch, capsys):
    gts = write_fixture(tmp_path)
    # the command line, in-process (main reads sys.argv; a subprocess adds only the imports)
    monkeypatch.setattr(sys, 'argv', ['scripts/gen_coarse_masks_hr.py', '--data-root',
                                      str(tmp_path), '--nproc', '2', '--seed', '3'])
    assert script.main() == 0
    assert '3/3' in capsys.readouterr().out  # mmengine's progress bar over all images
    collection = json.loads((tmp_path / 'collection_hr.json').read_text())
    assert sorted(collection) == ['dis', 'thin']
    assert collection['dis'][0] == {
        'filename': 'dis/DIS-TR/im/a.jpg', 'maskname': 'dis/DIS-TR/gt/a.png',
        'coarsename': 'dis/DIS-TR/coarse/a.png', 'expandname': 'dis/DIS-TR/coarse_expand/a.png',
        'height': 60, 'width': 80}
    assert [e['filename'] for e in collection['dis']] == ['dis/DIS-TR/im/a.jpg',
                                                         'dis/DIS-TR/im/b.jpg']
    assert collection['thin'] == [{
        'filename': 'thin_object/images/c.jpg', 'maskname': 'thin_object/masks/c.png',
        'coarsename': 'thin_object/coarse/c.png',
        'expandname': 'thin_object/coarse_expand/c.png', 'height': 50, 'width': 70}]
    for dataset, entries in collection.items():
        for entry in entries:
            name = Path(entry['maskname']).stem
            gt = gts[name] > 0
            coarse = read(tmp_path / entry['coarsename'])
            expand = read(tmp_path / entry['expandname'])
            for mask in (coarse, expand):
                assert mask.shape == gt.shape and set(np.unique(mask)) == {0, 255}
            coarse, expand = coarse > 0, expand > 0
            iou = (coarse & gt).sum() / (coarse | gt).sum()
            assert 0.4 < iou < 1  # perturbed, not copied, not destroyed
            # the draws depend on (seed, dataset, name) only; expand perturbs the silhouette
            seed = script.image_seed(3, dataset, name)
            gt8 = gt.astype(np.uint8)
            assert np.array_equal(coarse, script.coarse_from(
                gt8, np.random.default_rng([seed, 0]), 0.8) > 0)
            silhouette = script.fill_holes(gt8)
            assert silhouette.sum() > gt8.sum()
            assert np.array_equal(expand, script.coarse_from(
                silhouette, np.random.default_rng([seed, 1]), 0.8) > 0)


def test_same_seed_same_masks_any_workers_and_resume(tmp_path, script):
    write_fixture(tmp_path)
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1', '--seed', '5']) == 0
    first = outputs(tmp_path)
    assert len(first) == 6
    # resume: only the deleted mask is written again, identical to before
    victim = tmp_path / 'dis/DIS-TR/coarse_expand/b.png'
    victim.unlink()
    kept = tmp_path / 'dis/DIS-TR/coarse/a.png'
    stamp = kept.stat().st_mtime_ns
    os.utime(kept, ns=(stamp - 10**9, stamp - 10**9))
    assert script.main(['--data-root', str(tmp_path), '--nproc', '2', '--seed', '5']) == 0
    assert outputs(tmp_path) == first
    assert kept.stat().st_mtime_ns == stamp - 10**9  # untouched
    # another seed draws other masks (with --force over the existing ones)
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1', '--seed', '6',
                        '--force']) == 0
    assert outputs(tmp_path) != first


def test_problems_are_named_and_earlier_output_kept(tmp_path, script, capsys):
    write_fixture(tmp_path)
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1']) == 0
    json_path = tmp_path / 'collection_hr.json'
    before = json_path.read_bytes()
    # a GT of the wrong size, an empty GT, a missing GT and a corrupt image
    cv2.imwrite(str(tmp_path / 'dis/DIS-TR/gt/a.png'), np.zeros((10, 10), np.uint8))
    cv2.imwrite(str(tmp_path / 'dis/DIS-TR/gt/b.png'), np.zeros((64, 48), np.uint8))
    for name in ('a', 'b'):
        for kind in ('coarse', 'coarse_expand'):
            (tmp_path / f'dis/DIS-TR/{kind}/{name}.png').unlink()
    (tmp_path / 'thin_object/masks/c.png').unlink()
    (tmp_path / 'thin_object/images/d.jpg').write_bytes(b'not a jpeg')
    (tmp_path / 'thin_object/list/train.txt').write_text('c.png\nd.png\n')
    capsys.readouterr()
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1']) == 1
    err = capsys.readouterr().err
    assert 'dis/DIS-TR/gt/a.png is 10x10 (HxW) but image' in err
    assert 'dis/DIS-TR/gt/b.png is empty' in err
    assert 'GT mask not found' in err and 'thin_object/masks/c.png' in err
    assert 'thin_object/images/d.jpg is not a readable image' in err
    assert json_path.read_bytes() == before  # the earlier collection is not lost
    assert not list(tmp_path.rglob('.tmp-*'))  # and nothing half-written is left
    # --skip-invalid writes the collection without them
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1', '--skip-invalid']) == 0
    assert json.loads(json_path.read_text()) == {'dis': [], 'thin': []}


def test_other_lists_are_kept_and_bad_folders_rejected(tmp_path, script, capsys):
    write_fixture(tmp_path)
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1']) == 0
    full = json.loads((tmp_path / 'collection_hr.json').read_text())
    assert script.main(['--data-root', str(tmp_path), '--nproc', '1', '--datasets', 'dis']) == 0
    assert json.loads((tmp_path / 'collection_hr.json').read_text()) == full
    capsys.readouterr()
    assert script.main(['--data-root', str(tmp_path / 'nowhere'), '--datasets', 'dis']) == 2
    assert 'image folder not found' in capsys.readouterr().err


def test_no_wraparound_and_no_empty_fallback(script, rng):
    # a 0/1 mask whose only contours are too short for the polygon stage: SegRefiner's script
    # wraps gt*255 on uint8 and returns an empty mask here; the fallback is the mask itself
    tiny = np.zeros((40, 40), np.uint8)
    tiny[10:12, 10:12] = 1
    tiny[30, 5] = 1
    coarse = script.coarse_from(tiny, rng, 0.8)
    assert coarse.any()
    ring = np.zeros((9, 9), np.uint8)
    ring[2:7, 2:7] = 1
    ring[4, 4] = 0
    assert script.fill_holes(ring).sum() == 25
