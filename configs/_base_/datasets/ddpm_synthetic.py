# The synthetic benchmark in ddpm-segmentation's release layout, for the CPU recipe
# (docs/ddpm_features.md, 'On the CPU'): 10 labelled train images and the 40 val images as the
# test split, 2 classes (background, object), 160x160 resized to 64x64 (predictions are scored
# at 160x160). Make it with
#   python scripts/gen_synthetic.py
#   python tools/dataset_converters/synthetic_to_ddpm_seg.py data/synthetic data/synthetic/ddpm_seg
# aug_none / aug_fork and tta_pipeline as in ddpm_seg.py, at 64x64.
dataset_type = 'DDPMSegDataset'
data_root = 'data/synthetic/ddpm_seg'
metainfo = dict(classes=('background', 'object'), palette=[[0, 0, 0], [220, 20, 60]])
image_size = 64
num_train = 10
tta_scales = (0.75, 1.0, 1.25)

load = [dict(type='LoadRefineImageFromFile'), dict(type='LoadNpyAnnotations')]
resize = dict(type='Resize', scale=(image_size, image_size), keep_ratio=False)
pack = dict(type='PackSegInputs')
fork_augmentation = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomResize', scale=(image_size, image_size), ratio_range=(1.0, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(image_size, image_size)),
    dict(type='RandomRotate', prob=0.5, degree=15, pad_val=0, seg_pad_val=255),
    dict(type='PhotoMetricDistortion', brightness_delta=24, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
]
aug_none = [*load, resize, pack]
aug_fork = [*load, resize, *fork_augmentation, pack]
train_pipeline = aug_none
# GT at the original 160x160: predictions are resized back to it
test_pipeline = [dict(type='LoadRefineImageFromFile'), resize, dict(type='LoadNpyAnnotations'),
                 pack]
tta_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[[dict(type='Resize', scale=(round(image_size * s), round(image_size * s)),
                           keep_ratio=False) for s in tta_scales],
                     [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                      dict(type='RandomFlip', prob=1.0, direction='horizontal')],
                     [dict(type='LoadNpyAnnotations')], [pack]])
]
train_dataloader = dict(
    batch_size=num_train,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='real/train'), num_images=num_train,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='real/test'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
