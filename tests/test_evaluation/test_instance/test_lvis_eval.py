"""LVIS mask AP / boundary AP (LVISInstanceEval, evaluate_instances) on LVIS-format fixtures."""
import copy
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from lvis import LVIS, LVISEval, LVISResults
from mmengine.structures import InstanceData
from scipy import ndimage

from instance_layouts import (degraded_results, gt_as_results, lvis_gt_from_coco, polygon_mask,
                              to_rle, write_coco)
from segrefiner.evaluation.functional import boundary_iou, iou
from segrefiner.evaluation.instance import (InstanceAPMetric, LVISDict, LVISInstanceEval,
                                            build_lvis_results, evaluate_instances,
                                            instances_to_results, prepare_results)
from segrefiner.evaluation.instance.lvis_eval import numpy_float_alias

SHAPES = {139: (120, 160), 285: (140, 120), 632: (100, 100)}


@pytest.fixture(scope='module')
def gt(tmp_path_factory):
    """LVIS-format GT (COCO ids) of 3 images with 4 polygon objects each, and its file."""
    root = tmp_path_factory.mktemp('lvis_eval')
    data = lvis_gt_from_coco(write_coco(root, SHAPES, objects_per_image=4, seed=3))
    path = root / 'gt.json'
    path.write_text(json.dumps(data))
    return data, str(path)


def test_gt_as_detections_scores_100(gt):
    data, path = gt
    for polygons in (False, True):
        evaluated = evaluate_instances(path, gt_as_results(data, polygons=polygons))
        for iou_type in ('segm', 'boundary'):
            values = evaluated[iou_type]
            assert values['AP'] == pytest.approx(1.0)
            assert values['AP50'] == values['AP75'] == pytest.approx(1.0)
            assert values['APl'] == -1  # no large object in the fixture


def test_degraded_detections_lose_more_boundary_ap(gt):
    data, path = gt
    evaluated = evaluate_instances(path, degraded_results(data, radius=1))
    mask_ap, boundary_ap = evaluated['segm']['AP'], evaluated['boundary']['AP']
    assert boundary_ap < mask_ap < 1.0
    assert 1.0 - boundary_ap > 1.5 * (1.0 - mask_ap)
    # a worse degradation scores lower still
    worse = evaluate_instances(path, degraded_results(data, radius=2))
    assert worse['segm']['AP'] < mask_ap and worse['boundary']['AP'] <= boundary_ap


def test_pair_iou_is_min_of_mask_and_boundary_iou(gt, plain):
    data, _ = gt
    lvis_gt = LVISDict(copy.deepcopy(data))
    dets = degraded_results(data, radius=1)
    dt = build_lvis_results(lvis_gt, prepare_results(dets, lvis_gt))
    segm = LVISInstanceEval(lvis_gt, dt, 'segm')
    boundary = LVISInstanceEval(lvis_gt, dt, 'boundary')
    for ev in (segm, boundary):
        ev.params.img_ids = [632]
        ev._prepare()
    checked = 0
    for cat_id in (1, 3, 18, 21):
        gts = [a for a in data['annotations']
               if a['image_id'] == 632 and a['category_id'] == cat_id]
        dts = [d for d in dets if d['image_id'] == 632 and d['category_id'] == cat_id]
        if not gts or not dts:
            continue
        gt_masks = [polygon_mask(a['segmentation'], 100, 100).astype(bool) for a in gts]
        dt_masks = [mask_utils.decode(d['segmentation']).astype(bool)
                    for d in sorted(dts, key=lambda d: -d['score'])]
        mask_ious = np.array([[iou(d, g) for g in gt_masks] for d in dt_masks])
        # literal oracle of the boundary IoU (boundary width: 0.02 x the 100x100 diagonal = 3)
        b_ious = np.array([[plain.boundary_iou(d, g) for g in gt_masks] for d in dt_masks])
        np.testing.assert_allclose(segm.compute_iou(632, cat_id), mask_ious, atol=1e-9)
        np.testing.assert_allclose(boundary.compute_iou(632, cat_id),
                                   np.minimum(mask_ious, b_ious), atol=1e-9)
        checked += 1
    assert checked >= 2


def _square(shape, x, y, side):
    mask = np.zeros(shape, np.uint8)
    mask[y:y + side, x:x + side] = 1
    return mask


