# HR-SegRefiner: the released network trained on ThinObject-5K + DIS-TR (object + patch crops),
# refining 2K-5K px masks with a global pass at 256x256 and native-resolution patches.
#   python scripts/gen_coarse_masks_hr.py --data-root data
#   bash tools/dist_train.sh configs/segrefiner/segrefiner_hr.py 8
# SegRefiner trains it from scratch; to start from the LR model set load_from.
_base_ = [
    '../_base_/models/segrefiner.py', '../_base_/datasets/hr_collection.py',
    '../_base_/schedules/segrefiner_hr_40k.py', '../_base_/default_runtime.py'
]
model = dict(
    test_cfg=dict(
        mode='hr',
        model_size=256,
        global_steps=5,       # reverse steps of the global pass (indices 5..1)
        fine_prob_thr=0.9,    # patch candidates: F < 0.9 * max(F)
        iou_thr=0.3,          # NMS between patch boxes
        batch_max=32,         # patches per denoiser call
        area_thr=128,         # masks with <= 128 px pass through
        pass_through=True,    # False: SegRefiner's empty output for them
        max_patches=None,     # cap on patches per image (None: all, as SegRefiner)
        antialias=True))      # False: SegRefiner's nearest resampling of the global view
