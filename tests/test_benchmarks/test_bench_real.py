"""benchmarks/bench_real.py on a tiny generated folder with a tiny saved model: pairing and its
errors, the coarse kinds (deterministic, per instance with labels), scores against the
project's metric functions, the table of all modes, panels and JSON."""
import json

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import bench_real
from segrefiner.apis import init_refiner
from segrefiner.datasets.transforms import resample_mask
from segrefiner.evaluation.functional import boundary_f1, mba, pooled_iou
from tiny_models import tiny_refiner_cfg


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny')
    config = folder / 'tiny_refiner.py'
    Config(dict(model=tiny_refiner_cfg(), default_scope='mmseg')).dump(str(config))
    torch.manual_seed(0)
    checkpoint = folder / 'tiny.pth'
    torch.save({'state_dict': init_refiner(str(config)).state_dict(), 'meta': {}}, checkpoint)
    return ['--config', str(config), '--checkpoint', str(checkpoint)]


def blob(shape, centre, axes):
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, centre, axes, 20, 0, 360, 1, -1)
    return mask


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    """'big': one 80×50 object in 96×128 (HR in auto at model size 32); 'cells': three
    instances, two of them touching, and a 3-px one that down-sampling ×16 removes."""
    root = tmp_path_factory.mktemp('real')
    rng = np.random.default_rng(0)
    big = blob((96, 128), (64, 48), (40, 25))
    labels = np.zeros((64, 96), np.uint8)
    labels[10:30, 10:30] = 1
    labels[10:30, 30:50] = 2  # touches instance 1
    labels[40:60, 60:85] = 3
    labels[2:4, 90:92] = 4
    for name, gt, lab in (('big', big, None), ('cells', (labels > 0).astype(np.uint8), labels)):
        image = rng.integers(0, 60, gt.shape + (3, ), dtype=np.uint8)
        image[gt > 0] += 150
        cv2.imwrite(str(root / f'{name}_image.png'), image)
        cv2.imwrite(str(root / f'{name}_mask.png'), gt * 255)
        if lab is not None:
            cv2.imwrite(str(root / f'{name}_labels.png'), lab)
    return root


