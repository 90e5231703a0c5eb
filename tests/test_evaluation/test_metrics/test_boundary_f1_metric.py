"""BoundaryF1Metric: per-class F with void pixels, averaging over images and classes."""
import math

import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

from segrefiner.evaluation import BoundaryF1Metric
from segrefiner.evaluation.functional import boundary_f1, boundary_f1_counts
from segrefiner.evaluation.metrics import boundary_f1_metric

CLASSES = ('background', 'car', 'tree', 'absent')


def sample(gt, pred):
    return {'gt_sem_seg': {'data': torch.from_numpy(gt)[None]},
            'pred_sem_seg': {'data': torch.from_numpy(pred)[None]}}


def maps():
    """Two 20x20 images; class 3 never occurs; void (255) in image A's last two columns."""
    ga = np.zeros((20, 20), np.int64)
    ga[2:8, 2:8] = 1
    ga[10:18, 10:18] = 2
    ga[:, 18:] = 255
    pa = np.zeros((20, 20), np.int64)
    pa[2:8, 2:8] = 1  # car exact
    pa[10:18, 12:20] = 2  # tree two pixels to the right (partly under void)
    gb = np.zeros((20, 20), np.int64)
    pb = np.zeros((20, 20), np.int64)
    pb[5:9, 5:9] = 1  # a car predicted where there is none; no tree anywhere
    return (ga, pa), (gb, pb)


def run(metric, pairs):
    metric.dataset_meta = dict(classes=CLASSES)
    for g, p in pairs:
        metric.process([None], [sample(g, p)])
    return metric.evaluate(len(pairs))


def test_multiclass_average_with_ignored_pixels():
    (ga, pa), (gb, pb) = maps()
    metric = METRICS.build(dict(type='BoundaryF1Metric', bound_th=1))
    assert isinstance(metric, BoundaryF1Metric)
    res = run(metric, [(ga, pa), (gb, pb)])
    void_a = ga == 255
    f = {c: [boundary_f1(pa == c, ga == c, 1, void=void_a).f, boundary_f1(pb == c, gb == c, 1).f]
         for c in range(3)}
    # car: exact in A (1), predicted but absent in B (P = 0, R = 1 -> 0): mean 0.5
    assert f[1] == [1.0, 0.0]
    # tree: only in A (B has it in neither map and is not scored); background: both images
    tree = f[2][0]
    assert 0 < tree < 1
    assert boundary_f1(pb == 2, gb == 2, 1).f == 1.0  # what DAVIS would give B: not counted
    per_class = [np.mean(f[0]), 0.5, tree]  # 'absent' is NaN and left out
    assert res['mBF'] == round(np.mean(per_class) * 100, 2)
    assert set(res) == {'mBF', 'mBP', 'mBR'}


def test_void_changes_the_score_and_predictions_under_void_do_not():
    (ga, pa), _ = maps()
    with_void = run(BoundaryF1Metric(bound_th=1), [(ga, pa)])
    pa2 = pa.copy()
    pa2[:, 18:] = 3  # anything under void
    assert run(BoundaryF1Metric(bound_th=1), [(ga, pa2)]) == with_void
    assert run(BoundaryF1Metric(bound_th=1, ignore_index=None), [(ga, pa)]) != with_void


def test_class_ids_binary_foreground():
    (ga, pa), (gb, pb) = maps()
    res = run(BoundaryF1Metric(bound_th=1, class_ids=[1]), [(ga, pa), (gb, pb)])
    # car: F 1 in A, 0 in B; precision 1 in A, 0 in B; recall 1 in A and 1 in B (no GT)
    assert res == {'mBF': 50.0, 'mBP': 50.0, 'mBR': 100.0}


def test_pooled_aggregation():
    (ga, pa), (gb, pb) = maps()
    res = run(BoundaryF1Metric(bound_th=1, class_ids=[1], aggregation='pooled'),
              [(ga, pa), (gb, pb)])
    ca = boundary_f1_counts(pa == 1, ga == 1, 1, void=ga == 255)
    cb = boundary_f1_counts(pb == 1, gb == 1, 1)
    # summed counts: matched 24 + 0 of 24 + 16 predicted boundary pixels; GT 24 of 24
    assert (ca.matched_pred + cb.matched_pred, ca.n_pred + cb.n_pred) == (24, 40)
    assert (ca.matched_gt + cb.matched_gt, ca.n_gt + cb.n_gt) == (24, 24)
    p, r = 24 / 40, 1.0
    assert res == {'mBF': round(2 * p * r / (p + r) * 100, 2), 'mBP': 60.0, 'mBR': 100.0}


def test_several_tolerances_and_ratio(blobs):
    g = blobs(100, 100).astype(np.int64)
    p = np.roll(g, 2, axis=0)
    res = run(BoundaryF1Metric(bound_th=(1, 0.008), class_ids=[1]), [(g, p)])
    assert set(res) == {'mBF_1px', 'mBP_1px', 'mBR_1px', 'mBF_0.008', 'mBP_0.008', 'mBR_0.008'}
    # 0.008 of a 100x100 diagonal is 2 px
    assert res['mBF_0.008'] == round(boundary_f1(p, g, 2).f * 100, 2)
    assert res['mBF_1px'] == round(boundary_f1(p, g, 1).f * 100, 2)
    assert res['mBF_1px'] < res['mBF_0.008']


def test_absent_everywhere_is_nan():
    g = np.zeros((10, 10), np.int64)
    res = run(BoundaryF1Metric(class_ids=[3]), [(g, g)])
    assert all(math.isnan(v) for v in res.values())


def test_needs_classes_and_valid_arguments():
    (ga, pa), _ = maps()
    metric = BoundaryF1Metric()
    with pytest.raises(ValueError, match='dataset_meta'):
        metric.process([None], [sample(ga, pa)])
    with pytest.raises(ValueError, match='aggregation'):
        BoundaryF1Metric(aggregation='mean')
    with pytest.raises(ValueError, match='whole number'):
        BoundaryF1Metric(bound_th=1.5)
    metric = BoundaryF1Metric(class_ids=[7])
    metric.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError, match='class_ids'):
        metric.process([None], [sample(ga, pa)])


def test_results_are_counts_and_table_is_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(boundary_f1_metric, 'print_log', lambda msg, *a, **k: logged.append(msg))
    (ga, pa), (gb, pb) = maps()
    metric = BoundaryF1Metric(bound_th=1)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process([None], [sample(ga, pa)])
    assert metric.results[0].shape == (4, 1, 4) and metric.results[0].dtype == np.int64
    metric.evaluate(1)
    table = '\n'.join(logged)
    for name in CLASSES:
        assert name in table
    assert 'nan' in table  # the absent class
