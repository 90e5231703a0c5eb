"""QuerySegmentor: the three modes, and the DarkNet-53 + YOLOV3Neck feature shapes."""
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from query_seg_utils import BASE_MODEL, tiny_query_model


def samples(batch: int, size: int):
    out = []
    for i in range(batch):
        label = torch.zeros(1, size, size, dtype=torch.long)
        label[:, size // 4:size // 2, i:] = 1
        out.append(SegDataSample(gt_sem_seg=PixelData(data=label),
                                 metainfo=dict(img_shape=(size, size), pad_shape=(size, size),
                                               ori_shape=(size, size))))
    return out


def test_modes_tensor_predict_loss():
    torch.manual_seed(0)
    model = MODELS.build(tiny_query_model(Config.fromfile(BASE_MODEL).model))
    inputs = torch.rand(2, 3, 64, 64)
    out = model(inputs, mode='tensor')
    assert out['pred_logits'].shape == (2, 10, 3) and out['pred_masks'].shape == (2, 10, 64, 64)
    losses = model(inputs, samples(2, 64), mode='loss')
    assert {'decode.loss_cls', 'decode.loss_mask', 'decode.loss_dice'} <= set(losses)
    model.eval()
    with torch.no_grad():
        preds = model(inputs, samples(2, 64), mode='predict')
        out = model(inputs, mode='tensor')  # eval mode too (BatchNorm running statistics)
    assert preds[0].seg_logits.data.shape == (2, 64, 64)
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)
    # the prediction is the argmax of the MaskFormer combination of the tensor outputs
    combined = model.decode_head.combine(out['pred_logits'], out['pred_masks'])
    assert torch.allclose(preds[1].seg_logits.data, combined[1], atol=1e-5)
    assert torch.equal(preds[1].pred_sem_seg.data[0], combined[1].argmax(0))


def test_darknet53_yolov3neck_shapes():
    """The seed's backbone and FPN: c3/c4/c5 = 256/512/1024 channels at strides 8/16/32 and
    three 256-channel levels (p5, p4, p3) from the neck; the full model's tensor outputs."""
    model = MODELS.build(Config.fromfile(BASE_MODEL).model).eval()
    inputs = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        c3, c4, c5 = model.backbone(inputs)
        assert (c3.shape, c4.shape, c5.shape) == ((1, 256, 8, 12), (1, 512, 4, 6),
                                                  (1, 1024, 2, 3))
        p5, p4, p3 = model.neck((c3, c4, c5))
        assert (p5.shape, p4.shape, p3.shape) == ((1, 256, 2, 3), (1, 256, 4, 6),
                                                  (1, 256, 8, 12))
        out = model(inputs, mode='tensor')
    assert out['pred_logits'].shape == (1, 100, 3) and out['pred_masks'].shape == (1, 100, 64, 96)
    assert model.decode_head.patchify.stride == (2, 2)
    assert len(model.decode_head.transformer_decoder.layers) == 6
    assert model.decode_head.transformer_decoder.layers[0].self_attn.num_heads == 6
    assert model.decode_head.embed_dims == 384
