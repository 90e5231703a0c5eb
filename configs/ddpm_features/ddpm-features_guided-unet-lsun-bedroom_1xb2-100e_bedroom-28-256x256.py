# ddpm-segmentation on Bedroom-28: 28 classes + background, 40 labelled LSUN bedrooms (49.4 mIoU in the paper, 50.05 reproduced by the fork).
# The released guided-diffusion model checkpoints/ddpm/lsun_bedroom.pt (ddpm-segmentation's
# download_checkpoint.sh) and the dataset in datasets/bedroom_28/real/{train,test}/.
#   python tools/train.py configs/ddpm_features/ddpm-features_guided-unet-lsun-bedroom_1xb2-100e_bedroom-28-256x256.py
#   python tools/test.py configs/ddpm_features/ddpm-features_guided-unet-lsun-bedroom_1xb2-100e_bedroom-28-256x256.py work_dirs/.../epoch_100.pth
_base_ = [
    '../_base_/models/ddpm_features.py', '../_base_/datasets/ddpm_seg.py',
    '../_base_/schedules/ddpm_features_100e.py', '../_base_/default_runtime.py'
]
num_classes = 29
num_train = 40
data_root = 'datasets/bedroom_28'
model = dict(
    backbone=dict(checkpoint='checkpoints/ddpm/lsun_bedroom.pt'),
    classifier=dict(num_classes=num_classes, early_stop_after=4 * num_train * 256 * 256 // 64))
train_dataloader = dict(dataset=dict(type='Bedroom28Dataset', data_root=data_root, num_images=num_train))
val_dataloader = dict(dataset=dict(type='Bedroom28Dataset', data_root=data_root))
test_dataloader = val_dataloader