def test_hand_worked_ap():
    """One image, two GT squares; detections: A exact (0.9), a false positive (0.8), B shifted
    by 2 px (0.7). Precision is 1 up to recall 0.5 and 2/3 up to recall 1 where B matches."""
    shape = (200, 200)
    a, b = _square(shape, 10, 10, 40), _square(shape, 100, 100, 40)
    junk, b_shift = _square(shape, 150, 20, 30), _square(shape, 102, 100, 40)
    gt = dict(images=[dict(id=1, height=200, width=200, neg_category_ids=[],
                           not_exhaustive_category_ids=[])],
              categories=[dict(id=1, name='box', frequency='f')],
              annotations=[dict(id=k + 1, image_id=1, category_id=1, segmentation=to_rle(m),
                                area=float(m.sum()), bbox=[x, x, 40, 40])
                           for k, (m, x) in enumerate(((a, 10), (b, 100)))])
    dets = [dict(image_id=1, category_id=1, score=s, segmentation=to_rle(m))
            for s, m in ((0.9, a), (0.8, junk), (0.7, b_shift))]
    evaluated = evaluate_instances(LVISDict(gt), dets)
    thresholds = np.linspace(0.5, 0.95, 10)
    full = (51 + 50 * 2 / 3) / 101  # B matched: P=1 for R<=0.5, 2/3 for 0.5<R<=1
    half = 51 / 101                  # B unmatched: recall stops at 0.5

    def expected(pair_iou):
        matched = np.count_nonzero(thresholds <= pair_iou + 1e-12)
        return (matched * full + (10 - matched) * half) / 10

    mask_iou = iou(b_shift, b)  # 40*38 / (40*42)
    assert mask_iou == pytest.approx(38 / 42)
    assert evaluated['segm']['AP'] == pytest.approx(expected(mask_iou))
    pair = min(mask_iou, boundary_iou(b_shift, b))
    assert pair < mask_iou
    assert evaluated['boundary']['AP'] == pytest.approx(expected(pair))


def test_federated_rules(gt):
    """A false positive of a category that is neither annotated in the image nor in its
    negative list is not penalised; one in the negative list is."""
    data, _ = gt
    data = copy.deepcopy(data)
    image = next(i for i in data['images'] if i['id'] == 632)
    absent = 21  # annotated in the other images only
    data['annotations'] = [a for a in data['annotations']
                           if (a['image_id'], a['category_id']) != (632, absent)]
    fp = dict(image_id=632, category_id=absent, score=0.99,
              segmentation=to_rle(_square((100, 100), 5, 5, 30)))
    dets = gt_as_results(data) + [fp]
    assert evaluate_instances(LVISDict(copy.deepcopy(data)), dets,
                              ['segm'])['segm']['AP'] == pytest.approx(1.0)
    image['neg_category_ids'] = [absent]
    assert evaluate_instances(LVISDict(data), dets, ['segm'])['segm']['AP'] < 1.0


def test_unknown_ids_are_reported_and_skipped(gt, capsys):
    data, path = gt
    dets = gt_as_results(data)
    dets.append(dict(dets[0], image_id=999))
    dets.append(dict(dets[1], image_id=998))
    dets.append(dict(dets[2], category_id=77))
    evaluated = evaluate_instances(path, dets, ['segm'])
    out = capsys.readouterr().out
    assert '2 detections of results refer to images that are not in the GT' in out
    assert 'ids 998, 999' in out
    assert '1 detections of results refer to categories' in out and 'ids 77' in out
    assert evaluated['segm']['AP'] == pytest.approx(1.0)


def test_bad_inputs_give_clear_errors(gt, tmp_path):
    data, path = gt
    good = gt_as_results(data)
    with pytest.raises(ValueError, match=r'detection #1 lacks the keys \[.score.\]'):
        evaluate_instances(path, [good[0], {k: v for k, v in good[1].items() if k != 'score'}])
    with pytest.raises(ValueError, match='expected a list of detections'):
        bad = tmp_path / 'bad.json'
        bad.write_text(json.dumps({'annotations': good}))
        evaluate_instances(path, str(bad))
    with pytest.raises(ValueError, match='bad.json is not valid JSON'):
        bad.write_text('[{"image_id": 1,')
        evaluate_instances(path, str(bad))
    with pytest.raises(FileNotFoundError, match='results file not found: .*nope.json'):
        evaluate_instances(path, str(tmp_path / 'nope.json'))
    wrong_size = dict(good[0], segmentation=to_rle(np.ones((10, 10), np.uint8)))
    with pytest.raises(ValueError, match=r'detection #0 .*does not match the image size'):
        evaluate_instances(path, [wrong_size])
    with pytest.raises(ValueError, match='no detections to evaluate'):
        evaluate_instances(path, [dict(good[0], image_id=12345)])
    coco_style = tmp_path / 'coco_gt.json'
    coco_style.write_text(json.dumps(dict(
        data, images=[{k: v for k, v in i.items() if k != 'neg_category_ids'}
                      for i in data['images']])))
    with pytest.raises(ValueError, match=r"coco_gt.json is not an LVIS annotation file: "
                                         r"images\[0\] lacks \['neg_category_ids'\]"):
        evaluate_instances(str(coco_style), good)


