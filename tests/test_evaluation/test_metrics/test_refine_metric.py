"""RefineMetric: pooled IoU, mBA and boundary F of refined and coarse masks, worked by hand."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from segrefiner.evaluation import RefineMetric
from segrefiner.evaluation.functional import boundary_f1, mba
from segrefiner.evaluation.metrics import refine_metric


def square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), np.int64)
    m[y0:y1, x0:x1] = 1
    return m


def sample(gt, pred, coarse=None):
    """A data sample as the Evaluator passes it (``SegDataSample.to_dict()``)."""
    ds = SegDataSample(gt_sem_seg=PixelData(data=torch.from_numpy(gt)[None]))
    out = ds.to_dict()
    out['pred_sem_seg'] = dict(data=torch.from_numpy(pred)[None])
    if coarse is not None:
        out['coarse_sem_seg'] = dict(data=torch.from_numpy(coarse)[None])
    return out


def hand_samples():
    # 1: a 3x3 square in 9x9, refined perfectly, coarse empty.
    g1 = square(9, 9, 3, 6, 3, 6)
    # 2: a 10x10 square in 20x20, refined as its left half, coarse perfect.
    g2 = square(20, 20, 5, 15, 5, 15)
    p2 = square(20, 20, 5, 15, 5, 10)
    return [sample(g1, g1, np.zeros_like(g1)), sample(g2, p2, g2)]


def run(metric, samples, batch=1):
    for i in range(0, len(samples), batch):
        metric.process([None] * len(samples[i:i + batch]), samples[i:i + batch])
    return metric.evaluate(len(samples))


def test_hand_worked_values():
    metric = METRICS.build(dict(type='RefineMetric', per_image_iou=True))
    assert isinstance(metric, RefineMetric)
    res = run(metric, hand_samples())
    # Refined: IoU pooled (9 + 50) / (9 + 100); per image (1 + 0.5) / 2.
    # mBA: image 1 = 1; image 2 (radii all 1): the band is the 36 px ring + 40 px of arms = 76,
    #   the prediction misses the ring's right part (2 x 5 + 8 = 18 px) -> 58/76; mean 134/152.
    # BF (tolerance ceil(0.008 * diag) = 1 px): image 1 = 1; image 2: the GT outline has 40 px,
    #   the prediction's 30, 23 of each are matched -> F = 2 * 23 / 70; mean 116/140.
    # Coarse: IoU 100/109; mBA (12/20 + 1) / 2 (empty prediction: right on the 12 background
    #   band pixels of 20); BF (0 + 1) / 2 (empty prediction: P = 1, R = 0 -> F = 0).
    assert res == {
        'IoU': round(59 / 109 * 100, 2), 'mBA': round(134 / 152 * 100, 2),
        'BF': round(116 / 140 * 100, 2), 'IoU_img': 75.0,
        'coarse_IoU': round(100 / 109 * 100, 2), 'coarse_mBA': 80.0, 'coarse_BF': 50.0,
        'coarse_IoU_img': 50.0,
    }
    assert res['IoU'] == 54.13 and res['mBA'] == 88.16 and res['BF'] == 82.86


def test_same_as_functions_and_batched(blobs):
    gts = [blobs(48, 64).astype(np.int64) for _ in range(4)]
    preds = [np.roll(g, 1, axis=1) for g in gts]
    coarse = [blobs(48, 64).astype(np.int64) for _ in range(4)]
    samples = [sample(g, p, c) for g, p, c in zip(gts, preds, coarse)]
    res = run(RefineMetric(bound_th=2), samples, batch=3)
    inter = sum(int(((p > 0) & (g > 0)).sum()) for p, g in zip(preds, gts))
    union = sum(int(((p > 0) | (g > 0)).sum()) for p, g in zip(preds, gts))
    assert res['IoU'] == round(inter / union * 100, 2)
    assert res['mBA'] == round(np.mean([mba(p, g) for p, g in zip(preds, gts)]) * 100, 2)
    assert res['BF'] == round(np.mean([boundary_f1(p, g, 2).f for p, g in zip(preds, gts)])
                              * 100, 2)
    assert res['coarse_BF'] == round(
        np.mean([boundary_f1(c, g, 2).f for c, g in zip(coarse, gts)]) * 100, 2)
    assert 'IoU_img' not in res


def test_without_coarse_only_refined_keys():
    samples = [dict(s) for s in hand_samples()]
    for s in samples:
        s.pop('coarse_sem_seg')
    res = run(RefineMetric(), samples)
    assert set(res) == {'IoU', 'mBA', 'BF'}
    assert res['IoU'] == 54.13


def test_void_pixels_are_not_counted():
    g = square(20, 20, 5, 15, 5, 15)
    g[:, 12:] = 255  # void on the right
    p = square(20, 20, 5, 15, 5, 12)
    wrong_in_void = p.copy()
    wrong_in_void[0:20, 13:20] = 1  # anything under void
    res_ok = run(RefineMetric(), [sample(g, p)])
    res_void = run(RefineMetric(), [sample(g, wrong_in_void)])
    assert res_ok == res_void == {'IoU': 100.0, 'mBA': 100.0, 'BF': 100.0}
    # without void handling, 255 is foreground and the numbers drop
    res_plain = run(RefineMetric(ignore_index=None), [sample(g, p)])
    assert res_plain['IoU'] < 100


def test_constant_gt_is_skipped_by_mba(blobs):
    g = square(20, 20, 5, 15, 5, 15)
    empty = np.zeros((20, 20), np.int64)
    res = run(RefineMetric(), [sample(g, g), sample(empty, empty)])
    # the empty image: no band (mBA NaN, skipped), IoU adds nothing, BF 1 (both empty)
    assert res == {'IoU': 100.0, 'mBA': 100.0, 'BF': 100.0}
    res = run(RefineMetric(), [sample(empty, empty)])
    assert math.isnan(res['mBA']) and math.isnan(res['IoU']) and res['BF'] == 100.0


def test_shape_mismatch_is_a_clear_error():
    g = square(20, 20, 5, 15, 5, 15)
    metric = RefineMetric()
    with pytest.raises(ValueError, match=r'coarse_sem_seg has shape \(10, 10\).*\(20, 20\)'):
        metric.process([None], [sample(g, g, np.zeros((10, 10), np.int64))])
    with pytest.raises(KeyError, match='pred_sem_seg'):
        metric.process([None], [{'gt_sem_seg': {'data': torch.zeros(1, 4, 4)}}])


def test_results_are_small():
    metric = RefineMetric()
    metric.process([None], [hand_samples()[1]])
    entry = metric.results[0]
    assert set(entry) == {'refined', 'coarse'}
    assert entry['refined'].shape == (len(refine_metric.STATS), )


def test_logs_a_coarse_refined_delta_table(monkeypatch):
    logged = []
    monkeypatch.setattr(refine_metric, 'print_log', lambda msg, *a, **k: logged.append(msg))
    run(RefineMetric(), hand_samples())
    table = '\n'.join(logged)
    for word in ('coarse', 'refined', 'delta', 'IoU', 'mBA', 'BF', '54.13', '-37.61'):
        assert word in table
