# SegRefiner's HR schedule (AdamW 4e-4, 40k iterations, x0.5 at 20k and 35k) with the warmup and
# gradient clipping of segrefiner_lr_120k.py. There is no validation set during HR training (as in
# SegRefiner); evaluate checkpoints with segrefiner_big.py / segrefiner_dis.py.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=40000, milestones=[20000, 35000],
         gamma=0.5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=8,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
