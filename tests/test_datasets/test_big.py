import os.path as osp

import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config
from mmseg.registry import DATASETS

from hr_layouts import write_big

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def big(tmp_path):
    # a path containing "dis": the output name must not depend on it (SegRefiner bug 9.1.7)
    root = tmp_path / 'dis_like' / 'big'
    return root, write_big(root)


def test_items_pair_test_split_with_model_masks(big):
    root, _ = big
    dataset = DATASETS.build(dict(type='BIGDataset', data_root=str(root)))
    assert len(dataset) == 2
    infos = [dataset.get_data_info(i) for i in range(2)]
    assert [osp.relpath(i['img_path'], root) for i in infos] == ['test/bus_im.jpg',
                                                                 'test/lion_im.jpg']
    for info, name in zip(infos, ('bus', 'lion')):
        assert info['seg_map_path'] == osp.join(root, 'test', f'{name}_gt.png')
        assert info['coarse_path'] == osp.join(root, 'coarse', 'deeplab', f'{name}_seg.png')
        assert info['out_name'] == f'{name}_refine.png'


def test_cascadepsp_per_model_folder(big):
    root, _ = big
    folder = 'coarse/deeplab'
    dataset = DATASETS.build(dict(
        type='BIGDataset', data_root=str(root),
        data_prefix=dict(img_path=folder, seg_map_path=folder, coarse_path=folder)))
    assert [dataset.get_data_info(i)['out_name'] for i in range(2)] == ['bus_refine.png',
                                                                        'lion_refine.png']


def test_config_pipeline_packs_out_name_and_masks(big):
    root, arrays = big
    cfg = Config.fromfile(osp.join(ROOT, 'configs/segrefiner/segrefiner_big.py'))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.data_root = str(root)
    dataset = DATASETS.build(dataset_cfg)
    packed = dataset[1]
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 96, 128)
    assert sample.out_name == 'lion_refine.png'
    assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), arrays['lion']['gt'])
    assert np.array_equal(sample.coarse_sem_seg.data[0].numpy(), arrays['lion']['coarse'])


def test_missing_and_mismatched_files_are_named(big):
    root, _ = big
    (root / 'coarse' / 'deeplab' / 'lion_seg.png').unlink()
    with pytest.raises(FileNotFoundError, match='lion_seg.png'):
        DATASETS.build(dict(type='BIGDataset', data_root=str(root)))
    with pytest.raises(FileNotFoundError, match='coarse mask folder not found'):
        DATASETS.build(dict(type='BIGDataset', data_root=str(root),
                            data_prefix=dict(img_path='test', seg_map_path='test',
                                             coarse_path='coarse/psp')))
    cv2.imwrite(str(root / 'coarse' / 'deeplab' / 'lion_seg.png'), np.zeros((10, 10), np.uint8))
    pipeline = Compose([dict(type='LoadRefineImageFromFile'), dict(type='LoadCoarseMask')])
    dataset = DATASETS.build(dict(type='BIGDataset', data_root=str(root), pipeline=pipeline))
    with pytest.raises(ValueError, match='lion_seg.png has size'):
        dataset[1]
