# The synthetic benchmark (python scripts/gen_synthetic.py) as 3-class semantic segmentation:
# the binary GT gets a border class (AddBorderClass: a band of half-width 1 px around the object
# contour), matching the background / object / border classes of Pets and COCO-Humans.
# The stored coarse masks are not used.
dataset_type = 'BaseSegDataset'
data_root = 'data/synthetic'
metainfo = dict(classes=('background', 'foreground', 'border'),
                palette=[[0, 0, 0], [220, 20, 60], [255, 255, 255]])
border_radius = 1
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='AddBorderClass', border_radius=border_radius),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='AddBorderClass', border_radius=border_radius),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
                 img_suffix='.jpg', seg_map_suffix='.png', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='val/images', seg_map_path='val/masks'),
                 img_suffix='.jpg', seg_map_suffix='.png', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='BoundaryF1Metric', bound_th=2)]
test_evaluator = val_evaluator
