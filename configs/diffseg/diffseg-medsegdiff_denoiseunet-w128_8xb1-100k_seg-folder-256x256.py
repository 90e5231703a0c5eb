# MedSegDiff's recipe (Wu et al., MIDL 2023): its guided-diffusion UNet at 256x256 (128 channels,
# widths x(1, 1, 2, 2, 4, 4), 2 res blocks per level, 1 attention head, attention at 16x
# down-sampling), T = 1000 linear betas, eps-prediction, lr 1e-4, batch 8, 100k iterations, an
# ensemble of 5 samples at test time (113.7M parameters here). Not reproduced: its learned
# variance (learn_sigma) and its feature-frequency parser; sampling is DDIM over 50 steps.
#   bash tools/dist_train.sh \
#       configs/diffseg/diffseg-medsegdiff_denoiseunet-w128_8xb1-100k_seg-folder-256x256.py 8
_base_ = ['./diffseg_denoiseunet-w64_8xb1-100e_seg-folder-256x256.py']
max_iters = 100000
size_divisor = 32
data_preprocessor = dict(size_divisor=size_divisor, test_cfg=dict(size_divisor=size_divisor))
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        denoiser=dict(model_channels=128, num_res_blocks=2, channel_mult=(1, 1, 2, 2, 4, 4),
                      attention_strides=(16, ), num_heads=1)),
    test_cfg=dict(num_samples=5))
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=10000)
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
