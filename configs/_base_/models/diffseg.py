# Diffusion segmentation (docs/diffseg.md): DiffusionSegmentor + GaussianDiffusionHead. The mask
# x0 = 2 * mask - 1 is generated from noise by a DDPM whose denoiser sees concat(image, x_t);
# x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps. Defaults of the seed: T = 1000 linear betas
# (1e-4 to 0.02), eps-prediction with an MSE loss, 50 DDIM steps (eta 0) at test time, one sample.
# The UNet: ResBlocks with a sinusoidal timestep embedding + MLP, GroupNorm, self-attention in
# the middle block (and at the down-sampling factors in attention_strides), skip connections.
# size_divisor = 2 ** (len(channel_mult) - 1): image sides must be multiples of it.
num_classes = 2  # binary: one mask channel; C > 2 classes: C one-hot channels
num_timesteps = 1000
size_divisor = 8
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=size_divisor,
    test_cfg=dict(size_divisor=size_divisor))
model = dict(
    type='DiffusionSegmentor',
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        type='GaussianDiffusionHead',
        num_classes=num_classes,
        # in_channels (3 + mask channels), out_channels and num_timesteps come from the head
        denoiser=dict(
            type='DenoiseUNet',
            model_channels=64,
            num_res_blocks=2,
            channel_mult=(1, 2, 4, 8),
            attention_strides=(),
            num_heads=4,
            norm_groups=32,
            time_embedding='sinusoidal'),
        diffusion=dict(
            type='GaussianDiffusion',
            num_timesteps=num_timesteps,
            beta_schedule='linear',
            prediction_type='epsilon',
            clip_sample=True),
        loss_decode=dict(type='mmdet.MSELoss', loss_weight=1.0)),
    train_cfg=dict(),
    # sampler 'ddim' | 'ddpm' (num_steps None = all T); num_samples > 1: an ensemble, its mean
    # probability and an uncertainty map; seed: repeatable sampling
    test_cfg=dict(sampler='ddim', num_steps=50, eta=0.0, num_samples=1, seed=0))
