# ddpm-segmentation's datasets in the release layout (DDPMSegDataset): <root>/real/{train,test}/
# images + .npy label maps of the same stem, ignore label 255, resized to the model resolution
# (labels nearest-neighbour). Horse-21 here; the leaf configs set the dataset type, its root, the
# training number and num_classes. Training pipelines:
#   aug_none (train_pipeline): the original, resize only;
#   aug_fork: the fork's pixel + geometric augmentation before feature extraction (h-flip,
#             zoom-in crop, rotation with the corners unlabelled, colour jitter); a leaf picks it
#             with train_dataloader = dict(dataset=dict(pipeline={{_base_.aug_fork}})).
# TTA (test with the *_tta.py leaf configs): SegTTAModel over h-flips x scales, probabilities
# averaged.
dataset_type = 'Horse21Dataset'
data_root = 'datasets/horse_21'
image_size = 256
num_train = 30
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
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='real/train'), num_images=num_train,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='real/test'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
