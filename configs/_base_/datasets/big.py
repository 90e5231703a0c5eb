# BIG (CascadePSP): 2K-5K px test images with the coarse masks of a semantic segmentation model.
# tools/test.py --out DIR writes DIR/<name>_refine.png; scripts/eval_miou.py --refine DIR reads it.
dataset_type = 'BIGDataset'
data_root = 'data/big'
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
                 data_prefix=dict(img_path='test', seg_map_path='test',
                                  coarse_path='coarse/deeplab'),
                 pipeline=test_pipeline))
test_evaluator = dict(type='RefineMetric')
