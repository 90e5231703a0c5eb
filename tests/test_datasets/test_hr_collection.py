import copy
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmseg.registry import DATASETS, MODELS

from hr_layouts import write_collection
from tiny_models import TINY_DENOISER

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES = {'thin': {'t0': (300, 400)}, 'dis': {'d0': (280, 260), 'd1': (120, 90)}}


@pytest.fixture
def collection(tmp_path):
    return tmp_path, write_collection(tmp_path, SHAPES)


def test_items_follow_the_json(collection):
    root, _ = collection
    dataset = DATASETS.build(dict(type='HRCollectionDataset', data_root=str(root)))
    assert len(dataset) == 3
    infos = [dataset.get_data_info(i) for i in range(3)]
    assert [i['collection'] for i in infos] == ['thin', 'dis', 'dis']
    assert infos[1]['img_path'] == osp.join(root, 'dis/DIS-TR/im/d0.jpg')
    assert infos[1]['seg_map_path'] == osp.join(root, 'dis/DIS-TR/gt/d0.png')
    assert infos[1]['coarse_path'] == osp.join(root, 'dis/DIS-TR/coarse/d0.png')
    assert infos[1]['expand_path'] == osp.join(root, 'dis/DIS-TR/coarse_expand/d0.png')
    assert (infos[1]['height'], infos[1]['width']) == (280, 260)
    only_dis = DATASETS.build(dict(type='HRCollectionDataset', data_root=str(root),
                                   collection_datasets=['dis']))
    assert len(only_dis) == 2


def _rewrite(root, text):
    (root / 'collection_hr.json').write_text(text)


@pytest.mark.parametrize('text, match', [
    ('{"thin": [', 'is not valid JSON'),
    ('[1, 2]', 'must hold a JSON object'),
    ('{"dis": []}', "has no list 'thin'"),
    ('{"thin": [], "dis": []}', 'must be a non-empty list'),
    ('{"thin": [{"filename": "a.jpg"}], "dis": [1]}', r"thin\[0\] lacks the path keys"),
])
def test_bad_json_is_named(collection, text, match):
    root, _ = collection
    _rewrite(root, text)
    with pytest.raises(ValueError, match=match) as info:
        DATASETS.build(dict(type='HRCollectionDataset', data_root=str(root)))
    assert 'collection_hr.json' in str(info.value)


def test_missing_json_and_files_are_named(collection, tmp_path):
    root, data = collection
    with pytest.raises(FileNotFoundError, match='gen_coarse_masks_hr.py'):
        DATASETS.build(dict(type='HRCollectionDataset', data_root=str(tmp_path / 'none')))
    data['dis'][1]['height'] = 0
    _rewrite(root, json.dumps(data))
    with pytest.raises(ValueError, match=r'dis\[1\]: height must be a positive integer'):
        DATASETS.build(dict(type='HRCollectionDataset', data_root=str(root)))
    data['dis'][1]['height'] = 120
    _rewrite(root, json.dumps(data))
    (root / 'dis/DIS-TR/coarse_expand/d1.png').unlink()
    with pytest.raises(FileNotFoundError, match='coarse_expand/d1.png'):
        DATASETS.build(dict(type='HRCollectionDataset', data_root=str(root)))


def _shrink(cfg, size):
    """The config's transforms with the 256 model size replaced by ``size``."""
    if isinstance(cfg, dict):
        out = {}
        for key, value in cfg.items():
            if key == 'scale' and tuple(value) == (256, 256):
                value = (size, size)
            elif key == 'size' and value == 256:
                value = size
            out[key] = _shrink(value, size)
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_shrink(v, size) for v in cfg)
    return cfg


def test_config_pipeline_gives_object_and_native_patch(collection):
    root, _ = collection
    cfg = Config.fromfile(osp.join(ROOT, 'configs/segrefiner/segrefiner_hr.py'))
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(root)
    dataset = DATASETS.build(dataset_cfg)
    item = dataset[0]  # thin/t0: 300x400, large enough for a native 256x256 patch
    obj, patch = item['data_samples']
    assert (obj.view, patch.view) == ('object', 'patch')
    assert [i.shape for i in item['inputs']] == [torch.Size([3, 256, 256])] * 2
    x1, y1, x2, y2 = patch.crop_bbox
    assert (x2 - x1, y2 - y1) == (256, 256)  # native resolution: no resize happened
    assert 0 < patch.gt_sem_seg.data.sum() < 256 * 256
    assert obj.img_path == patch.img_path == osp.join(root, 'thin_object/images/t0.jpg')


def test_both_halves_train_together(collection):
    """Batch of 2 images → 4 examples (object, patch, object, patch), t drawn per example."""
    root, _ = collection
    cfg = Config.fromfile(osp.join(ROOT, 'configs/segrefiner/segrefiner_hr.py'))
    loader_cfg = _shrink(cfg.train_dataloader.to_dict(), 32)
    loader_cfg['dataset']['data_root'] = str(root)
    loader_cfg.update(batch_size=2, num_workers=0, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False))
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batch = next(iter(loader))
    assert [s.view for s in batch['data_samples']] == ['object', 'patch'] * 2
    assert [s.img_path[-6:] for s in batch['data_samples']] == ['t0.jpg'] * 2 + ['d0.jpg'] * 2

    model = MODELS.build(dict(
        type='Refiner',
        data_preprocessor=cfg.model.data_preprocessor,
        decode_head=dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER)))
    diffusion = model.decode_head.diffusion
    drawn = []
    sample_timesteps = diffusion.sample_timesteps

    def record(batch_size, *args, **kwargs):
        t = sample_timesteps(batch_size, *args, **kwargs)
        drawn.append(t)
        return t

    diffusion.sample_timesteps = record
    log_vars = model.train_step(batch, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01)))
    assert torch.isfinite(log_vars['loss'])
    assert len(drawn) == 1 and drawn[0].shape == (4, )  # one independent t per example
