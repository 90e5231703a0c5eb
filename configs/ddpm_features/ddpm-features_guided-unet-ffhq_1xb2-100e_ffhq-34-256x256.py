# ddpm-segmentation on FFHQ-34: 34 classes, 20 labelled FFHQ faces (59.1 mIoU in the paper, 57.91 reproduced by the fork).
# The released guided-diffusion model checkpoints/ddpm/ffhq.pt (ddpm-segmentation's
# download_checkpoint.sh) and the dataset in datasets/ffhq_34/real/{train,test}/.
#   python tools/train.py configs/ddpm_features/ddpm-features_guided-unet-ffhq_1xb2-100e_ffhq-34-256x256.py
#   python tools/test.py configs/ddpm_features/ddpm-features_guided-unet-ffhq_1xb2-100e_ffhq-34-256x256.py work_dirs/.../epoch_100.pth
_base_ = [
    '../_base_/models/ddpm_features.py', '../_base_/datasets/ddpm_seg.py',
    '../_base_/schedules/ddpm_features_100e.py', '../_base_/default_runtime.py'
]
num_classes = 34
num_train = 20
data_root = 'datasets/ffhq_34'
model = dict(
    backbone=dict(checkpoint='checkpoints/ddpm/ffhq.pt'),
    classifier=dict(num_classes=num_classes, early_stop_after=4 * num_train * 256 * 256 // 64))
train_dataloader = dict(dataset=dict(type='FFHQ34Dataset', data_root=data_root, num_images=num_train))
val_dataloader = dict(dataset=dict(type='FFHQ34Dataset', data_root=data_root))
test_dataloader = val_dataloader
