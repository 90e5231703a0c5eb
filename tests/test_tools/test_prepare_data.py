"""tools/prepare_data.py: analyze, validate (--fix-issues), organize, create-sample."""
import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from prepare_data import main, recommendations
from segrefiner.datasets import SegFolderDataset

SIZE = (12, 16)  # (H, W) of the fixture images


def image(size=SIZE):
    img = np.full(size + (3, ), 80, np.uint8)
    img[:, : size[1] // 2] = (10, 200, 150)
    return img


def mask(size=SIZE, value=255):
    m = np.zeros(size, np.uint8)
    m[2:8, 3:11] = value
    return m


def write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def md5s(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def clean_dataset(root: Path) -> Path:
    write(root / 'images' / 'a.jpg', image())
    write(root / 'masks' / 'a.png', mask())
    write(root / 'images' / 'b.png', image())
    write(root / 'masks' / 'b_mask.png', mask())
    write(root / 'images' / 'c.tiff', image())
    write(root / 'masks' / 'c_gt.png', mask())
    return root


@pytest.fixture
def broken(tmp_path) -> Path:
    """A dataset with one file of each problem kind, beside three good pairs."""
    root = clean_dataset(tmp_path / 'data')
    images, masks = root / 'images', root / 'masks'
    (images / 'bad.jpg').write_bytes(b'not an image at all')  # corrupt image
    write(masks / 'bad.png', mask())
    write(images / 'trunc.png', image((40, 40)))
    data = (images / 'trunc.png').read_bytes()
    (images / 'trunc.png').write_bytes(data[:len(data) // 2])  # truncated image
    write(masks / 'trunc_mask.png', mask((40, 40)))
    write(images / 'd.jpg', image())
    (masks / 'd.png').write_bytes(b'\x89PNG garbage')  # corrupt mask
    write(images / 'lonely.jpg', image())  # image without a mask
    write(masks / 'orphan.png', mask())  # mask without an image
    write(images / 'e.jpg', image())
    write(masks / 'e.png', mask((6, 8)))  # size mismatch
    write(images / 'f.jpg', image())
    write(masks / 'f.png', np.tile(np.arange(0, 240, 15, dtype=np.uint8), (12, 1)))  # grey
    write(images / 'g.jpg', image())
    write(masks / 'g.png', mask(value=1))  # 0/1 mask
    write(images / 'h.jpg', image())
    write(masks / 'h.png', mask())
    write(masks / 'h_gt.png', mask())  # ambiguous
    (images / 'notes.txt').write_text('not data')
    return root


def run(argv, capsys):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr()


def dirs(root):
    return ['--image-dir', root / 'images', '--mask-dir', root / 'masks']


# --------------------------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------------------------
def test_validate_clean_dataset_exits_0(tmp_path, capsys):
    root = clean_dataset(tmp_path)
    status, out = run(['--action', 'validate', *dirs(root)], capsys)
    assert status == 0
    assert 'the dataset is valid: 3 pairs' in out.out


def test_validate_lists_every_problem_naming_the_file(broken, capsys):
    status, out = run(['--action', 'validate', *dirs(broken)], capsys)
    assert status == 1
    lines = out.out.splitlines()
    i, m = broken / 'images', broken / 'masks'
    expected = [
        f'unreadable image: {i}/bad.jpg',
        f'unreadable image: {i}/trunc.png',
        f'unreadable mask: {m}/d.png',
        f'image without a mask: {i}/lonely.jpg',
        f'mask without an image: {m}/orphan.png',
        f'size mismatch: image {i}/e.jpg is 16x12 (WxH), its mask {m}/e.png is 8x6',
        f'non-binary mask: {m}/f.png (16 grey values in 0-225',
        f'non-binary mask: {m}/g.png (values 0/1',
        f'ambiguous masks for image {i}/h.jpg: {m}/h.png, {m}/h_gt.png',
        f'note: not an image file, ignored: {i}/notes.txt',
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, start
    assert '9 problems found' in out.out
    for good in ('a.jpg', 'b.png', 'c.tiff', 'a.png', 'b_mask.png', 'c_gt.png'):
        assert not any(good in line for line in lines if ':' in line and 'found' not in line)


def test_fix_issues_writes_a_fixed_copy_and_keeps_the_originals(broken, tmp_path, capsys):
    before = md5s(broken)
    out_dir = tmp_path / 'fixed'
    status, out = run(['--action', 'validate', *dirs(broken), '--fix-issues',
                       '--output-dir', out_dir], capsys)
    assert status == 1  # the originals had problems
    assert md5s(broken) == before  # nothing changed, nothing deleted

    assert sorted(os.listdir(out_dir / 'images')) == ['a.jpg', 'b.png', 'c.tiff', 'e.jpg',
                                                      'f.jpg', 'g.jpg']
    assert sorted(os.listdir(out_dir / 'masks')) == ['a.png', 'b.png', 'c.png', 'e.png',
                                                     'f.png', 'g.png']
    for name in os.listdir(out_dir / 'images'):  # images copied byte for byte
        assert (out_dir / 'images' / name).read_bytes() == (broken / 'images' / name).read_bytes()
    for name in os.listdir(out_dir / 'masks'):
        fixed = cv2.imread(str(out_dir / 'masks' / name), cv2.IMREAD_UNCHANGED)
        assert fixed.shape == SIZE and set(np.unique(fixed)) <= {0, 255}
    assert np.array_equal(cv2.imread(str(out_dir / 'masks' / 'g.png'), 0), mask())  # 0/1
    f = cv2.imread(str(out_dir / 'masks' / 'f.png'), 0)
    assert np.array_equal(f, np.tile(np.arange(0, 240, 15) >= 128, (12, 1)) * 255)
    e = cv2.imread(str(out_dir / 'masks' / 'e.png'), 0)  # resized 8x6 -> 16x12, nearest
    assert np.array_equal(e, cv2.resize(mask((6, 8)), (16, 12),
                                        interpolation=cv2.INTER_NEAREST))
    assert not list(out_dir.rglob('.tmp-*'))

    report = json.loads((out_dir / 'fix_report.json').read_text())
    assert report['written'] == 6
    left_out = {Path(e['path']).name: e['reason'] for e in report['left_out']}
    assert set(left_out) == {'bad.jpg', 'bad.png', 'trunc.png', 'trunc_mask.png', 'd.jpg',
                             'd.png', 'lonely.jpg', 'orphan.png', 'h.jpg', 'h.png', 'h_gt.png'}
    assert left_out['lonely.jpg'] == 'image without a mask'
    assert 'unreadable image' in left_out['bad.png']
    changes = {Path(e['image']).name: e['changes'] for e in report['fixed']}
    assert any('resized from 8x6 to 16x12' in c for c in changes['e.jpg'])
    assert any('0/1' in c for c in changes['g.jpg'])
    assert f'left out: {broken}/images/lonely.jpg (image without a mask)' in out.out

    # the fixed copy is clean and loads
    status, _ = run(['--action', 'validate', *dirs(out_dir)], capsys)
    assert status == 0
    assert len(SegFolderDataset(data_root=str(out_dir))) == 6


@pytest.mark.parametrize('where', ['images', 'images/fixed', 'masks/sub', '.'])
def test_fix_issues_refuses_an_output_dir_nested_with_the_inputs(broken, capsys, where):
    before = md5s(broken)
    status, out = run(['--action', 'validate', *dirs(broken), '--fix-issues',
                       '--output-dir', broken / where], capsys)
    assert status == 2 and 'must not be, be inside or hold an input folder' in out.err
    assert md5s(broken) == before


def test_fix_issues_refuses_a_non_empty_output_dir(broken, tmp_path, capsys):
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'x').write_text('x')
    status, out = run(['--action', 'validate', *dirs(broken), '--fix-issues',
                       '--output-dir', tmp_path / 'out'], capsys)
    assert status == 2 and 'not empty' in out.err


def test_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['--action', 'validate', '--image-dir', 'x', '--mask-dir', 'y', '--fix-issues'])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        main(['--action', 'analyze'])
    with pytest.raises(SystemExit):
        main(['--action', 'organize', '--output-dir', str(tmp_path)])
    status, out = run(['--action', 'validate', '--image-dir', tmp_path / 'nope',
                       '--mask-dir', tmp_path], capsys)
    assert status == 2 and f'image folder not found: {tmp_path}/nope' in out.err


# --------------------------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------------------------
def test_analyze_writes_the_report_and_histograms(broken, tmp_path, capsys):
    before = md5s(broken)
    out_dir = tmp_path / 'analysis'
    status, out = run(['--action', 'analyze', *dirs(broken), '--output-dir', out_dir], capsys)
    assert status == 0 and md5s(broken) == before
    report = json.loads((out_dir / 'report.json').read_text())
    assert report['counts'] == dict(images=11, masks=12, pairs=9, images_without_mask=1,
                                    masks_without_image=1, ambiguous=1, unreadable_images=2,
                                    unreadable_masks=1, size_mismatches=1, not_images=1)
    assert report['image_formats'] == {'.jpg': 8, '.png': 2, '.tiff': 1}
    size = report['image_size']
    assert size['width'] == dict(min=16, max=16, mean=16, median=16)
    assert size['distinct_sizes'] == 1
    assert size['most_common'] == [dict(width=16, height=12, count=9)]
    masks = report['masks']
    assert (masks['binary'], masks['zero_one'], masks['grey']) == (9, 1, 1)
    assert masks['empty'] == 1  # the 0/1 mask at threshold 128
    assert sum(masks['value_histogram']) == 9 * 12 * 16 + 40 * 40 + 6 * 8
    assert '1 images have no mask' in report['issues']
    assert '2 masks are not binary' in report['issues']
    assert any(r.startswith('small dataset (9 pairs') for r in report['recommendations'])
    assert any('image_size=(64, 64)' in r for r in report['recommendations'])
    assert (out_dir / 'histograms.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'recommendations:' in out.out and str(out_dir / 'report.json') in out.out


def test_recommendations_follow_the_seed():
    square = [(300, 300)] * 3
    small, medium, large = (recommendations(n, square, [], 128) for n in (50, 500, 5000))
    assert 'light augmentation' in small[0] and 'synthetic' in small[0]
    assert 'medium augmentation' in medium[0] and 'validation split' in medium[0]
    assert 'heavy augmentation' in large[0] and 'multi-GPU' in large[0]
    assert 'image_size=(256, 256)' in small[1]
    wide = recommendations(500, [(640, 480)] * 2 + [(500, 375)], [], 128)
    assert any('most common image size 640x480' in r and 'image_size=(256, 256)' in r
               for r in wide)
    assert any('not square' in r and 'image_size=(256, 352)' in r for r in wide)
    assert any('2 different sizes' in r for r in wide)


# --------------------------------------------------------------------------------------------
# organize
# --------------------------------------------------------------------------------------------
def many_pairs(root: Path, num: int = 10) -> Path:
    for i in range(num):
        write(root / 'images' / f'img_{i:02d}.jpg', image())
        write(root / 'masks' / f'img_{i:02d}_mask.png', mask())
    return root


def test_organize_is_a_seeded_split_of_copies(tmp_path, capsys):
    source = many_pairs(tmp_path / 'raw')
    before = md5s(source)
    outputs = []
    for run_index, seed in enumerate((7, 7, 8)):
        out_dir = tmp_path / f'out{run_index}'
        status, _ = run(['--action', 'organize', '--source-dir', source, '--output-dir', out_dir,
                         '--train-split', 0.8, '--seed', seed], capsys)
        assert status == 0
        outputs.append(out_dir)
    assert md5s(source) == before  # copies, not moves
    first = json.loads((outputs[0] / 'split.json').read_text())
    assert (len(first['train']), len(first['val'])) == (8, 2)
    assert sorted(first['train'] + first['val']) == [f'img_{i:02d}.jpg' for i in range(10)]
    assert md5s(outputs[0]) == md5s(outputs[1])  # deterministic
    assert json.loads((outputs[2] / 'split.json').read_text())['val'] != first['val']

    out = outputs[0]
    assert sorted(os.listdir(out / 'val' / 'images')) == first['val']
    assert sorted(os.listdir(out / 'val' / 'masks')) == [
        n.replace('.jpg', '_mask.png') for n in first['val']]
    # the pre-split layout loads, and the split is the dataset's own val_split partition
    val = SegFolderDataset(data_root=str(out), split='val')
    assert [Path(val.get_data_info(i)['img_path']).name for i in range(len(val))] == first['val']
    same = SegFolderDataset(data_root=str(source), split='val', val_split=0.2, split_seed=7)
    assert [Path(same.get_data_info(i)['img_path']).name for i in range(2)] == first['val']


def test_organize_a_pre_split_source(tmp_path, capsys):
    source = tmp_path / 'raw'
    many_pairs(source / 'train', 6)
    write(source / 'val' / 'images' / 'v.png', image())
    write(source / 'val' / 'masks' / 'v.png', mask())
    status, _ = run(['--action', 'organize', '--source-dir', source, '--output-dir',
                     tmp_path / 'out', '--train-split', 0.5], capsys)
    assert status == 0
    split = json.loads((tmp_path / 'out' / 'split.json').read_text())
    assert sorted(split['train'] + split['val']) == sorted(
        [f'img_{i:02d}.jpg' for i in range(6)] + ['v.png'])


def test_organize_refuses_unpaired_files_and_nested_output(broken, tmp_path, capsys):
    status, out = run(['--action', 'organize', '--source-dir', broken,
                       '--output-dir', tmp_path / 'out'], capsys)
    assert status == 1 and f'image without a mask: {broken}/images/lonely.jpg' in out.out
    assert not (tmp_path / 'out').exists()
    status, out = run(['--action', 'organize', '--source-dir', broken,
                       '--output-dir', broken / 'organized'], capsys)
    assert status == 2 and 'must not be' in out.err
    status, out = run(['--action', 'organize', '--source-dir', tmp_path,
                       '--output-dir', tmp_path / 'x'], capsys)
    assert status == 2 and 'has neither images/ + masks/' in out.err


# --------------------------------------------------------------------------------------------
# create-sample
# --------------------------------------------------------------------------------------------
def test_create_sample_is_a_valid_seeded_dataset(tmp_path, capsys):
    for name in ('s1', 's2'):
        status, _ = run(['--action', 'create-sample', '--output-dir', tmp_path / name,
                         '--num-samples', 3, '--image-size', 48, '--seed', 5], capsys)
        assert status == 0
    out = tmp_path / 's1'
    assert sorted(os.listdir(out / 'images')) == [f'sample_{i:04d}.jpg' for i in range(3)]
    assert sorted(os.listdir(out / 'masks')) == [f'sample_{i:04d}.png' for i in range(3)]
    assert md5s(out) == md5s(tmp_path / 's2')
    for name in os.listdir(out / 'masks'):
        m = cv2.imread(str(out / 'masks' / name), cv2.IMREAD_UNCHANGED)
        assert m.shape == (48, 48) and set(np.unique(m)) == {0, 255}
        assert 0.02 <= (m > 0).mean() <= 0.6
    status, _ = run(['--action', 'validate', *dirs(out)], capsys)
    assert status == 0
    status, out_ = run(['--action', 'create-sample', '--output-dir', out], capsys)
    assert status == 2 and 'not empty' in out_.err
