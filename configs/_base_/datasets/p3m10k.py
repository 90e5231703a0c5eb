# P3M-10k portraits + Supervisely Person Clean, the seed's training data (docs/query_seg.md):
#   data/P3M-10k/{train/{blurred_image,mask}, validation/P3M-500-{P,NP}/...}   (P3M10kDataset)
#   data/supervisely_person_clean_2667_img/{images,masks}                  (SuperviselyPersonDataset)
# Training and validation read memory-mapped 640x640 float16 files, built once with
#   python tools/dataset_converters/build_memmap.py CONFIG --split train   (and --split val)
# from memmap_sources below (P3M-10k train + Supervisely -> train_640_fp16_*; P3M-500-P ->
# val_640_fp16_*). The test set is P3M-500-P read from its folders, GT at the original size
# (P3M-500-NP: --cfg-options test_dataloader.dataset.split=P3M-500-NP).
# P3M masks are alpha mattes: person where alpha >= mask_threshold.
p3m_root = 'data/P3M-10k'
supervisely_root = 'data/supervisely_person_clean_2667_img'
memmap_root = 'data/p3m_memmap'
image_size = (640, 640)  # (H, W)
memmap_size = image_size
mask_threshold = 128

resize = dict(type='Resize', scale=(image_size[1], image_size[0]), keep_ratio=False)
p3m_load = [dict(type='LoadRefineImageFromFile'),
            dict(type='LoadThresholdedAnnotations', threshold=mask_threshold)]
supervisely_load = [dict(type='LoadRefineImageFromFile'), dict(type='LoadBinaryAnnotations')]
# what build_memmap.py converts: samples loaded and resized (no packing)
memmap_sources = dict(
    train=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='P3M10kDataset', data_root=p3m_root, split='train',
                 pipeline=[*p3m_load, resize]),
            dict(type='SuperviselyPersonDataset', data_root=supervisely_root,
                 pipeline=[*supervisely_load, resize]),
        ]),
    val=dict(type='P3M10kDataset', data_root=p3m_root, split='P3M-500-P',
             pipeline=[*p3m_load, resize]))
# memmap samples enter the pipeline loaded and resized
train_pipeline = [dict(type='PackSegInputs')]
val_pipeline = [dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    resize,
    dict(type='LoadThresholdedAnnotations', threshold=mask_threshold),  # GT at the original size
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=20,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='MemmapSegDataset', data_root=memmap_root, header='train_640_fp16.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MemmapSegDataset', data_root=memmap_root, header='val_640_fp16.json',
                 pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='P3M10kDataset', data_root=p3m_root, split='P3M-500-P',
                 pipeline=test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice']),
                  dict(type='BoundaryF1Metric', bound_th=2)]
