"""segment_class_on_image on hand-made query outputs, and query_outputs at the image's size."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from query_seg_utils import BASE_MODEL, blob_sample, tiny_query_model
from segrefiner.apis.query_seg import query_outputs, segment_class_on_image

BIG = 10.0


def outputs():
    """Four queries on a 4x6 image: q0 'person' (class 1) at 0.93 on the left block, q1 'person'
    at 0.93 on the bottom-right block, q2 'person' at 0.38 (below 0.5) on the top-right, q3
    'background' (class 0) everywhere."""
    logits = torch.full((4, 3), -BIG)
    logits[0, 1] = logits[1, 1] = 3.0
    logits[0, 2] = logits[1, 2] = 0.4  # p(person) = e^3 / (e^3 + e^0.4 + e^-10) ≈ 0.93
    logits[2, 1], logits[2, 0] = 0.0, -0.1  # the most probable class, at p ≈ 0.38
    logits[2, 2] = -0.3
    logits[3, 0] = BIG
    masks = torch.full((4, 4, 6), -BIG)
    masks[0, :, :2] = BIG
    masks[1, 2:, 4:] = BIG
    masks[2, :2, 4:] = BIG
    masks[3] = BIG
    return logits, masks


def test_keeps_confident_queries_of_the_class_and_combines_by_max():
    logits, masks = outputs()
    probs = logits.softmax(-1)
    assert probs[0, 1] > 0.9 and probs[2].argmax() == 1 and probs[2, 1] < 0.5
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) + 1
    cutout, mask = segment_class_on_image(logits, masks, image, class_id=1, score_thr=0.5)
    expected = np.zeros((4, 6), bool)
    expected[:, :2] = True
    expected[2:, 4:] = True
    assert np.array_equal(mask, expected)
    assert np.array_equal(cutout[expected], image[expected]) and cutout[~expected].max() == 0
    assert cutout.dtype == image.dtype
    _, low = segment_class_on_image(logits[None], masks[None], image, class_id=1, score_thr=0.3)
    assert low[:2, 4:].all()  # q2 kept at a lower threshold (batched inputs accepted)
    _, background = segment_class_on_image(logits, masks, image, class_id=0)
    assert background.all()


def test_no_query_kept_gives_a_black_image():
    logits, masks = outputs()
    cutout, mask = segment_class_on_image(logits, masks, np.ones((4, 6, 3), np.uint8),
                                          class_id=1, score_thr=0.99)
    assert not mask.any() and cutout.max() == 0


def test_bad_inputs():
    logits, masks = outputs()
    with pytest.raises(ValueError, match=r'the masks are \(4, 6\), the image is \(5, 6, 3\)'):
        segment_class_on_image(logits, masks, np.zeros((5, 6, 3), np.uint8), class_id=1)
    with pytest.raises(ValueError, match=r'class_id must be in \[0, 2\)'):
        segment_class_on_image(logits, masks, np.zeros((4, 6, 3), np.uint8), class_id=2)
    with pytest.raises(ValueError, match='same queries'):
        segment_class_on_image(logits[:3], masks, np.zeros((4, 6, 3), np.uint8), class_id=1)


def test_query_outputs_at_the_image_size():
    cfg = Config.fromfile(BASE_MODEL)
    model = MODELS.build(tiny_query_model(cfg.model)).eval()
    model.cfg = Config(dict(test_pipeline=[dict(type='LoadRefineImageFromFile'),
                                           dict(type='Resize', scale=(64, 64), keep_ratio=False),
                                           dict(type='PackSegInputs')]))
    image, _ = blob_sample(50)
    logits, masks = query_outputs(model, image[:, :45].copy())
    assert logits.shape == (10, 3) and masks.shape == (10, 50, 45)
