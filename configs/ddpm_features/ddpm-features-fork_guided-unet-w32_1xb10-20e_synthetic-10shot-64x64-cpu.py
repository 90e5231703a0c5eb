# The fork's recipe on the CPU: the labelled images augmented before feature extraction (a new
# draw every epoch), AdamW (weight decay 0.01) and dropout 0.1 in the MLPs.
_base_ = ['./ddpm-features_guided-unet-w32_1xb10-20e_synthetic-10shot-64x64-cpu.py']
model = dict(classifier=dict(dropout=0.1))
train_dataloader = dict(dataset=dict(pipeline={{_base_.aug_fork}}))
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=1e-2))
