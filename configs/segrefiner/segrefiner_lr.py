# LR-SegRefiner: the released network trained on LVIS v1 objects with coarse masks generated
# online (docs/segrefiner.md, 'LR training (LVIS objects)' and 'Configs'). SegRefiner's
# settings: 1 sample/GPU x 8 GPUs,
# AdamW 4e-4, 120k iterations, x0.5 at 80k and 100k, a checkpoint every 5k; plus the linear
# warmup and gradient clipping of segrefiner_lr_120k.py (training at 4e-4 collapses without them,
# SegRefiner issues #4, #21). No validation set; test checkpoints with segrefiner_coco.py.
#   bash tools/dist_train.sh configs/segrefiner/segrefiner_lr.py 8
_base_ = [
    '../_base_/models/segrefiner.py', '../_base_/datasets/lvis_refine.py',
    '../_base_/schedules/segrefiner_lr_120k.py', '../_base_/default_runtime.py'
]
model = dict(
    test_cfg=dict(
        mode='instance',
        model_size=256,
        steps=6,          # reverse steps per instance
        pad_width=20,     # px added to each side of the mask box
        batch_max=32,     # instance crops per denoiser call
        area_thr=512))    # smaller masks pass through unrefined
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=120000)
val_cfg = None
