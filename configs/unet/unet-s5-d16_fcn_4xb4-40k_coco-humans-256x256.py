# UNet baseline on COCO-Humans (background / person / border).
#   python tools/train.py configs/unet/unet-s5-d16_fcn_4xb4-40k_coco-humans-256x256.py
_base_ = [
    '../_base_/models/unet_fcn.py', '../_base_/datasets/coco_humans.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
