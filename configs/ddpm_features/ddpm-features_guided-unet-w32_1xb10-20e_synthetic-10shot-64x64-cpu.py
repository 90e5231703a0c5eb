# ddpm-segmentation's recipe on the CPU (docs/ddpm_features.md, 'On the CPU'): the DDPM of
# image-ddpm_guided-unet-w32_1xb8-900_synthetic-64x64-cpu.py (train it first), its decoder
# blocks 1-4 of 6 at t = 50, 150, 250 (3 x 160 = 480 features per pixel), 10 MLPs on the 10
# labelled synthetic images (the whole set is one batch: one epoch per iteration), a fresh draw
# of 8192 of their 40960 pixels every epoch (128 batches of 64 per MLP), Adam 1e-3, early
# stopping after 4 epochs; test on the 40 val images.
#   python tools/train.py configs/ddpm_features/ddpm-features_guided-unet-w32_1xb10-20e_synthetic-10shot-64x64-cpu.py
_base_ = [
    '../_base_/models/ddpm_features.py', '../_base_/datasets/ddpm_synthetic.py',
    '../_base_/schedules/ddpm_features_100e.py', '../_base_/default_runtime.py'
]
max_pixels = 8192
ddpm_config = 'image-ddpm_guided-unet-w32_1xb8-900_synthetic-64x64-cpu'
model = dict(
    data_preprocessor=dict(size_divisor=4, test_cfg=dict(size_divisor=4)),
    backbone=dict(
        unet=dict(_delete_=True, type='GuidedDiffusionUNet', image_size=64, num_channels=32,
                  num_res_blocks=1, channel_mult='1,1,2', attention_resolutions='16',
                  num_head_channels=32, dropout=0.1, learn_sigma=False),
        checkpoint=f'work_dirs/{ddpm_config}/iter_900.pth',
        checkpoint_prefix='unet.',
        blocks=(1, 2, 3, 4),
        autocast_dtype=None),
    classifier=dict(num_classes=2, early_stop_after=4 * max_pixels // 64),
    train_cfg=dict(max_pixels=max_pixels, feature_dtype='float32'))
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
