# LVIS v1 objects for LR training (docs/segrefiner.md, 'LR training (LVIS objects)'): every
# time an image is
# loaded, one of its instances (area > 512 px) is drawn, perturbed online into a coarse mask on
# the full image, cropped with its box + 40 px split randomly between the sides, squashed to
# 256x256 (image bilinear, masks nearest) and flipped with probability 0.5.
# Images are COCO's (data/coco/train2017/...; the path comes from each image's coco_url).
# (dataset type and root are given inline so that test configs can add a test dataset base.)
model_size = 256
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadRandomInstanceMask'),
    dict(type='GenerateCoarseMask'),
    dict(type='ObjectCrop', pad=40, random_shift=True),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='LVISRefineDataset', data_root='data',
                 ann_file='lvis/annotations/lvis_v1_train.json',
                 data_prefix=dict(img='coco/'), min_area=512, pipeline=train_pipeline))
