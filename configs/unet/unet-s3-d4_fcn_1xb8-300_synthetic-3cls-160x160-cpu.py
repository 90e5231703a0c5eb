# A tiny UNet baseline (3 stages, 8 channels, BN) trained on the CPU in about a minute on the
# synthetic benchmark with a derived border class (../_base_/datasets/synthetic_3cls.py).
#   python scripts/gen_synthetic.py
#   python tools/train.py configs/unet/unet-s3-d4_fcn_1xb8-300_synthetic-3cls-160x160-cpu.py
_base_ = [
    '../_base_/models/unet_fcn.py', '../_base_/datasets/synthetic_3cls.py',
    '../_base_/default_runtime.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
max_iters = 300
model = dict(
    data_preprocessor=dict(size_divisor=4, test_cfg=dict(size_divisor=4)),
    backbone=dict(
        base_channels=8,
        num_stages=3,
        strides=(1, 1, 1),
        enc_num_convs=(2, 2, 2),
        dec_num_convs=(2, 2),
        downsamples=(True, True),
        enc_dilations=(1, 1, 1),
        dec_dilations=(1, 1),
        norm_cfg=norm_cfg),
    decode_head=dict(in_channels=8, in_index=2, channels=8, dropout_ratio=0.0,
                     norm_cfg=norm_cfg),
    auxiliary_head=None)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
