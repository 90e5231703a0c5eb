# Test-time augmentation of the fork's Horse-21 model (test only): mmseg's SegTTAModel averages
# the class probabilities over h-flips x scales 0.75, 1, 1.25 (tta_pipeline).
#   python tools/test.py configs/ddpm_features/<this file> work_dirs/.../epoch_100.pth
_base_ = ['./ddpm-features-fork_guided-unet-lsun-horse_1xb2-100e_horse-21-256x256.py']
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
