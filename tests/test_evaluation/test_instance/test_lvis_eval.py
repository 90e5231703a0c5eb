"""LVIS mask AP / boundary AP (LVISInstanceEval, evaluate_instances) on LVIS-format fixtures."""
import copy
import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.structures import InstanceData

from instance_layouts import (degraded_results, gt_as_results, lvis_gt_from_coco, polygon_mask,
                              to_rle, write_coco)
from segrefiner.evaluation.functional import boundary_iou, iou
from segrefiner.evaluation.instance import (InstanceAPMetric, LVISDict, LVISInstanceEval,
                                            build_lvis_results, evaluate_instances,
                                            instances_to_results, prepare_results)

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