def test_instance_ap_metric(gt, tmp_path):
    data, path = gt
    cat_ids = sorted(c['id'] for c in data['categories'])
    samples = []
    for image in data['images']:
        anns = [a for a in data['annotations'] if a['image_id'] == image['id']]
        masks = np.stack([polygon_mask(a['segmentation'], image['height'], image['width'])
                          for a in anns])
        instances = InstanceData(
            masks=torch.from_numpy(masks.astype(bool)),
            bboxes=torch.tensor([[x, y, x + w, y + h] for x, y, w, h in
                                 (a['bbox'] for a in anns)], dtype=torch.float),
            scores=torch.linspace(0.9, 0.5, len(anns)),
            labels=torch.tensor([cat_ids.index(a['category_id']) for a in anns]))
        samples.append(dict(img_id=image['id'], pred_instances=instances))
        # the COCO results carry the COCO ids, xywh boxes and RLE masks
        results = instances_to_results(instances, image['id'], cat_ids)
        assert [r['category_id'] for r in results] == [a['category_id'] for a in anns]
        assert results[0]['bbox'] == pytest.approx(anns[0]['bbox'])
    metric = InstanceAPMetric(gt_file=path)
    metric.dataset_meta = dict(cat_ids=cat_ids)
    metric.process({}, samples)
    values = metric.evaluate(len(samples))
    assert values['lvis/segm_AP'] == pytest.approx(1.0)
    assert values['lvis/boundary_AP'] == pytest.approx(1.0)
    with pytest.raises(FileNotFoundError, match='GT file of InstanceAPMetric not found'):
        InstanceAPMetric(gt_file=str(tmp_path / 'missing.json'))
    metric = InstanceAPMetric(gt_file=path)
    metric.dataset_meta = dict(classes=('a', ))
    with pytest.raises(KeyError, match='cat_ids'):
        metric.process({}, samples)


def _one_image_gt(shape, masks):
    """An LVIS GT of one image (id 1) and one category (id 1) with the given masks."""
    anns = [dict(id=k + 1, image_id=1, category_id=1, segmentation=to_rle(m),
                 area=float(m.sum()),
                 bbox=[float(v) for v in mask_utils.toBbox(mask_utils.encode(
                     np.asfortranarray(m.astype(np.uint8))))])
            for k, m in enumerate(masks)]
    return dict(images=[dict(id=1, height=shape[0], width=shape[1], neg_category_ids=[],
                             not_exhaustive_category_ids=[])],
                categories=[dict(id=1, name='box', frequency='f')], annotations=anns)


