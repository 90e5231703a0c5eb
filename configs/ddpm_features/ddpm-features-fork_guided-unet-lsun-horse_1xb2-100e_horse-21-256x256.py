# The fork's recipe on Horse-21 (65.33 mIoU reported, against 64.03 for its reproduction of the
# original): augmentation of the labelled images before feature extraction, AdamW and dropout
# in the pixel classifiers; test it with the TTA config (*_tta.py).
_base_ = ['./ddpm-features_guided-unet-lsun-horse_1xb2-100e_horse-21-256x256.py']
model = dict(classifier=dict(dropout=0.1))
train_dataloader = dict(dataset=dict(pipeline={{_base_.aug_fork}}))
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=1e-2))
