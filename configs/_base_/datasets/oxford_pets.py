# Oxford-IIIT Pet trimaps as 3 classes: 0 background, 1 pet, 2 border (data/README.md).
# Pets has no official validation split: the test split serves as val and test, as usual.
dataset_type = 'OxfordPetsDataset'
data_root = 'data/oxford_pets'
img_scale = (384, 384)  # the long side fits 384 (500x375 -> 384x288)
crop_size = (256, 256)
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadCheckedAnnotations', valid_values=(1, 2, 3)),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # GT at the original size: predictions are resized back to it
    dict(type='LoadCheckedAnnotations', valid_values=(1, 2, 3)),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='trainval',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
# mIoU with per-class IoU/Acc (IoUMetric's table), boundary F1 at a 2-pixel tolerance
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='BoundaryF1Metric', bound_th=2)]
test_evaluator = val_evaluator
