# ResidualRefiner (configs/residual_refiner/README.md): a small correction UNet on the noisy
# probabilities of a frozen mmseg segmentor, the baseline, here as `residual_refiner`. A leaf
# config inherits its baseline's config (data, runtime and `model`) and this file, and wraps the
# baseline's model:
#     _base_ = ['../unet/<baseline config>.py', '../_base_/models/residual_refiner.py']
#     baseline_checkpoint = 'work_dirs/<baseline config>/iter_<N>.pth'
#     model = dict(_base_.residual_refiner, _delete_=True,
#                  data_preprocessor=_base_.model.data_preprocessor,
#                  baseline=dict(_base_.model, init_cfg=dict(type='Pretrained',
#                                                            checkpoint=baseline_checkpoint)))
# (mmengine refuses two bases that both define `model`, hence the separate name.)
residual_refiner = dict(
    type='ResidualRefiner',
    denoiser=dict(type='ResidualUNet', model_channels=32, num_res_blocks=1,
                  channel_mult=(1, 2, 2, 4), attention_strides=(), norm_groups=8),
    # the refiner's conventions (ResidualRefiner's DIFFUSION_DEFAULTS): cosine ᾱ over the
    # levels 0..T, 0 clean and T pure noise, the network's x̂0 used as is
    diffusion=dict(type='GaussianDiffusion', num_timesteps=300),
    mode='full',
    test_cfg=dict(num_steps=5, t_level=150))
