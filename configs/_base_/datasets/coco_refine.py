# A detector's COCO instance results (data/coarse_coco/<detector>.segm.json, COCO results format
# with RLE or polygon masks) on COCO val2017, refined instance by instance (docs/segrefiner.md,
# 'Instance mode'; files: docs/data.md, 'Detector results to refine').
# The images are not resized: the Refiner's 'instance' mode crops each instance itself.
# Evaluation: LVIS v1 val annotations restricted to COCO (python scripts/lvis2coco.py), mask AP
# and boundary AP (the numbers of SegRefiner's COCO table).
dataset_type = 'CocoRefineDataset'
data_root = 'data'
test_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='LoadCoarseInstances'),
    dict(type='PackInstanceRefineInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='coco/annotations/instances_val2017.json',
                 data_prefix=dict(img='coco/val2017/'),
                 coarse_file='coarse_coco/maskrcnn_r50_fpn_3x.segm.json',
                 pipeline=test_pipeline))
test_evaluator = dict(
    type='InstanceAPMetric', gt_file='data/lvis/annotations/lvis_v1_val_cocofied.json',
    iou_types=('segm', 'boundary'))
