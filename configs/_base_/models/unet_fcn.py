# mmseg's UNet-S5-D16 with an FCNHead (+ auxiliary FCNHead, weight 0.4) for 3 classes:
# background / object / border (Oxford-IIIT Pets, COCO-Humans). Whole-image inference; test
# inputs are padded to a multiple of 16 (the UNet's down-sampling) and the padding is cropped off.
# SyncBN as in mmseg (falls back to plain BN without a process group).
_base_ = ['mmseg::_base_/models/fcn_unet_s5-d16.py']
num_classes = 3
model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=16)),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=dict(_delete_=True, mode='whole'))