def test_hand_worked_box_area():
    """A detection with a ``bbox`` has the area w·h of its box (LVIS API ``results.py``).

    100×100 image, one 20×20 GT square (area 400: small). Detections: its exact copy (0.9) and a
    one-pixel-wide diagonal false positive (0.95; mask area 91, box 91×91 = 8281 in
    [32², 96²]: medium). The FP comes first, so AP = precision 1/2 at recall 1 = 0.5; for the
    small group the FP is out of range and ignored, so APs = 1. With mask areas the FP is small
    (91 px) and APs = 0.5.
    """
    shape = (100, 100)
    square = _square(shape, 70, 5, 20)
    diagonal = np.zeros(shape, np.uint8)
    diagonal[np.arange(91), np.arange(91)] = 1
    assert diagonal.sum() == 91
    gt = _one_image_gt(shape, [square])
    exact = dict(image_id=1, category_id=1, score=0.9, segmentation=to_rle(square),
                 bbox=[70.0, 5.0, 20.0, 20.0])
    line = dict(image_id=1, category_id=1, score=0.95, segmentation=to_rle(diagonal),
                bbox=[0.0, 0.0, 91.0, 91.0])
    evaluated = evaluate_instances(LVISDict(copy.deepcopy(gt)), [exact, line])
    for iou_type in ('segm', 'boundary'):
        values = evaluated[iou_type]
        assert values['APs'] == pytest.approx(1.0)
        assert values['AP'] == pytest.approx(0.5)
        assert values['APm'] == values['APl'] == -1  # no medium or large GT
    by_mask = evaluate_instances(LVISDict(copy.deepcopy(gt)), [exact, line], det_area='mask')
    assert by_mask['segm']['APs'] == pytest.approx(0.5)
    assert by_mask['boundary']['APs'] == pytest.approx(0.5)
    # an empty mask with a (30×30: small) box is a false positive, not dropped
    empty = dict(line, segmentation=to_rle(np.zeros(shape, np.uint8)),
                 bbox=[10.0, 60.0, 30.0, 30.0])
    evaluated = evaluate_instances(LVISDict(copy.deepcopy(gt)), [exact, empty])
    for iou_type in ('segm', 'boundary'):
        assert evaluated[iou_type]['AP'] == pytest.approx(0.5)
        assert evaluated[iou_type]['APs'] == pytest.approx(0.5)
    # without a box the mask area counts (0 here: LVIS drops the detection)
    no_box = {k: v for k, v in empty.items() if k != 'bbox'}
    evaluated = evaluate_instances(LVISDict(copy.deepcopy(gt)), [exact, no_box])
    assert evaluated['segm']['AP'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="det_area must be one of"):
        evaluate_instances(LVISDict(copy.deepcopy(gt)), [exact], det_area='bbox')


class _LVISBoundaryEval(LVISEval):
    """The installed ``LVISEval`` with the ``lvis_challenge_2021`` pair IoU
    ``min(mask IoU, boundary IoU)``; boundaries by scipy erosion (``docs/metrics.md``,
    'Boundary IoU'): the
    foreground within Chebyshev distance d = max(1, round(0.02 · diagonal)) of background or of
    the image edge."""

    @staticmethod
    def _band(ann):
        mask = mask_utils.decode(ann['segmentation']).astype(bool)
        d = max(1, int(round(0.02 * math.hypot(*mask.shape))))
        return mask & ~ndimage.binary_erosion(mask, np.ones((3, 3), bool), iterations=d,
                                              border_value=0)

    def compute_iou(self, img_id, cat_id):
        ious = super().compute_iou(img_id, cat_id)
        if len(ious) == 0:
            return ious
        gt, dt = self._gts[img_id, cat_id], self._dts[img_id, cat_id]
        dt = [dt[i] for i in np.argsort([-d['score'] for d in dt], kind='mergesort')]
        b_ious = np.zeros((len(dt), len(gt)))
        for i, d in enumerate(dt):
            for j, g in enumerate(gt):
                bd, bg = self._band(d), self._band(g)
                union = np.count_nonzero(bd | bg)
                b_ious[i, j] = np.count_nonzero(bd & bg) / union if union else 0.0
        return np.minimum(ious, b_ious)


def _lvis_api(gt_path, dets):
    """{iou_type: results} of the installed lvis package (LVIS, LVISResults, LVISEval) on
    ``dets``, boundary AP through :class:`_LVISBoundaryEval`."""
    evaluated = {}
    with numpy_float_alias(), warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # lvis' Logger.warn
        for iou_type, cls in (('segm', LVISEval), ('boundary', _LVISBoundaryEval)):
            lvis_gt = LVIS(gt_path)
            ev = cls(lvis_gt, LVISResults(lvis_gt, copy.deepcopy(dets)), 'segm')
            ev.run()
            evaluated[iou_type] = {k: float(v) for k, v in ev.get_results().items()}
    return evaluated