def test_pairs_and_their_errors(folder, tmp_path):
    pairs = bench_real.find_pairs(str(folder))
    assert [(p.name, p.labels is not None) for p in pairs] == [('big', False), ('cells', True)]
    cv2.imwrite(str(tmp_path / 'a_image.png'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match='GT mask of .*a_image.png is missing: '
                       '.*a_mask.png'):
        bench_real.find_pairs(str(tmp_path))
    cv2.imwrite(str(tmp_path / 'a_mask.png'), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(tmp_path / 'b_labels.png'), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match='b_labels.png has no image'):
        bench_real.find_pairs(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='benchmark folder not found'):
        bench_real.find_pairs(str(tmp_path / 'nope'))


def test_coarse_kinds(folder):
    gt = cv2.imread(str(folder / 'big_mask.png'), 0) > 0
    down8 = bench_real.make_coarse(gt, None, 'down8', 'big', 0)
    assert np.array_equal(down8, resample_mask(gt, (12, 16)).astype(bool))
    dilated = bench_real.make_coarse(gt, None, 'dilate5', 'big', 0)
    eroded = bench_real.make_coarse(gt, None, 'erode5', 'big', 0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
    assert np.array_equal(dilated, cv2.dilate(gt.astype(np.uint8), kernel) > 0)
    assert np.array_equal(eroded, cv2.erode(gt.astype(np.uint8), kernel) > 0)
    polygon = bench_real.make_coarse(gt, None, 'polygon', 'big', 0)
    assert np.array_equal(polygon, bench_real.make_coarse(gt, None, 'polygon', 'big', 0))
    assert not np.array_equal(polygon, gt) and (polygon & gt).sum() / (polygon | gt).sum() > 0.8
    assert not np.array_equal(polygon, bench_real.make_coarse(gt, None, 'polygon', 'big', 1))
    # with labels: per instance, then the union
    labels = cv2.imread(str(folder / 'cells_labels.png'), cv2.IMREAD_UNCHANGED)
    pair = bench_real.find_pairs(str(folder))[1]
    instances = bench_real.load_instances(pair, labels.shape)
    assert len(instances) == 4
    merged = labels > 0
    per_instance = bench_real.make_coarse(merged, instances, 'erode5', 'cells', 0)
    assert not per_instance[15:25, 25:35].any()  # the touching instances come apart
    assert bench_real.make_coarse(merged, None, 'erode5', 'cells', 0)[15:25, 25:35].all()
    assert not bench_real.make_coarse(merged, instances, 'down16', 'cells', 0)[:6, 86:].any()
    with pytest.raises(ValueError, match="unknown coarse kind 'blur'"):
        bench_real.coarse_of(gt, 'blur', np.random.default_rng(0))


def test_benchmark_table_panels_and_json(folder, tiny, tmp_path, capsys):
    panels, out_json = tmp_path / 'panels', tmp_path / 'res.json'
    summary = bench_real.main([str(folder), *tiny, '--out-dir', str(panels), '--json',
                               str(out_json), '--panel-side', '64'])
    table = capsys.readouterr().out
    assert list(summary) == list(bench_real.COARSE_KINDS) + ['all']
    for row in summary.values():
        assert list(row) == ['coarse', 'auto', 'crop', 'hr']
        assert 'seconds' not in row['coarse'] and row['auto']['seconds'] >= 0
    for word in ('coarse', 'auto', 'crop', 'hr', 'ΔmBA', 'F@2px', 's/img', 'all'):
        assert word in table
    assert json.loads(out_json.read_text()) == summary
    # the coarse scores are the project's metric functions on the coarse masks
    pairs = bench_real.find_pairs(str(folder))
    gts = [cv2.imread(p.mask, 0) > 0 for p in pairs]
    for kind in ('dilate5', 'polygon'):
        coarse = [bench_real.make_coarse(gt, bench_real.load_instances(p, gt.shape), kind,
                                         p.name, 0) for p, gt in zip(pairs, gts)]
        cell = summary[kind]['coarse']
        assert cell['iou'] == round(100 * pooled_iou(coarse, gts), 2)
        assert cell['mba'] == round(100 * np.mean([mba(c, g) for c, g in zip(coarse, gts)]), 2)
        assert cell['f2px'] == round(100 * np.mean([boundary_f1(c, g, 2).f
                                                     for c, g in zip(coarse, gts)]), 2)
    # panels: image | coarse | refined | GT, scaled to 64 px
    names = sorted(p.name for p in panels.iterdir())
    assert len(names) == 2 * 5 * 3 and 'big_down8_auto.png' in names
    assert cv2.imread(str(panels / 'big_down8_hr.png')).shape == (20 + 48, 4 * 64, 3)
    # deterministic for a seed
    again = bench_real.main([str(folder), *tiny, '--modes', 'crop', '--kinds', 'polygon'])
    assert again['polygon']['crop'] == {**summary['polygon']['crop'],
                                        'seconds': again['polygon']['crop']['seconds']}


def test_evaluations_test_cfg_and_savings_rows(folder, tiny, capsys):
    summary = bench_real.main([str(folder), *tiny, '--modes', 'auto', 'crop', '--kinds',
                               'dilate5', '--savings', 'early_exit.tol=0.99', 'max_patches=0'])
    table = capsys.readouterr().out
    row = summary['dilate5']
    assert list(row) == ['coarse', 'auto', 'crop', 'auto+savings', 'crop+savings']
    assert 'evals' not in row['coarse'] and 'evals/img' in table and 'savings' in table
    assert row['crop']['evals'] == 6.0  # one crop per image, every step
    # tol 0.99: every crop jumps after its first step to the last one (2 evaluations);
    # 'big' goes to 'hr' in auto mode, where max_patches=0 leaves the 5 global steps only,
    # which jump the same way
    assert row['crop+savings']['evals'] == 2.0
    assert row['auto']['evals'] > row['auto+savings']['evals'] == 2.0
    # --test-cfg applies to every row
    again = bench_real.main([str(folder), *tiny, '--modes', 'crop', '--kinds', 'dilate5',
                             '--test-cfg', 'early_exit.tol=0.99'])
    assert again['dilate5']['crop']['evals'] == 2.0
    assert {k: v for k, v in again['dilate5']['crop'].items() if k != 'seconds'} == {
        k: v for k, v in row['crop+savings'].items() if k != 'seconds'}
    with pytest.raises(ValueError, match='early_exit.tol must lie in'):
        bench_real.main([str(folder), *tiny, '--modes', 'crop', '--savings',
                         'early_exit.tol=2'])
    assert bench_real.nested_options({'a.b': 1, 'c': None}) == {'a': {'b': 1}, 'c': None}
    with pytest.raises(ValueError, match="option 'a.b' sets a key inside a non-dict"):
        bench_real.nested_options({'a': 1, 'a.b': 2})
