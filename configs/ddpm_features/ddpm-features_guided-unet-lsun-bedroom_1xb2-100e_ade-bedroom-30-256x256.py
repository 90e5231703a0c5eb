# ddpm-segmentation on ADE-Bedroom-30: 30 ADE20K classes, 50 labelled bedrooms, read by the LSUN bedroom model (34.6 mIoU in the paper).
# The released guided-diffusion model checkpoints/ddpm/lsun_bedroom.pt (ddpm-segmentation's
# download_checkpoint.sh) and the dataset in datasets/ade_bedroom_30/real/{train,test}/.
#   python tools/train.py configs/ddpm_features/ddpm-features_guided-unet-lsun-bedroom_1xb2-100e_ade-bedroom-30-256x256.py
#   python tools/test.py configs/ddpm_features/ddpm-features_guided-unet-lsun-bedroom_1xb2-100e_ade-bedroom-30-256x256.py work_dirs/.../epoch_100.pth
_base_ = [
    '../_base_/models/ddpm_features.py', '../_base_/datasets/ddpm_seg.py',
    '../_base_/schedules/ddpm_features_100e.py', '../_base_/default_runtime.py'
]
num_classes = 30
num_train = 50
data_root = 'datasets/ade_bedroom_30'
model = dict(
    backbone=dict(checkpoint='checkpoints/ddpm/lsun_bedroom.pt'),
    classifier=dict(num_classes=num_classes, early_stop_after=4 * num_train * 256 * 256 // 64))
train_dataloader = dict(dataset=dict(type='ADEBedroom30Dataset', data_root=data_root, num_images=num_train))
val_dataloader = dict(dataset=dict(type='ADEBedroom30Dataset', data_root=data_root))
test_dataloader = val_dataloader
