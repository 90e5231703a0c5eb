# Images and grey 0-255 masks in folders (SegFolderDataset), for diffusion segmentation.
# Layouts: data_root/{images,masks}/ (split into train/val by val_split and split_seed) or
# data_root/{train,val}/{images,masks}/ (pre-split: set val_split = None). A mask is named
# STEM.png, STEM_mask.png, STEM_gt.png or like its image; foreground is grey >= mask_threshold.
# Check a dataset: python tools/prepare_data.py --action validate --image-dir ... --mask-dir ...
#
# Augmentation levels (the seed's): aug_none; aug_light = h-flip 0.5; aug_medium = h-flip 0.5,
# v-flip 0.3, rotation +-15 deg, colour jitter on the image only; aug_heavy = medium with the
# rotation at +-30 deg and a random crop (heavy_crop_ratio of the side, resized back).
# `augmentation` picks train_pipeline here; a leaf config picks another level with
#   train_dataloader = dict(dataset=dict(pipeline={{_base_.aug_heavy}}))
# (a leaf that changes image_size re-defines the pipelines: they are built from it here).
dataset_type = 'SegFolderDataset'
data_root = 'data/seg_folder'
image_size = (256, 256)  # (H, W) of the model's input
augmentation = 'medium'  # 'none' | 'light' | 'medium' | 'heavy'
mask_threshold = 128  # grey value from which a mask pixel is foreground
val_split = 0.2  # fraction of the pairs for validation; None for pre-split data
split_seed = 0
heavy_crop_ratio = 0.875

image_scale = (image_size[1], image_size[0])  # Resize takes (W, H)
heavy_crop_size = (int(image_size[0] * heavy_crop_ratio), int(image_size[1] * heavy_crop_ratio))
load = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadThresholdedAnnotations', threshold=mask_threshold),
]
resize = dict(type='Resize', scale=image_scale, keep_ratio=False)
h_flip = dict(type='RandomFlip', prob=0.5, direction='horizontal')
v_flip = dict(type='RandomFlip', prob=0.3, direction='vertical')
# every image rotated by an angle drawn in [-degree, degree]; corners padded with background
rotate_15 = dict(type='RandomRotate', prob=1.0, degree=15, pad_val=0, seg_pad_val=0)
rotate_30 = dict(type='RandomRotate', prob=1.0, degree=30, pad_val=0, seg_pad_val=0)
# PhotoMetricDistortion changes results['img'] only: the mask is untouched
colour_jitter = dict(type='PhotoMetricDistortion', brightness_delta=32,
                     contrast_range=(0.8, 1.2), saturation_range=(0.8, 1.2), hue_delta=9)
pack = dict(type='PackSegInputs')

aug_none = [*load, resize, pack]
aug_light = [*load, resize, h_flip, pack]
aug_medium = [*load, resize, h_flip, v_flip, rotate_15, colour_jitter, pack]
aug_heavy = [*load, resize, h_flip, v_flip, rotate_30,
             dict(type='RandomCrop', crop_size=heavy_crop_size), resize, colour_jitter, pack]
train_pipeline = dict(none=aug_none, light=aug_light, medium=aug_medium,
                      heavy=aug_heavy)[augmentation]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    resize,
    # GT at the original size: predictions are resized back to it
    dict(type='LoadThresholdedAnnotations', threshold=mask_threshold),
    pack,
]

data_prefix = dict(img_path='images', seg_map_path='masks')
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=data_prefix,
                 split='train', val_split=val_split, split_seed=split_seed,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=data_prefix,
                 split='val', val_split=val_split, split_seed=split_seed,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
test_evaluator = val_evaluator
