# The CPU baseline of the diffusion segmentor (diffseg_*-cpu.py): the tiny UNet of
# configs/unet/*cpu*.py (mmseg's UNet-S5-D16 with 16 channels, BN, an FCNHead, the cross-entropy
# weighted 0.5 / 2 for background / foreground) for 2 classes, on the same data and inputs as
# the diffusion config (whole images resized to 64x64, horizontal flips). Trained side by side
# with the diffusion config, its 1820 iterations took 9.2 min, the diffusion's 1300 took 9.0
# (one run each); foreground IoU 45.61 on the 40 val images. docs/diffseg.md, "CPU results".
#   python tools/train.py configs/diffseg/unet-tiny-s5-d16_fcn_1xb8-1820_synthetic-folder-64x64.py
_base_ = [
    '../_base_/models/unet_fcn.py', '../_base_/datasets/seg_folder.py',
    '../_base_/default_runtime.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
image_size = (64, 64)
max_iters = 1820
data_root = 'data/synthetic'
model = dict(
    data_preprocessor=dict(size=image_size),
    backbone=dict(base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(
        num_classes=2, in_channels=16, channels=16, dropout_ratio=0.0, norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, class_weight=[0.5, 2.0],
                         avg_non_ignore=True)),
    auxiliary_head=None)
resize = dict(type='Resize', scale=(image_size[1], image_size[0]), keep_ratio=False)
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadThresholdedAnnotations', threshold=128),
    resize,
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    resize,
    dict(type='LoadThresholdedAnnotations', threshold=128),  # GT at the original size
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, val_split=None, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, val_split=None, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice']),
                 dict(type='BoundaryF1Metric', bound_th=2)]
test_evaluator = val_evaluator
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
