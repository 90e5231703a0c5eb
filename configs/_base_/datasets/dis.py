# DIS-5K evaluation sets (DIS-TE1..4, DIS-VD) with a segmentation model's coarse masks.
# tools/test.py --out DIR writes DIR/<set>/<name>.png; run scripts/eval_miou_dis.py per set.
dataset_type = 'DISDataset'
data_root = 'data/dis'
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='LoadCoarseMask'),
    dict(type='PackRefineInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 sets=('DIS-TE1', 'DIS-TE2', 'DIS-TE3', 'DIS-TE4', 'DIS-VD'),
                 coarse_root='coarse/isnet', pipeline=test_pipeline))
test_evaluator = dict(type='RefineMetric')
