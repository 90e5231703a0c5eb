# ddpm-segmentation's classifier schedule: Adam 1e-3, up to 100 epochs over the labelled images
# (each iteration: one image batch's pixel pool, one pass of 64-pixel batches per MLP), the MLPs
# stopping early on their own (PixelClassifierEnsemble.early_stop_after / patience). No
# validation during training: test with tools/test.py (mIoU by IoUMetric).
max_epochs = 100
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
