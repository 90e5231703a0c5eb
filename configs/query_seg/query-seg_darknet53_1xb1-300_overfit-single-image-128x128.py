# The seed's single-image overfit sanity run (its train.py: one image and its mask, AdamW, a
# fixed number of steps) as a config: the full model (DarkNet-53 + YOLOV3Neck + the 6-layer
# query decoder) trained on one image of the synthetic benchmark (python scripts/gen_synthetic.py;
# train_00001, 22% foreground) at 128x128, no augmentation, then validated on the same image.
# Measured (one run, a 2-core machine shared with other jobs): foreground IoU 91.92 (mIoU 94.77)
# after the 300 iterations, 16.6 min (about 1.6 s an iteration when the machine is not loaded);
# the loss went from 47.8 to 7.3 (docs/query_seg.md, "Overfit sanity run").
#   python tools/train.py configs/query_seg/query-seg_darknet53_1xb1-300_overfit-single-image-128x128.py
# tests/test_configs/test_query_seg_configs.py trains this config with a reduced model
# (tests/query_seg_utils.py: a CSPDarknet of width 0.125 for DarkNet-53, a 32-channel neck, a
# decoder of width 64 with 2 layers, 10 queries, 1024 points), lr 3e-3 and 250 iterations on a
# 128x128 image it writes, and asserts IoU >= 0.9 and a falling loss (about 20 s of CPU).
_base_ = ['../_base_/models/query_seg.py', '../_base_/default_runtime.py']
image_size = (128, 128)  # (H, W)
max_iters = 300
data_root = 'data/synthetic'
image_index = 1  # which image of data_root/train (sorted by name)
model = dict(decode_head=dict(num_points=4096))  # 4096 of the 128^2 pixels per mask
resize = dict(type='Resize', scale=(image_size[1], image_size[0]), keep_ratio=False)
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadThresholdedAnnotations', threshold=128),
    resize,
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    resize,
    dict(type='LoadThresholdedAnnotations', threshold=128),  # GT at the original size
    dict(type='PackSegInputs'),
]
dataset = dict(type='SegFolderDataset', data_root=data_root,
               data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
               indices=[image_index])
train_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.0),
                     clip_grad=dict(max_norm=1.0))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
