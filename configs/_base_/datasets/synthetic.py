# The project's synthetic refinement benchmark (python scripts/gen_synthetic.py).
# Training crops each image's objects with a random margin and draws the coarse mask online
# (SegRefiner's perturbation or a low-resolution mask) or takes the offline one.
dataset_type = 'SyntheticRefineDataset'
data_root = 'data/synthetic'
model_size = 128  # the images are 160x160
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='RandomChoice',
         transforms=[[dict(type='GenerateCoarseMask')],
                     [dict(type='GenerateLowResCoarseMask')],
                     [dict(type='LoadCoarseMask')]],
         prob=[0.4, 0.3, 0.3]),
    dict(type='ObjectCrop', pad=40, random_shift=True),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='LoadCoarseMask'),
    dict(type='PackRefineInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='train/images', seg_map_path='train/masks',
                                  coarse_path='train/coarse'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='val/images', seg_map_path='val/masks',
                                  coarse_path='val/coarse'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='RefineMetric')
test_evaluator = val_evaluator
