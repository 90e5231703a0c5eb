# A tiny UNet baseline (5 stages, 16 channels, BN) trained on the CPU in a few minutes on the
# synthetic benchmark with a derived border class (../_base_/datasets/synthetic_3cls.py):
# random 96x96 crops, whole-image inference at 160x160. Background covers ~87% of the pixels, so
# the loss weighs it down (0.5 against 2 for object and border); without the weights this small
# network predicts background only for hundreds of iterations.
#   python scripts/gen_synthetic.py
#   python tools/train.py configs/unet/unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu.py
_base_ = [
    '../_base_/models/unet_fcn.py', '../_base_/datasets/synthetic_3cls.py',
    '../_base_/default_runtime.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (96, 96)
max_iters = 600
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=16,
        channels=16,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0,
                         class_weight=[0.5, 2.0, 2.0], avg_non_ignore=True)),
    auxiliary_head=None)
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='AddBorderClass', border_radius=1),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
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
