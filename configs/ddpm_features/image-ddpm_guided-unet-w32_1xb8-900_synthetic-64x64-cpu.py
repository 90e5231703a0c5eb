# A small unconditional DDPM on the CPU, whose activations the pixel classifiers of
# ddpm-features_*_synthetic-*-cpu.py read (docs/ddpm_features.md, 'On the CPU'): the 200
# unlabelled synthetic train images (python scripts/gen_synthetic.py) resized to 64x64 with
# horizontal flips, a 32-channel guided-diffusion UNet (widths x(1, 1, 2), one res block per
# level, attention at 16x16, 0.83M parameters), T = 1000 linear betas, eps-prediction, batch 8,
# AdamW 5e-4 with a cosine decay.
#   python tools/train.py configs/ddpm_features/image-ddpm_guided-unet-w32_1xb8-900_synthetic-64x64-cpu.py
_base_ = ['../_base_/default_runtime.py']
image_size = 64
max_iters = 900
unet = dict(type='GuidedDiffusionUNet', image_size=image_size, num_channels=32,
            num_res_blocks=1, channel_mult='1,1,2', attention_resolutions='16',
            num_head_channels=32, dropout=0.1, learn_sigma=False)
model = dict(
    type='ImageDDPM',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True, size=(image_size, image_size)),
    unet=unet,
    diffusion=dict(type='GaussianDiffusion', num_timesteps=1000, beta_schedule='linear'))
train_pipeline = [
    dict(type='LoadRefineImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SegFolderDataset', data_root='data/synthetic', split='train',
                 val_split=None, data_prefix=dict(img_path='images', seg_map_path='masks'),
                 pipeline=train_pipeline))
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.0),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
