# ddpm-segmentation on Horse-21: 21 classes, 30 labelled LSUN horses (65.0 mIoU in the paper, 64.03 reproduced by the fork).
# The released guided-diffusion model checkpoints/ddpm/lsun_horse.pt (ddpm-segmentation's
# download_checkpoint.sh) and the dataset in datasets/horse_21/real/{train,test}/.
#   python tools/train.py configs/ddpm_features/ddpm-features_guided-unet-lsun-horse_1xb2-100e_horse-21-256x256.py
#   python tools/test.py configs/ddpm_features/ddpm-features_guided-unet-lsun-horse_1xb2-100e_horse-21-256x256.py work_dirs/.../epoch_100.pth
_base_ = [
    '../_base_/models/ddpm_features.py', '../_base_/datasets/ddpm_seg.py',
    '../_base_/schedules/ddpm_features_100e.py', '../_base_/default_runtime.py'
]
num_classes = 21
num_train = 30
data_root = 'datasets/horse_21'
model = dict(
    backbone=dict(checkpoint='checkpoints/ddpm/lsun_horse.pt'),
    classifier=dict(num_classes=num_classes, early_stop_after=4 * num_train * 256 * 256 // 64))
train_dataloader = dict(dataset=dict(type='Horse21Dataset', data_root=data_root, num_images=num_train))
val_dataloader = dict(dataset=dict(type='Horse21Dataset', data_root=data_root))
test_dataloader = val_dataloader
