# LR-SegRefiner refining a detector's COCO val2017 instance masks (docs/segrefiner.md,
# 'Instance mode'; docs/metrics.md, 'Mask AP and boundary AP').
#   python scripts/lvis2coco.py          # data/lvis/annotations/lvis_v1_val_cocofied.json
#   python tools/test.py configs/segrefiner/segrefiner_coco.py CKPT \
#       --out-prefix work_dirs/maskrcnn_refined \
#       --cfg-options test_dataloader.dataset.coarse_file=coarse_coco/<detector>.segm.json
#   python scripts/eval_json.py --dt work_dirs/maskrcnn_refined.segm.json
# The test prints mask AP and boundary AP (InstanceAPMetric); --out-prefix writes the refined
# instances as <prefix>.segm.json (COCO results format, the detector's boxes and scores).
# Without the GT file, refine only: --cfg-options "test_evaluator=[]".
_base_ = ['./segrefiner_lr.py', '../_base_/datasets/coco_refine.py']
