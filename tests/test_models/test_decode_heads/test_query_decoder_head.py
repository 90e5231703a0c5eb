"""QueryDecoderHead: shapes, the Hungarian matching on a hand-made case, the losses, the
MaskFormer combination and the config checks."""
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from query_seg_utils import BASE_MODEL, tiny_query_model


def tiny_head(**kwargs):
    cfg = tiny_query_model(Config.fromfile(BASE_MODEL).model)['decode_head']
    cfg.update(kwargs)
    return MODELS.build(cfg)


def sample(label: torch.Tensor) -> SegDataSample:
    h, w = label.shape
    return SegDataSample(gt_sem_seg=PixelData(data=label[None]),
                         metainfo=dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))


def test_forward_shapes_per_layer():
    torch.manual_seed(0)
    feats = (torch.rand(2, 32, 2, 2), torch.rand(2, 32, 4, 4), torch.rand(2, 32, 8, 8))
    cls_scores, mask_preds = tiny_head(num_queries=7)(feats)
    assert len(cls_scores) == len(mask_preds) == 2  # deep supervision: every layer
    assert cls_scores[-1].shape == (2, 7, 3) and mask_preds[-1].shape == (2, 7, 8, 8)
    cls_scores, mask_preds = tiny_head(deep_supervision=False)(feats)
    assert len(cls_scores) == len(mask_preds) == 1


def test_matching_hand_made_case():
    """Query 3 is a confident 'class 1' with the class-1 mask, query 1 a confident 'class 0' with
    the class-0 mask: the assignment is {3: class 1, 1: class 0}, every other query no object."""
    torch.manual_seed(0)
    head = tiny_head(num_queries=5, num_points=256)
    gt = torch.zeros(16, 16, dtype=torch.long)
    gt[4:12, 2:9] = 1
    masks = torch.stack([gt == 0, gt == 1]).long()
    cls_score = torch.zeros(5, 3)
    cls_score[:, 2] = 3.0  # mostly "no object"
    cls_score[3] = torch.tensor([-5.0, 8.0, -5.0])
    cls_score[1] = torch.tensor([8.0, -5.0, -5.0])
    mask_pred = torch.randn(5, 16, 16)
    mask_pred[3] = (gt == 1).float() * 20 - 10
    mask_pred[1] = (gt == 0).float() * 20 - 10
    labels, pos_inds, targets = head.get_targets_single(
        cls_score, mask_pred, InstanceData(labels=torch.tensor([0, 1]), masks=masks))
    assert labels.tolist() == [2, 0, 2, 1, 2]
    assert pos_inds.tolist() == [1, 3]
    assert torch.equal(targets, masks)  # in query order: query 1 ↔ class 0, query 3 ↔ class 1


def test_losses_keys_and_values():
    torch.manual_seed(0)
    head = tiny_head()
    feats = (torch.rand(2, 32, 2, 2), torch.rand(2, 32, 4, 4), torch.rand(2, 32, 8, 8))
    label = torch.zeros(64, 64, dtype=torch.long)
    label[10:40, 20:50] = 1
    losses = head.loss(feats, [sample(label), sample(torch.zeros_like(label))])
    assert set(losses) == {'loss_cls', 'loss_mask', 'loss_dice', 'd0.loss_cls',
                           'd0.loss_mask', 'd0.loss_dice'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert head.query_feat.weight.grad.abs().sum() > 0


def test_all_ignored_gives_zero_mask_losses():
    head = tiny_head()
    feats = (torch.rand(1, 32, 2, 2), torch.rand(1, 32, 4, 4), torch.rand(1, 32, 8, 8))
    losses = head.loss(feats, [sample(torch.full((64, 64), 255, dtype=torch.long))])
    assert losses['loss_mask'] == 0 and losses['loss_dice'] == 0
    assert losses['loss_cls'] > 0  # every query learns "no object"


def test_combine_is_maskformer_semantic_inference():
    cls = torch.tensor([[[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]]])  # (1, Q=2, C+1=3)
    masks = torch.tensor([[[[4.0]], [[-1.0]]]])  # (1, 2, 1, 1)
    probs = cls.softmax(-1)[..., :2]
    expected = probs[0, 0] * torch.sigmoid(torch.tensor(4.0)) + \
        probs[0, 1] * torch.sigmoid(torch.tensor(-1.0))
    out = tiny_head().combine(cls, masks)
    assert out.shape == (1, 2, 1, 1)
    assert torch.allclose(out[0, :, 0, 0], expected)


def test_predict_size_is_the_padded_input():
    head = tiny_head().eval()
    feats = (torch.rand(1, 32, 2, 2), torch.rand(1, 32, 4, 4), torch.rand(1, 32, 8, 8))
    out = head.predict(feats, [dict(img_shape=(60, 50), pad_shape=(64, 64))])
    assert out.shape == (1, 2, 64, 64) and 0 <= out.min() and out.max() <= 10  # 10 queries


def test_bad_configs():
    with pytest.raises(ValueError, match='class_weight must have num_classes'):
        tiny_head(loss_cls=dict(type='mmdet.CrossEntropyLoss', class_weight=[1.0, 0.1]))
    with pytest.raises(ValueError, match='embed_dims=96'):
        tiny_head(embed_dims=96)
