"""DDPMFeatureSegmentor: the bounded pixel pool, the training pass, chunked inference and the
outputs (seg logits, prediction, uncertainty at ori_shape)."""
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

UNET = dict(type='GuidedDiffusionUNet', image_size=16, num_channels=32, num_res_blocks=1,
            channel_mult='1,2', attention_resolutions='')


def _segmentor(**train_cfg):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='DDPMFeatureSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                               bgr_to_rgb=True, size_divisor=2, seg_pad_val=255),
        backbone=dict(type='DDPMFeatureExtractor', unet=UNET, blocks=(1, 2), steps=(50, 150)),
        classifier=dict(type='PixelClassifierEnsemble', num_classes=3, num_models=2,
                        pixel_batch_size=32),
        train_cfg=train_cfg, test_cfg=dict(pixel_chunk=50)))
    with torch.no_grad():
        for param in model.backbone.unet.parameters():
            param.normal_(0, 0.1)
    return model


def _samples(num, size=16, ori=(20, 24)):
    samples = []
    for i in range(num):
        labels = torch.randint(0, 3, (1, size, size))
        labels[:, :4] = 255  # unlabelled rows
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(dict(ori_shape=ori, img_shape=(size, size), pad_shape=(size, size)))
        samples.append(sample)
    return samples


def test_pixel_pool_is_bounded_and_skips_unlabelled_pixels():
    model = _segmentor(max_pixels=100, feature_dtype='float16')
    inputs, samples = torch.rand(2, 3, 16, 16) * 2 - 1, _samples(2)
    features, labels = model.pixel_pool(inputs, samples)
    assert features.shape == (100, 2 * (64 + 32)) and features.dtype == torch.float16
    assert features.nbytes == 100 * model.backbone.feature_channels * 2  # the bound
    assert labels.max() < 3
    # every labelled pixel without a bound, with the features of the full map
    model = _segmentor()
    features, labels = model.pixel_pool(inputs, samples)
    assert len(labels) == 2 * 12 * 16
    full = model.backbone(inputs)  # (2, D, 16, 16)
    expected = full.permute(0, 2, 3, 1)[:, 4:].reshape(-1, full.shape[1])
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(labels, torch.stack(
        [s.gt_sem_seg.data[0, 4:] for s in samples]).flatten().long())


def test_train_step_passes_over_the_pool_and_leaves_the_unet():
    model = _segmentor(max_pixels=200)
    unet_before = {k: v.clone() for k, v in model.backbone.unet.state_dict().items()}
    mlp_before = model.classifier.models[0][0].weight.clone()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    data = dict(inputs=[torch.rand(3, 16, 16) * 255 for _ in range(2)],
                data_samples=_samples(2))
    log = model.train_step(data, wrapper)
    assert model.classifier.steps_taken.tolist() == [200 // 32] * 2  # one pass, last dropped
    assert set(log) >= {'loss', 'loss_ce', 'acc', 'active_models'}
    assert not torch.equal(model.classifier.models[0][0].weight, mlp_before)
    assert all(torch.equal(unet_before[k], v) for k, v in model.backbone.unet.state_dict().items())
    model.classifier.stopped[:] = True  # all stopped early: nothing more is done
    assert model.train_step(data, wrapper) == dict(active_models=torch.tensor(0.0))


def test_predict_outputs_at_ori_shape_and_chunking():
    model = _segmentor().eval()
    inputs = torch.rand(2, 3, 16, 16) * 2 - 1
    logits, uncertainty = model.infer(inputs)
    model.test_cfg['pixel_chunk'] = 16 * 16
    logits_whole, uncertainty_whole = model.infer(inputs)
    torch.testing.assert_close(logits, logits_whole)
    torch.testing.assert_close(uncertainty, uncertainty_whole)
    results = model.predict(inputs, _samples(2))
    assert results[0].seg_logits.data.shape == (3, 20, 24)
    assert results[0].pred_sem_seg.data.shape == (1, 20, 24)
    assert results[0].uncertainty.data.shape == (1, 20, 24)
    assert results[0].uncertainty_score >= 0
    data = dict(inputs=[torch.rand(3, 16, 16) * 255], data_samples=_samples(1))
    assert model.test_step(data)[0].pred_sem_seg.data.max() < 3
