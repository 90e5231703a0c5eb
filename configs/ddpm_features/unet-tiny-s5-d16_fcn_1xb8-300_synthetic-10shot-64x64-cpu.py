# The supervised baseline of the CPU recipe (docs/ddpm_features.md, 'On the CPU'): mmseg's
# UNet-S5-D16 with 16 channels, BN and an FCNHead (the tiny UNet of configs/diffseg/) trained on
# the same 10 labelled synthetic images at 64x64, without augmentation, the cross-entropy
# weighted 0.5 / 2 for background / object; AdamW 3e-3, cosine
# decay, 300 iterations of batch 8; mIoU on the 40 val images at the end.
_base_ = [
    '../_base_/models/unet_fcn.py', '../_base_/datasets/ddpm_synthetic.py',
    '../_base_/default_runtime.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
max_iters = 300
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(
        num_classes=2, in_channels=16, channels=16, dropout_ratio=0.0, norm_cfg=norm_cfg,
        # the project's baseline weights (configs/diffseg/unet-tiny-*): unweighted, on 10
        # images, it predicted background everywhere (one run: object IoU 0); mean over all
        # pixels (mmseg's avg_non_ignore with class weights fails on the 255 of rotations)
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, class_weight=[0.5, 2.0])),
    auxiliary_head=None)
train_dataloader = dict(batch_size=8,
                        sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True))
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
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
