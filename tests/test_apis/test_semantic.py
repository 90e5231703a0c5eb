"""segrefiner.apis.semantic: SegRefiner on label maps, the merge rule, scoring, studies."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from segrefiner.apis import (SemanticScorer, build_test_dataset, evaluate_methods,
                             format_table, init_refiner, merge_class_probs, refine_label_map)
from segrefiner.datasets import generate_synthetic_dataset
from tiny_models import tiny_refiner_cfg

TINY_UNET = str(Path(__file__).resolve().parents[2] / 'configs' / 'unet' /
                'unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu.py')
TINY_REFINER = tiny_refiner_cfg()


@pytest.fixture(scope='module')
def refiner():
    torch.manual_seed(0)
    return init_refiner(Config(dict(model=TINY_REFINER, default_scope='mmseg')))


@pytest.fixture
def scene():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
    label = np.zeros((40, 52), np.int64)
    label[8:30, 10:30] = 1
    label[8:30, 30:33] = 2
    label[0, 0] = 255
    return image, label


def test_merge_rule():
    baseline = np.array([[0, 0, 0, 1, 2]])
    probs = np.array([[[0.9, 0.6, 0.2, 0.55, 0.7]],   # class 1
                      [[0.7, 0.8, 0.1, 0.55, 0.1]]])  # class 2
    # highest claim wins, unclaimed keeps the baseline, a tie goes to the first class
    np.testing.assert_array_equal(merge_class_probs(probs, [1, 2], baseline),
                                  [[1, 2, 0, 1, 1]])
    np.testing.assert_array_equal(merge_class_probs(probs, [1, 2], baseline, threshold=0.75),
                                  [[1, 2, 0, 1, 2]])
    np.testing.assert_array_equal(merge_class_probs(probs[:0], [], baseline), baseline)
    with pytest.raises(ValueError, match=r'probs must be \(K=3'):
        merge_class_probs(probs, [0, 1, 2], baseline)
    with pytest.raises(ValueError, match='do not match the baseline'):
        merge_class_probs(probs, [1, 2], baseline[:, :4])


def test_each_class_mask_is_refined_and_merged(refiner, scene, monkeypatch):
    image, label = scene
    calls = []
    prescribed = {0: 0.9, 1: 0.2, 2: 0.95}  # refined probability of each class, everywhere

    def predict(inputs, data_samples, test_cfg=None, generator=None):
        calls.append(dict(test_cfg=test_cfg, masks=[s.coarse_sem_seg.data[0].numpy()
                                                    for s in data_samples]))
        assert inputs.shape == (len(data_samples), 3, 40, 52)
        for sample, c in zip(data_samples, (0, 1, 2)):
            sample.seg_logits = PixelData(data=torch.full((1, 40, 52), prescribed[c]))
        return data_samples

    monkeypatch.setattr(refiner, 'predict', predict)
    out = refine_label_map(refiner, image, label, steps=4, seed=1)
    (call, ) = calls
    assert call['test_cfg'] == dict(mode='crop', steps=4, area_thr=0)
    for c, mask in zip((0, 1, 2), call['masks']):  # 255 is never refined
        np.testing.assert_array_equal(mask, label == c)
    expected = np.full_like(label, 2)
    np.testing.assert_array_equal(out, expected)


def test_with_a_real_refiner(refiner, scene, tmp_path):
    image, label = scene
    out = refine_label_map(refiner, image, label, steps=3, seed=0)
    assert out.shape == label.shape and out.dtype == np.int64
    assert set(np.unique(out)) <= {0, 1, 2, 255}
    np.testing.assert_array_equal(out, refine_label_map(refiner, image, label, steps=3, seed=0))
    only_one = refine_label_map(refiner, image, label, steps=3, seed=0, class_ids=[1])
    changed = only_one != label
    assert (only_one[changed] == 1).all()
    path = tmp_path / 'img.png'
    cv2.imwrite(str(path), image)
    with pytest.raises(ValueError, match=r'label map size \(40, 51\) differs from the image '
                       r'size \(40, 52\) \(.*img\.png\)'):
        refine_label_map(refiner, str(path), label[:, :51])
    with pytest.raises(ValueError, match='2-D'):
        refine_label_map(refiner, image, label[None])
    with pytest.raises(FileNotFoundError, match='nope.png'):
        refine_label_map(refiner, str(tmp_path / 'nope.png'), label)


def test_scorer_hand_worked():
    gt = np.zeros((4, 4), np.int64)
    gt[0:2, 0:2] = 1
    pred = np.zeros((4, 4), np.int64)
    pred[0:2, 1:3] = 1
    scorer = SemanticScorer(('background', 'object', 'border'), bound_th=1)
    scorer.add(pred, gt)
    scores = scorer.compute()
    # object: I = 2, U = 6; background: I = 10, U = 14; border absent everywhere (NaN, skipped)
    assert scores['IoU']['object'] == pytest.approx(33.33)
    assert scores['IoU']['background'] == pytest.approx(71.43)
    assert np.isnan(scores['IoU']['border'])
    assert scores['mIoU'] == pytest.approx(52.38)
    assert scores['Acc'] == dict(background=pytest.approx(83.33), object=50.0,
                                 border=pytest.approx(float('nan'), nan_ok=True))
    assert scores['aAcc'] == 75.0 and scores['mAcc'] == pytest.approx(66.67)
    perfect = SemanticScorer(('background', 'object', 'border'), bound_th=2)
    perfect.add(torch.as_tensor(gt), torch.as_tensor(gt))
    assert perfect.compute()['mBF'] == 100.0 and perfect.compute()['mIoU'] == 100.0
    with pytest.raises(ValueError, match='differs from the GT'):
        perfect.add(pred[:3], gt)
    with pytest.raises(ValueError, match='pixel tolerance'):
        SemanticScorer(('a', 'b'), bound_th=0.008)


class ListDataset(list):
    metainfo = dict(classes=('background', 'object', 'border'))
    ignore_index = 255


def item(seed):
    rng = np.random.default_rng(seed)
    gt = torch.from_numpy(rng.integers(0, 3, (1, 12, 10)))
    sample = SegDataSample(gt_sem_seg=PixelData(data=gt))
    return dict(inputs=torch.zeros(3, 12, 10, dtype=torch.uint8), data_samples=sample)


def test_evaluate_methods():
    dataset = ListDataset([item(0), item(1), item(2)])
    calls = []

    def perfect(data):
        calls.append(1)
        return data['data_samples'].gt_sem_seg.data[0].numpy()

    results = evaluate_methods(dataset, dict(perfect=perfect,
                                             zeros=lambda d: np.zeros((12, 10), np.int64)),
                               warmup=2, progress=False)
    assert len(calls) == 2 + 3
    assert results['perfect']['mIoU'] == 100.0 and results['perfect']['mBF'] == 100.0
    assert results['perfect']['images'] == 3 and results['perfect']['ms_per_image'] >= 0
    assert results['zeros']['Acc']['background'] == 100.0 and results['zeros']['Acc'][
        'object'] == 0.0
    with pytest.raises(ValueError, match='empty'):
        evaluate_methods(ListDataset(), dict(perfect=perfect))


def test_build_test_dataset_on_the_tiny_config(tmp_path):
    generate_synthetic_dataset(str(tmp_path), num_train=1, num_val=3, size=(32, 32), seed=0,
                               progress=False)
    cfg = Config.fromfile(TINY_UNET)
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    dataset = build_test_dataset(cfg, max_images=2)
    assert len(dataset) == 2
    assert dataset.metainfo['classes'] == ('background', 'foreground', 'border')
    gt = dataset[0]['data_samples'].gt_sem_seg.data
    assert set(torch.unique(gt).tolist()) == {0, 1, 2}


def test_format_table():
    assert format_table(['method', 'mIoU', 'steps'], [['baseline', 61.234, 3]]) == (
        '| method | mIoU | steps |\n|---|---|---|\n| baseline | 61.23 | 3 |')
