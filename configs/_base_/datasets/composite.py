# Photo composites rendered on the fly (segrefiner/datasets/generators/composite.py): cut-outs of
# real photo content (the sample photos shipped with scikit-image and scikit-learn) masked by
# procedural silhouettes, pasted onto other photos with clutter, look-alike distractors, shadows,
# soft edges, noise and JPEG artefacts; coarse masks of 7 kinds (SegRefiner's perturbation,
# low-resolution heads, morphology, polygons, blobs, shifts). No files: sample i is a function of
# (seed, i), so the training and the held-out validation split differ by their seed.
#
# Training crop: the coarse mask's box plus a 40 px margin (what crop-mode inference cuts, with a
# random position), resized to 256 (the inference model size) or smaller, then a random
# 128x128 patch that is not all foreground or all background.
dataset_type = 'CompositeRefineDataset'
img_size = (320, 320)
crop_size = (128, 128)
train_pipeline = [
    dict(type='ObjectCrop', pad=40, random_shift=True, mask_key='coarse_seg_map'),
    dict(type='RandomChoice',
         transforms=[[dict(type='Resize', scale=(s, s), keep_ratio=False)]
                     for s in (256, 192, 128)],
         prob=[0.5, 0.25, 0.25]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.95),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
test_pipeline = [dict(type='PackRefineInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, num_samples=100000, img_size=img_size, seed=0,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, num_samples=32, img_size=img_size, seed=1,
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='RefineMetric')
test_evaluator = val_evaluator
