# Diffusion segmentation on the CPU: the synthetic benchmark (python scripts/gen_synthetic.py,
# data/synthetic/{train,val}/{images,masks}) read as a pre-split folder dataset, whole images
# resized to 64x64 (predictions are resized back to 160x160), a 16-channel UNet (widths
# x(1, 2, 2, 4), one res block per level, 0.74M parameters), T = 1000 linear betas with
# x0-prediction, batch 8, AdamW 2e-3 with a cosine decay, 50 DDIM steps at validation.
# One run (one thread, the baseline training beside it on the 2-core machine): 9.0 min of
# training, 0.9 min of validation; foreground IoU 42.34 on the 40 val images, 3.27 below the
# UNet baseline trained for the same time (unet-tiny-*_synthetic-folder-64x64.py: 45.61).
# docs/diffseg.md, "CPU results".
#   python scripts/gen_synthetic.py
#   python tools/train.py \
#       configs/diffseg/diffseg_denoiseunet-w16_1xb8-1300_synthetic-folder-64x64-cpu.py
_base_ = [
    '../_base_/models/diffseg.py', '../_base_/datasets/seg_folder.py',
    '../_base_/default_runtime.py'
]
image_size = (64, 64)  # (H, W), multiples of the UNet's size_divisor (8)
max_iters = 1300
data_root = 'data/synthetic'
model = dict(
    decode_head=dict(
        denoiser=dict(model_channels=16, num_res_blocks=1, channel_mult=(1, 2, 2, 4),
                      num_heads=1, norm_groups=8),
        diffusion=dict(prediction_type='x0')))
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
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.0))
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
