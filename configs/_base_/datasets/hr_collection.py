# HR training collection: ThinObject-5K train + DIS-5K DIS-TR with offline coarse masks
# (python scripts/gen_coarse_masks_hr.py writes them and data/collection_hr.json).
# Every image gives two examples that train in the same batch with their own timestep:
# the whole object with random margins squashed to 256x256, and a native-resolution 256x256
# patch on the object's boundary whose coarse mask is, with probability 0.5, the perturbation of
# the GT patch instead of the offline mask's crop (docs/segrefiner.md, 'HR training (object and
# patch views)').
# (dataset type and root are given inline so that test configs can add a test dataset base.)
model_size = 256
object_view = [
    dict(type='RandomObjectCrop'),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
patch_view = [
    dict(type='PatchCrop', size=model_size),
    dict(type='RandomApply', transforms=[dict(type='GenerateCoarseMask')], prob=0.5),
    dict(type='Resize', scale=(model_size, model_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='LoadOfflineCoarseMask', expand_prob=0.5),
    dict(type='MultiViewPack', views=dict(object=object_view, patch=patch_view)),
]
train_dataloader = dict(
    batch_size=1,  # images per GPU: 2 examples (object + patch), as SegRefiner
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='multi_view_collate'),
    dataset=dict(type='HRCollectionDataset', data_root='data', ann_file='collection_hr.json',
                 collection_datasets=('thin', 'dis'), pipeline=train_pipeline))
