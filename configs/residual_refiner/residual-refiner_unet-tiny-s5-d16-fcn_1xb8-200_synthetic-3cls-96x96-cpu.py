# A tiny ResidualRefiner on the tiny CPU UNet baseline (synthetic benchmark, 3 classes).
#   python tools/train.py configs/unet/unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu.py
#   python tools/train.py configs/residual_refiner/residual-refiner_unet-tiny-s5-d16-fcn_1xb8-200_synthetic-3cls-96x96-cpu.py
# Ablations: --cfg-options model.mode=no_image (no_logits, no_probs), or
# tools/analysis_tools/ablation.py.
_base_ = [
    '../unet/unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu.py',
    '../_base_/models/residual_refiner.py'
]
baseline_checkpoint = 'work_dirs/unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu/iter_600.pth'
# the refiner normalises and pads its inputs exactly as the baseline was trained
data_preprocessor = _base_.model.data_preprocessor
model = dict(
    _base_.residual_refiner, _delete_=True, data_preprocessor=data_preprocessor,
    baseline=dict(_base_.model, init_cfg=dict(type='Pretrained', checkpoint=baseline_checkpoint)),
    denoiser=dict(_base_.residual_refiner.denoiser, model_channels=16, channel_mult=(1, 2, 2)),
    test_cfg=dict(num_steps=5, t_level=100))
max_iters = 200
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
