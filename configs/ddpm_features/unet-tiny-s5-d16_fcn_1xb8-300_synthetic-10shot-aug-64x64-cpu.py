# The supervised baseline with the fork's augmentation (aug_fork of ddpm_synthetic.py).
_base_ = ['./unet-tiny-s5-d16_fcn_1xb8-300_synthetic-10shot-64x64-cpu.py']
train_dataloader = dict(dataset=dict(pipeline={{_base_.aug_fork}}))
