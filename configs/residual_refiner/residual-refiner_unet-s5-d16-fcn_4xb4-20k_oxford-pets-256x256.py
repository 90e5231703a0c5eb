# ResidualRefiner on the UNet baseline's output, Oxford-IIIT Pets.
# Train the baseline first (configs/unet/unet-s5-d16_fcn_4xb4-40k_oxford-pets-256x256.py); the
# refiner loads it from `baseline_checkpoint` (the baseline's init_cfg), keeps it frozen and
# stores it in its own checkpoints. Ablations: the *-no-image / -no-logits / -no-probs variants.
#   python tools/train.py configs/residual_refiner/residual-refiner_unet-s5-d16-fcn_4xb4-20k_oxford-pets-256x256.py
_base_ = [
    '../unet/unet-s5-d16_fcn_4xb4-40k_oxford-pets-256x256.py',
    '../_base_/models/residual_refiner.py'
]
baseline_checkpoint = 'work_dirs/unet-s5-d16_fcn_4xb4-40k_oxford-pets-256x256/iter_40000.pth'
# the refiner normalises and pads its inputs exactly as the baseline was trained
data_preprocessor = _base_.model.data_preprocessor
model = dict(
    _base_.residual_refiner, _delete_=True, data_preprocessor=data_preprocessor,
    baseline=dict(_base_.model, init_cfg=dict(type='Pretrained', checkpoint=baseline_checkpoint)))
max_iters = 20000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500, end=max_iters, eta_min=1e-6),
]
train_cfg = dict(max_iters=max_iters, val_interval=2000)
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=3, save_last=True))
