# The supervised baseline with the fork's augmentation (aug_fork of ddpm_synthetic.py), its
# rotated corners labelled background instead of 255: mmseg 1.2.2's class-weighted
# cross-entropy cannot take ignored pixels.
_base_ = ['./unet-tiny-s5-d16_fcn_1xb8-300_synthetic-10shot-64x64-cpu.py']
image_size = 64
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadNpyAnnotations'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomResize', scale=(image_size, image_size), ratio_range=(1.0, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(image_size, image_size)),
    dict(type='RandomRotate', prob=0.5, degree=15, pad_val=0, seg_pad_val=0),
    dict(type='PhotoMetricDistortion', brightness_delta=24, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
