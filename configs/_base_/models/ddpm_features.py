# Label-efficient segmentation from DDPM features (docs/ddpm_features.md): DDPMFeatureSegmentor =
# a frozen guided-diffusion UNet read by DDPMFeatureExtractor (x_t at t = 50, 150, 250 with one
# seeded noise, output activations of decoder blocks 5, 6, 7, 8, 12, bilinear to 256x256: 8448
# features per pixel) + PixelClassifierEnsemble (10 MLPs 8448-128-32-C, ReLU + BN, N(0, 0.02)
# init, batches of 64 pixels, majority vote, early stopping after 4 epochs, patience 50).
# ddpm-segmentation's flags of the released LSUN / FFHQ 256x256 models:
num_classes = 21
unet = dict(type='GuidedDiffusionUNet', image_size=256, num_channels=256, num_res_blocks=2,
            attention_resolutions='32,16,8', channel_mult='', num_heads=4, num_head_channels=64,
            num_heads_upsample=-1, use_scale_shift_norm=True, resblock_updown=True,
            use_new_attention_order=False, learn_sigma=True, dropout=0.1, class_cond=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],  # images in [-1, 1], RGB (guided-diffusion's input)
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='DDPMFeatureSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='DDPMFeatureExtractor',
        unet=unet,
        diffusion=dict(type='GaussianDiffusion', num_timesteps=1000, beta_schedule='linear'),
        checkpoint='checkpoints/ddpm/lsun_horse.pt',
        steps=(50, 150, 250),
        blocks=(5, 6, 7, 8, 12),
        activations='output',
        noise_seed=0,
        autocast_dtype='float16'),  # the original runs the UNet in fp16 (use_fp16)
    classifier=dict(
        type='PixelClassifierEnsemble',
        num_classes=num_classes,
        num_models=10,
        dropout=0.0,
        vote='majority',
        pixel_batch_size=64,
        # 4 epochs of 30 images x 256 x 256 pixels in batches of 64 (the original's epoch > 3)
        early_stop_after=4 * 30 * 256 * 256 // 64,
        patience=50),
    # the pixel pool of one image batch: every labelled pixel, features in fp16 (2 images:
    # 2 x 65536 x 8448 x 2 bytes = 2.2 GB, against 133 GB for the original's 30 images)
    train_cfg=dict(max_pixels=None, feature_dtype='float16'),
    test_cfg=dict(pixel_chunk=16384))
