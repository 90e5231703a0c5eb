"""tools/analysis_tools/study.py: scoring label maps, running the methods of a study, tables."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from segrefiner.datasets import generate_synthetic_dataset
from study import (build_evaluator, build_test_dataset, compute_scores, evaluate_methods,
                   format_table, label_map_sample)

TINY_UNET = str(Path(__file__).resolve().parents[3] / 'configs' / 'unet' /
                'unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu.py')


def test_scores_hand_worked():
    gt = np.zeros((4, 4), np.int64)
    gt[0:2, 0:2] = 1
    pred = np.zeros((4, 4), np.int64)
    pred[0:2, 1:3] = 1
    evaluator = build_evaluator(('background', 'object', 'border'), bound_th=1)
    evaluator.process([label_map_sample(pred, gt)])
    scores = compute_scores(evaluator, 1)
    # object: I = 2, U = 6; background: I = 10, U = 14; border absent everywhere (NaN, skipped)
    assert scores['IoU']['object'] == pytest.approx(33.33)
    assert scores['IoU']['background'] == pytest.approx(71.43)
    assert np.isnan(scores['IoU']['border'])
    assert scores['mIoU'] == pytest.approx(52.38)
    assert scores['Acc'] == dict(background=pytest.approx(83.33), object=50.0,
                                 border=pytest.approx(float('nan'), nan_ok=True))
    assert scores['aAcc'] == 75.0 and scores['mAcc'] == pytest.approx(66.67)
    perfect = build_evaluator(('background', 'object', 'border'), bound_th=2)
    perfect.process([label_map_sample(torch.as_tensor(gt), torch.as_tensor(gt))])
    perfect_scores = compute_scores(perfect, 1)
    assert perfect_scores['mBF'] == 100.0 and perfect_scores['mIoU'] == 100.0
    with pytest.raises(ValueError, match='differs from the GT'):
        label_map_sample(pred[:3], gt)
    with pytest.raises(ValueError, match='pixel tolerance'):
        build_evaluator(('a', 'b'), bound_th=0.008)
    with pytest.raises(ValueError, match='no image was scored'):
        compute_scores(perfect, 1)


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