def _boxed_results(data, seed=0):
    """Degraded detections with detector-like boxes (the mask's box grown by 2-12 px per side,
    moving many detections from small to medium), plus per image an empty mask with a box and
    a thin diagonal false positive, both of an annotated category and at the top score."""
    rng = np.random.default_rng(seed)
    dets = degraded_results(data, radius=1)
    for det in dets:
        x, y, w, h = mask_utils.toBbox(det['segmentation'])
        grow = rng.uniform(2, 12)
        det['bbox'] = [float(x - grow), float(y - grow), float(w + 2 * grow),
                       float(h + 2 * grow)]
    for image in data['images']:
        shape = (image['height'], image['width'])
        cat = next(a['category_id'] for a in data['annotations']
                   if a['image_id'] == image['id'])
        line = np.zeros(shape, np.uint8)
        n = min(shape) - 5
        line[np.arange(n), np.arange(n)] = 1
        dets.append(dict(image_id=image['id'], category_id=cat, score=0.99,
                         segmentation=to_rle(line), bbox=[0.0, 0.0, float(n), float(n)]))
        dets.append(dict(image_id=image['id'], category_id=cat, score=0.98,
                         segmentation=to_rle(np.zeros(shape, np.uint8)),
                         bbox=[5.0, 5.0, 20.0, 25.0]))
    return dets


def test_results_with_boxes_score_as_in_the_lvis_api(gt):
    """Every AP key of mask AP and boundary AP equals the installed lvis package's (with the
    challenge-2021 pair IoU for boundary AP) for detections that carry a ``bbox``."""
    data, path = gt
    dets = _boxed_results(data)
    ours = evaluate_instances(path, dets)
    theirs = _lvis_api(path, dets)
    for iou_type in ('segm', 'boundary'):
        assert set(ours[iou_type]) == set(theirs[iou_type])
        for key, value in theirs[iou_type].items():
            assert ours[iou_type][key] == pytest.approx(value, abs=1e-12), (iou_type, key)
    # the boxes matter: mask areas give other numbers
    by_mask = evaluate_instances(path, dets, det_area='mask')
    assert any(by_mask['segm'][k] != pytest.approx(ours['segm'][k])
               for k in ('AP', 'APs', 'APm'))


def test_instance_ap_metric_scores_as_in_the_lvis_api(gt):
    """``InstanceAPMetric`` (whose results always carry the instances' boxes) gives the
    installed lvis package's numbers, rounded to 4 decimals."""
    data, path = gt
    cat_ids = sorted(c['id'] for c in data['categories'])
    dets = _boxed_results(data, seed=1)
    samples, expected = [], []
    for image in data['images']:
        mine = [d for d in dets if d['image_id'] == image['id']]
        masks = np.stack([mask_utils.decode(d['segmentation']) for d in mine]).astype(bool)
        instances = InstanceData(
            masks=torch.from_numpy(masks),
            bboxes=torch.tensor([[x, y, x + w, y + h] for x, y, w, h in
                                 (d['bbox'] for d in mine)], dtype=torch.float64),
            scores=torch.tensor([d['score'] for d in mine], dtype=torch.float64),
            labels=torch.tensor([cat_ids.index(d['category_id']) for d in mine]))
        samples.append(dict(img_id=image['id'], pred_instances=instances))
        expected += instances_to_results(instances, image['id'], cat_ids)
    metric = InstanceAPMetric(gt_file=path)
    metric.dataset_meta = dict(cat_ids=cat_ids)
    metric.process({}, samples)
    values = metric.evaluate(len(samples))
    theirs = _lvis_api(path, expected)
    for iou_type in ('segm', 'boundary'):
        for key in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf'):
            assert values[f'lvis/{iou_type}_{key}'] == round(theirs[iou_type][key], 4), \
                (iou_type, key)


def test_numpy_float_alias_only_around_lvis(gt, monkeypatch):
    """lvis 0.5.3 needs ``np.float``: it is set around the lvis calls only, and a
    previously present alias is left alone."""
    data, path = gt
    monkeypatch.delattr(np, 'float', raising=False)
    evaluated = evaluate_instances(path, gt_as_results(data))
    assert evaluated['segm']['AP'] == pytest.approx(1.0)
    assert 'float' not in np.__dict__
    with numpy_float_alias():
        assert np.float is float
        with numpy_float_alias():
            assert np.float is float
        assert np.float is float
    assert 'float' not in np.__dict__
    with pytest.raises(RuntimeError), numpy_float_alias():
        raise RuntimeError('inside')
    assert 'float' not in np.__dict__
    monkeypatch.setattr(np, 'float', float, raising=False)
    evaluate_instances(path, gt_as_results(data), ['segm'])
    assert np.__dict__['float'] is float


def test_import_sets_no_numpy_alias():
    """``import segrefiner`` (and its instance evaluation) leaves numpy as it is."""
    code = ('import numpy as np, segrefiner, segrefiner.evaluation.instance; '
            "print('float' in np.__dict__)")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == 'False'
