"""SyntheticRefineDataset on a generated split, through a refinement pipeline."""
import torch

from segrefiner.datasets import SyntheticRefineDataset, generate_synthetic_dataset


def _generate(out, **kwargs):
    args = dict(num_train=4, num_val=2, size=(64, 64), seed=0, progress=False)
    args.update(kwargs)
    return generate_synthetic_dataset(str(out), **args)


def test_dataset_and_pipeline(tmp_path):
    _generate(tmp_path)
    pipeline = [
        dict(type='LoadRefineImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='LoadCoarseMask'),
        dict(type='ObjectCrop', pad=20),
        dict(type='Resize', scale=(48, 48), keep_ratio=False),
        dict(type='PackRefineInputs'),
    ]
    train = SyntheticRefineDataset(data_root=str(tmp_path), pipeline=pipeline)
    val = SyntheticRefineDataset(split='val', data_root=str(tmp_path), use_coarse=False)
    assert len(train) == 4 and len(val) == 2
    assert 'coarse_path' not in val.get_data_info(0)
    out = train[0]
    assert out['inputs'].shape == (3, 48, 48) and out['inputs'].dtype == torch.uint8
    assert out['data_samples'].coarse_sem_seg.data.shape == (1, 48, 48)
