"""tools/dataset_converters/build_memmap.py and MemmapSegDataset: the round trip (a memmap
sample equals the folder sample resized), resuming a killed run, and bad files."""
import json
import os

import numpy as np
import pytest
from mmseg.registry import DATASETS

from query_seg_utils import write_pair
from segrefiner.datasets import MemmapSegDataset
from segrefiner.datasets.memmap_seg import memmap_files, read_header
from test_tools.train_utils import ROOT, load_tool

build_memmap = load_tool('dataset_converters/build_memmap')
SIZE = (16, 24)  # (H, W)
RESIZE = dict(type='Resize', scale=(SIZE[1], SIZE[0]), keep_ratio=False)
LOAD = [dict(type='LoadRefineImageFromFile'),
        dict(type='LoadThresholdedAnnotations', threshold=128)]


@pytest.fixture
def folder(tmp_path, rng):
    """Five random images of different sizes with random 0-255 masks (SegFolderDataset)."""
    root = tmp_path / 'src'
    for i, (h, w) in enumerate([(20, 30), (33, 17), (16, 24), (40, 40), (9, 50)]):
        write_pair(str(root / 'images' / f'im{i}.png'), str(root / 'masks' / f'im{i}.png'),
                   rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                   rng.integers(0, 256, (h, w), dtype=np.uint8))
    return root


def source(folder, pipeline):
    return DATASETS.build(dict(type='SegFolderDataset', data_root=str(folder),
                               pipeline=pipeline))


def test_round_trip_equals_the_folder_sample_resized(folder, tmp_path):
    header = build_memmap.build(source(folder, [*LOAD, RESIZE]), str(tmp_path / 'out'),
                                'train_16x24_fp16', SIZE, flush_every=2)
    info = read_header(header)
    assert info['images']['shape'] == [5, 16, 24, 3] and info['masks']['dtype'] == 'float16'
    assert [s['img_path'] for s in info['sources']] == [
        str(folder / 'images' / f'im{i}.png') for i in range(5)]
    memmap = MemmapSegDataset(header='train_16x24_fp16.json', data_root=str(tmp_path / 'out'))
    reference = source(folder, [*LOAD, RESIZE])
    for i in range(5):
        got, want = memmap[i], reference[i]
        assert np.array_equal(got['img'], want['img'])  # uint8 BGR, exact through float16
        assert np.array_equal(got['gt_seg_map'], want['gt_seg_map'])
        assert got['img_path'] == want['img_path'] and got['ori_shape'] == SIZE
    packed = MemmapSegDataset(header=header, pipeline=[dict(type='PackSegInputs')])[3]
    assert packed['inputs'].shape == (3, 16, 24)
    assert packed['data_samples'].gt_sem_seg.data.shape == (1, 16, 24)


class Killed(Exception):
    pass


class KilledAt:
    """A dataset that raises when sample ``kill_at`` is read (a run killed there)."""

    def __init__(self, dataset, kill_at=None):
        self.dataset, self.kill_at, self.read = dataset, kill_at, []
        self.metainfo = dataset.metainfo

    def __len__(self):
        return len(self.dataset)

    def get_data_info(self, i):
        return self.dataset.get_data_info(i)

    def __getitem__(self, i):
        if i == self.kill_at:
            raise Killed
        self.read.append(i)
        return self.dataset[i]


def test_killed_run_leaves_nothing_complete_and_resumes(folder, tmp_path):
    out, stem = str(tmp_path / 'out'), 'train_16x24_fp16'
    files = memmap_files(out, stem)
    with pytest.raises(Killed):
        build_memmap.build(KilledAt(source(folder, [*LOAD, RESIZE]), kill_at=3), out, stem,
                           SIZE, flush_every=2)
    assert sorted(os.listdir(out)) == sorted([f'{stem}_images.mmap.partial',
                                              f'{stem}_masks.mmap.partial',
                                              f'{stem}.progress.json'])
    with open(os.path.join(out, f'{stem}.progress.json')) as f:
        assert json.load(f)['done'] == 2  # the last flush
    with pytest.raises(FileNotFoundError, match='memmap header not found'):
        MemmapSegDataset(header=files['header'])
    resumed = KilledAt(source(folder, [*LOAD, RESIZE]))
    build_memmap.build(resumed, out, stem, SIZE, flush_every=2)
    assert resumed.read == [2, 3, 4]  # continued after the flushed samples
    assert sorted(os.listdir(out)) == sorted(
        os.path.basename(p) for p in files.values())
    whole = str(tmp_path / 'whole')
    build_memmap.build(source(folder, [*LOAD, RESIZE]), whole, stem, SIZE)
    for key in ('images', 'masks'):
        with open(files[key], 'rb') as a, open(memmap_files(whole, stem)[key], 'rb') as b:
            assert a.read() == b.read()
    again = KilledAt(source(folder, [*LOAD, RESIZE]))  # complete: kept, nothing read
    build_memmap.build(again, out, stem, SIZE)
    assert again.read == []


def test_partial_run_of_other_sources_is_refused(folder, tmp_path):
    out, stem = str(tmp_path / 'out'), 'train_16x24_fp16'
    with pytest.raises(Killed):
        build_memmap.build(KilledAt(source(folder, [*LOAD, RESIZE]), kill_at=3), out, stem,
                           SIZE, flush_every=1)
    (folder / 'images' / 'im4.png').unlink()
    (folder / 'masks' / 'im4.png').unlink()
    with pytest.raises(ValueError, match='other sources or shape.*--overwrite'):
        build_memmap.build(source(folder, [*LOAD, RESIZE]), out, stem, SIZE)
    build_memmap.build(source(folder, [*LOAD, RESIZE]), out, stem, SIZE, overwrite=True)
    assert read_header(memmap_files(out, stem)['header'])['num_samples'] == 4


def test_bad_inputs(folder, tmp_path):
    with pytest.raises(ValueError, match=r'im0.png: the pipeline gave an image of \(20, 30\)'):
        build_memmap.build(source(folder, LOAD), str(tmp_path / 'a'), 's', SIZE)
    out = str(tmp_path / 'b')
    header = build_memmap.build(source(folder, [*LOAD, RESIZE]), out, 's', SIZE)
    images = memmap_files(out, 's')['images']
    with open(images, 'r+b') as f:
        f.truncate(100)
    with pytest.raises(ValueError, match=f'{images} has 100 bytes'):
        MemmapSegDataset(header=header)[0]
    os.remove(images)
    with pytest.raises(FileNotFoundError, match=f'memmap file not found: {images}'):
        MemmapSegDataset(header=header)[0]
    with open(header, 'w') as f:
        f.write('{"format": "other"}')
    with pytest.raises(ValueError, match='is not a memmap header'):
        MemmapSegDataset(header=header)


def test_cli_on_a_config(folder, tmp_path, capsys):
    config = tmp_path / 'memmap_cfg.py'
    config.write_text(
        f"_base_ = ['{ROOT}/configs/_base_/default_runtime.py']\n"
        f"memmap_root = '{tmp_path / 'maps'}'\nmemmap_size = {SIZE}\n"
        f"memmap_sources = dict(val=dict(type='SegFolderDataset', data_root='{folder}', "
        f"pipeline={[*LOAD, RESIZE]!r}))\n")
    assert build_memmap.main([str(config), '--split', 'val']) == 0
    assert (tmp_path / 'maps' / 'val_16x24_fp16.json').is_file()
    assert build_memmap.main([str(config), '--split', 'train']) == 2
    assert "no memmap_sources['train']" in capsys.readouterr().err
