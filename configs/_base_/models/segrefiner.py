# SegRefiner (NeurIPS 2023): the released denoiser (118,604,673 parameters) with T=6 discrete
# diffusion, BCE + 5 x texture L1, instance-style crop inference at 256x256.
data_preprocessor = dict(
    type='RefineDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='Refiner',
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        type='DiscreteDiffusionHead',
        denoiser=dict(
            type='DenoiseUNet',
            in_channels=4,
            out_channels=1,
            model_channels=128,
            num_res_blocks=2,
            channel_mult=(1, 1, 2, 2, 4, 4),
            attention_strides=(16, 32),
            num_heads=4,
            num_heads_upsample=-1,
            num_timesteps=6,
            dropout=0.0),
        diffusion=dict(type='DiscreteDiffusion', num_timesteps=6, start=0.8, stop=0.0),
        loss_mask=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0, loss_name='loss_mask',
            avg_non_ignore=True),
        loss_texture=dict(type='TextureL1Loss', loss_weight=5.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='crop', model_size=256, steps=6, pad_width=20, batch_max=32,
                  area_thr=0))
