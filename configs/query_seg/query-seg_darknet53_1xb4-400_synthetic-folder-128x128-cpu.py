# The query segmenter on the CPU: the project's synthetic benchmark (python scripts/gen_synthetic.py,
# data/synthetic/{train,val}/{images,masks}, 160x160) read as a pre-split folder dataset, whole
# images resized to 128x128 (predictions are resized back to 160x160), the full model (DarkNet-53,
# YOLOV3Neck, the 6-layer decoder), 4096 points per mask, batch 4, AdamW 1e-4 (the seed's), a
# horizontal flip, 400 iterations, validation and the best checkpoint by mIoU at the end.
#   python scripts/gen_synthetic.py
#   python tools/train.py configs/query_seg/query-seg_darknet53_1xb4-400_synthetic-folder-128x128-cpu.py
_base_ = [
    '../_base_/models/query_seg.py', '../_base_/datasets/seg_folder.py',
    '../_base_/default_runtime.py'
]
image_size = (128, 128)  # (H, W), multiples of 32
max_iters = 400
data_root = 'data/synthetic'
model = dict(decode_head=dict(num_points=4096))
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
    batch_size=4,
    num_workers=1,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, val_split=None, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, val_split=None, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice']),
                 dict(type='BoundaryF1Metric', bound_th=2)]
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01),
                     clip_grad=dict(max_norm=1.0))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
