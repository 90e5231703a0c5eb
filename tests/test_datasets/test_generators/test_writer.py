"""segrefiner.datasets.generators.writer: the benchmark's files, written crash-safely, and
scripts/gen_synthetic.py."""
import filecmp
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from segrefiner.datasets import SyntheticRefineDataset
from segrefiner.datasets.generators import generate_synthetic_dataset, scenes, writer
from segrefiner.datasets.transforms import mask_iou

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _generate(out, **kwargs):
    args = dict(num_train=4, num_val=2, size=(64, 64), seed=0, progress=False)
    args.update(kwargs)
    return generate_synthetic_dataset(str(out), **args)


def test_layout_and_meta(tmp_path):
    assert _generate(tmp_path) == {'train': True, 'val': True}
    assert sorted(os.listdir(tmp_path)) == ['train', 'val']  # no temporary leftovers
    for split, num in (('train', 4), ('val', 2)):
        split_dir = tmp_path / split
        with open(split_dir / 'meta.json') as f:
            meta = json.load(f)
        assert meta['params']['num_images'] == num and meta['params']['size'] == [64, 64]
        assert meta['params']['seed'] == 0 and meta['params']['split'] == split
        assert len(meta['images']) == num
        for entry in meta['images']:
            name = entry['name']
            img = cv2.imread(str(split_dir / 'images' / f'{name}.jpg'), cv2.IMREAD_UNCHANGED)
            gt = cv2.imread(str(split_dir / 'masks' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
            coarse = cv2.imread(str(split_dir / 'coarse' / f'{name}.png'),
                                cv2.IMREAD_UNCHANGED)
            assert img.shape == (64, 64, 3) and img.dtype == np.uint8
            assert gt.shape == coarse.shape == (64, 64)
            assert set(np.unique(gt)) == set(np.unique(coarse)) == {0, 255}
            assert entry['coarse_kind'] in scenes.COARSE_KINDS
            iou = mask_iou(gt // 255, coarse // 255)
            assert entry['coarse_iou'] == pytest.approx(iou, abs=1e-4)
            assert 1 <= entry['num_objects'] <= 3


def test_deterministic(tmp_path):
    _generate(tmp_path / 'a')
    _generate(tmp_path / 'b')
    _generate(tmp_path / 'c', seed=1)
    files = _files(tmp_path / 'a')
    assert files == _files(tmp_path / 'b') == _files(tmp_path / 'c')
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files,
                                               shallow=False)
    assert len(match) == len(files) and not mismatch and not errors
    _, mismatch, _ = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'c', files, shallow=False)
    assert len(mismatch) == len(files)


def test_skip_force_and_changed_params(tmp_path, capsys):
    _generate(tmp_path)
    meta = tmp_path / 'train' / 'meta.json'
    stamp = meta.stat().st_mtime_ns
    capsys.readouterr()
    assert _generate(tmp_path) == {'train': False, 'val': False}
    assert 'skipping' in capsys.readouterr().out
    assert meta.stat().st_mtime_ns == stamp

    # a changed parameter regenerates that split only; image i depends on (seed, split, i)
    first = (tmp_path / 'train' / 'images' / 'train_00000.jpg').read_bytes()
    assert _generate(tmp_path, num_train=3) == {'train': True, 'val': False}
    assert len(os.listdir(tmp_path / 'train' / 'images')) == 3
    assert (tmp_path / 'train' / 'images' / 'train_00000.jpg').read_bytes() == first

    assert _generate(tmp_path, num_train=3, force=True) == {'train': True, 'val': True}
    assert sorted(os.listdir(tmp_path)) == ['train', 'val']


def test_foreign_folder_is_not_overwritten(tmp_path):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / 'mine.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='meta.json'):
        _generate(tmp_path)
    assert (tmp_path / 'train' / 'mine.txt').exists()
    _generate(tmp_path, force=True)
    assert not (tmp_path / 'train' / 'mine.txt').exists()


def test_interrupted_run_leaves_no_split(tmp_path, monkeypatch):
    calls = []
    original = writer.make_sample

    def failing(rng, size):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(rng, size)

    monkeypatch.setattr(writer, 'make_sample', failing)
    with pytest.raises(KeyboardInterrupt):
        _generate(tmp_path)
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError, match='scripts/gen_synthetic.py'):
        SyntheticRefineDataset(data_root=str(tmp_path))

    # temporary folders of dead processes are cleaned up by the next run, those of a
    # generator still running (here: this process) are left alone
    (tmp_path / '.train.tmp-999999999-x' / 'train').mkdir(parents=True)
    (tmp_path / '.val.old-junk' / 'val').mkdir(parents=True)
    running = tmp_path / f'.train.tmp-{os.getpid()}-y'
    running.mkdir()
    monkeypatch.setattr(writer, 'make_sample', original)
    _generate(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(['train', 'val', running.name])


def test_cli(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'gen_synthetic', osp.join(ROOT, 'scripts', 'gen_synthetic.py'))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ['--out', str(tmp_path), '--num-train', '2', '--num-val', '1', '--size', '48', '64',
            '--seed', '3']
    assert script.main(argv) == 0
    assert 'done in' in capsys.readouterr().out
    img = cv2.imread(str(tmp_path / 'val' / 'images' / 'val_00000.jpg'))
    assert img.shape == (48, 64, 3)
    assert script.main(argv) == 0
    assert capsys.readouterr().out.count('skipping') == 2
    assert script.main(argv + ['--force']) == 0
    assert 'done in' in capsys.readouterr().out
