# ddpm-segmentation on CelebA-19: 19 classes, 20 labelled CelebA-HQ faces, read by the FFHQ model (59.9 mIoU in the paper).
# The released guided-diffusion model checkpoints/ddpm/ffhq.pt (ddpm-segmentation's
# download_checkpoint.sh) and the dataset in datasets/celeba_19/real/{train,test}/.
#   python tools/train.py configs/ddpm_features/ddpm-features_guided-unet-ffhq_1xb2-100e_celeba-19-256x256.py
#   python tools/test.py configs/ddpm_features/ddpm-features_guided-unet-ffhq_1xb2-100e_celeba-19-256x256.py work_dirs/.../epoch_100.pth
_base_ = [
    '../_base_/models/ddpm_features.py', '../_base_/datasets/ddpm_seg.py',
    '../_base_/schedules/ddpm_features_100e.py', '../_base_/default_runtime.py'
]
num_classes = 19
num_train = 20
data_root = 'datasets/celeba_19'
model = dict(
    backbone=dict(checkpoint='checkpoints/ddpm/ffhq.pt'),
    classifier=dict(num_classes=num_classes, early_stop_after=4 * num_train * 256 * 256 // 64))
train_dataloader = dict(dataset=dict(type='CelebA19Dataset', data_root=data_root, num_images=num_train))
val_dataloader = dict(dataset=dict(type='CelebA19Dataset', data_root=data_root))
test_dataloader = val_dataloader
