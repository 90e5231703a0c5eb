# Test-time augmentation (test only): SegTTAModel over h-flips x scales 0.75, 1, 1.25.
_base_ = ['./unet-tiny-s5-d16_fcn_1xb8-300_synthetic-10shot-64x64-cpu.py']
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
