# COCO-Humans: the COCO 2017 images with people; 0 background, 1 person, 2 border (a band of
# half-width 2 px around the person union's contour), crowd regions ignored (data/README.md).
# train / val: a seeded 85/15 split of instances_train2017; test: every image of val2017 with
# people.
dataset_type = 'COCOHumansDataset'
data_root = 'data/coco'
img_scale = (512, 512)  # the long side fits 512 (640x480 -> 512x384)
crop_size = (256, 256)
border_radius = 2
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadCOCOHumansAnnotations', border_radius=border_radius),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadCOCOHumansAnnotations', border_radius=border_radius),
    dict(type='PackSegInputs'),
]
train_ann = 'annotations/instances_train2017.json'
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=train_ann,
                 data_prefix=dict(img_path='train2017'), split='train', split_ratio=0.85,
                 split_seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=train_ann,
                 data_prefix=dict(img_path='train2017'), split='val', split_ratio=0.85,
                 split_seed=0, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img_path='val2017'), split='all', pipeline=test_pipeline))
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='BoundaryF1Metric', bound_th=2)]
test_evaluator = val_evaluator
