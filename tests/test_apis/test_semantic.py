"""segrefiner.apis.semantic: SegRefiner on label maps and the merge rule."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from segrefiner.apis import init_refiner, merge_class_probs, refine_label_map
from tiny_models import tiny_refiner_cfg

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
