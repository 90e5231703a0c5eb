# The seed's training (its train_p3.py): DarkNet-53 + FPN + query decoder on P3M-10k train +
# Supervisely Person Clean (~12,088 images) read from 640x640 float16 memory maps, validated on
# P3M-500-P, AdamW lr 1e-4, batch 20, 50 epochs, mixed precision; the best checkpoint by the
# validation mIoU (the seed kept the best validation loss; a query model's loss depends on the
# matching, the metric does not). 8 GPUs, 20 images each (the seed's batch per step on each GPU,
# 160 in all; the seed's LR is kept, the LR for 160 would be x8 by the linear rule, auto_scale_lr).
#   python tools/dataset_converters/build_memmap.py CONFIG --split train
#   python tools/dataset_converters/build_memmap.py CONFIG --split val
#   bash tools/dist_train.sh CONFIG 8
#   bash tools/dist_test.sh CONFIG work_dirs/<name>/best_mIoU_epoch_*.pth 8
_base_ = [
    '../_base_/models/query_seg.py', '../_base_/datasets/p3m10k.py',
    '../_base_/default_runtime.py'
]
max_epochs = 50
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01),  # torch's AdamW default decay
    clip_grad=None)
auto_scale_lr = dict(enable=False, base_batch_size=20)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
