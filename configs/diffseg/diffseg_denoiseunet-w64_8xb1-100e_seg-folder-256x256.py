# The seed's defaults: images and masks in folders (../_base_/datasets/seg_folder.py: 256x256,
# medium augmentation, a seeded 20% validation split), T = 1000 linear betas, eps-prediction,
# AdamW at lr 1e-4 without weight decay, batch 8 (8 GPUs x 1 image), 100 epochs, 50 DDIM steps;
# the UNet: 64 channels, widths x(1, 2, 4, 8), 2 res blocks per level (56.6M parameters).
#   bash tools/dist_train.sh \
#       configs/diffseg/diffseg_denoiseunet-w64_8xb1-100e_seg-folder-256x256.py 8
# The seed's flags as options: docs/diffseg.md ("The seed's flags").
_base_ = [
    '../_base_/models/diffseg.py', '../_base_/datasets/seg_folder.py',
    '../_base_/default_runtime.py'
]
max_epochs = 100
train_dataloader = dict(batch_size=1)  # per GPU: 8 GPUs x 1 = the seed's batch 8
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice']),
                 dict(type='BoundaryF1Metric', bound_th=2)]
test_evaluator = val_evaluator
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.0))
auto_scale_lr = dict(enable=False, base_batch_size=8)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
