"""BoundaryIoUMetric: pooled and per-image Boundary IoU per class, with the coarse masks."""
import math

import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

from segrefiner.evaluation import BoundaryIoUMetric
from segrefiner.evaluation.functional import boundary_intersection_union


def square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), np.int64)
    m[y0:y1, x0:x1] = 1
    return m


def sample(gt, pred, coarse=None):
    s = {'gt_sem_seg': {'data': torch.from_numpy(gt)[None]},
         'pred_sem_seg': {'data': torch.from_numpy(pred)[None]}}
    if coarse is not None:
        s['coarse_sem_seg'] = {'data': torch.from_numpy(coarse)[None]}
    return s


def run(metric, samples, classes=('background', 'object')):
    metric.dataset_meta = dict(classes=classes)
    for s in samples:
        metric.process([None], [s])
    return metric.evaluate(len(samples))


def samples():
    g = square(20, 20, 5, 15, 5, 15)
    shifted = square(20, 20, 5, 15, 6, 16)
    # image 1: shifted by one column -> (18, 54); image 2: exact -> (36, 36); coarse = GT
    return [sample(g, shifted, g), sample(g, g, g)]


def test_pooled_and_per_image_foreground():
    res = run(METRICS.build(dict(type='BoundaryIoUMetric', class_ids=[1])), samples())
    assert res == {'mBIoU': 60.0, 'coarse_mBIoU': 100.0}  # (18 + 36) / (54 + 36)
    res = run(BoundaryIoUMetric(class_ids=[1], aggregation='image'), samples())
    assert res == {'mBIoU': round((1 / 3 + 1) / 2 * 100, 2), 'coarse_mBIoU': 100.0}


def test_background_class_and_mean_over_classes():
    res = run(BoundaryIoUMetric(), samples()[:1])
    g = square(20, 20, 5, 15, 5, 15)
    shifted = square(20, 20, 5, 15, 6, 16)
    # the background's inner band includes the image edge ring (zero-padded border)
    i0, u0 = boundary_intersection_union(shifted == 0, g == 0)
    assert (i0, u0) != (0, 0)
    assert res['mBIoU'] == round((i0 / u0 + 18 / 54) / 2 * 100, 2)


def test_class_absent_is_nan_and_skipped():
    g = square(20, 20, 5, 15, 5, 15)
    res = run(BoundaryIoUMetric(class_ids=[1, 2]), [sample(g, g)],
              classes=('background', 'object', 'absent'))
    assert res == {'mBIoU': 100.0}
    res = run(BoundaryIoUMetric(class_ids=[2]), [sample(g, g)],
              classes=('background', 'object', 'absent'))
    assert math.isnan(res['mBIoU'])


def test_void_not_counted():
    g = square(20, 20, 5, 15, 5, 15)
    g[:, 14:] = 255
    p = square(20, 20, 5, 15, 6, 16)
    res = run(BoundaryIoUMetric(class_ids=[1]), [sample(g, p)])
    # The object is ``gt == 1`` (columns 5..13): its 34 px ring lies outside void. The
    # prediction's ring keeps 24 px outside void (rows 5 and 14 over columns 6..13, column 6
    # over rows 6..13); they share the 16 px of the two rows -> 16 / (34 + 24 - 16).
    assert boundary_intersection_union(p == 1, g == 1, void=g == 255) == (16, 42)
    assert res == {'mBIoU': round(16 / 42 * 100, 2)} == {'mBIoU': 38.1}


def test_arguments():
    with pytest.raises(ValueError, match='aggregation'):
        BoundaryIoUMetric(aggregation='mean')
    with pytest.raises(ValueError, match='dataset_meta'):
        BoundaryIoUMetric().process([None], samples()[:1])
