default_scope = 'mmseg'
model = dict(
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        pad_val=0,
        seg_pad_val=255,
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='RefineDataPreProcessor'),
    decode_head=dict(
        boundary_band=dict(radius=12, weight=4.0),
        denoiser=dict(
            attention_strides=(32, ),
            channel_mult=(
                1,
                1,
                2,
                4,
                8,
                20,
            ),
            dropout=0.0,
            in_channels=4,
            model_channels=8,
            norm_groups=8,
            num_heads=4,
            num_heads_upsample=-1,
            num_res_blocks=1,
            num_timesteps=6,
            out_channels=1,
            type='DenoiseUNet'),
        diffusion=dict(
            num_timesteps=6, start=0.8, stop=0.0, type='DiscreteDiffusion'),
        loss_mask=dict(
            avg_non_ignore=True,
            loss_name='loss_mask',
            loss_weight=1.0,
            type='CrossEntropyLoss',
            use_sigmoid=True),
        loss_texture=dict(loss_weight=5.0, type='TextureL1Loss'),
        type='DiscreteDiffusionHead'),
    test_cfg=dict(
        area_thr=0,
        batch_max=8,
        early_exit=dict(tol=0.03),
        keep_native=True,
        mode='crop',
        model_size=256,
        pad_width=20,
        steps=6),
    train_cfg=dict(),
    type='Refiner')
