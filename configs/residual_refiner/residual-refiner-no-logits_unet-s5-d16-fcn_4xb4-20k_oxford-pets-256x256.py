# Ablation: the ResidualRefiner's correction network without the baseline's logits.
_base_ = ['./residual-refiner_unet-s5-d16-fcn_4xb4-20k_oxford-pets-256x256.py']
model = dict(mode='no_logits')
