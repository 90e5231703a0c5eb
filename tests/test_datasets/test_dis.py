import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from hr_layouts import write_dis

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def dis(tmp_path):
    root = tmp_path / 'dis'
    return root, write_dis(root)


def test_items_in_set_order_with_set_output_names(dis):
    root, _ = dis
    dataset = DATASETS.build(dict(type='DISDataset', data_root=str(root),
                                  sets=('DIS-VD', 'DIS-TE1')))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(i['dis_set'], i['out_name']) for i in infos] == [
        ('DIS-VD', 'DIS-VD/2#Aircraft#5.png'), ('DIS-VD', 'DIS-VD/2#Aircraft#7.png'),
        ('DIS-TE1', 'DIS-TE1/1#Accessories#1.png')]
    info = infos[-1]
    assert info['img_path'] == osp.join(root, 'DIS-TE1', 'im', '1#Accessories#1.jpg')
    assert info['seg_map_path'] == osp.join(root, 'DIS-TE1', 'gt', '1#Accessories#1.png')
    assert info['coarse_path'] == osp.join(root, 'coarse', 'isnet', 'DIS-TE1',
                                           '1#Accessories#1.png')


def test_config_pipeline(dis):
    root, arrays = dis
    cfg = Config.fromfile(osp.join(ROOT, 'configs/segrefiner/segrefiner_dis.py'))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=str(root), sets=('DIS-TE1', 'DIS-VD'))
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 3
    sample = dataset[0]['data_samples']
    assert sample.out_name == 'DIS-TE1/1#Accessories#1.png'
    expected = arrays['DIS-TE1']['1#Accessories#1']
    assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), expected['gt'])
    assert np.array_equal(sample.coarse_sem_seg.data[0].numpy(), expected['coarse'])


def test_without_gt(dis):
    root, _ = dis
    dataset = DATASETS.build(dict(type='DISDataset', data_root=str(root), sets=('DIS-VD', ),
                                  seg_map_dir=None))
    assert len(dataset) == 2 and 'seg_map_path' not in dataset.get_data_info(0)


def test_errors_name_the_missing_part(dis):
    root, _ = dis
    with pytest.raises(FileNotFoundError, match='DIS-TE2 image folder not found'):
        DATASETS.build(dict(type='DISDataset', data_root=str(root)))
    with pytest.raises(FileNotFoundError, match='DIS-VD coarse mask folder not found'):
        DATASETS.build(dict(type='DISDataset', data_root=str(root), sets=('DIS-VD', ),
                            coarse_root='coarse/u2net'))
    (root / 'coarse' / 'isnet' / 'DIS-VD' / '2#Aircraft#7.png').unlink()
    with pytest.raises(FileNotFoundError, match='2#Aircraft#7.png'):
        DATASETS.build(dict(type='DISDataset', data_root=str(root), sets=('DIS-VD', )))
    with pytest.raises(ValueError, match='sequence of set names'):
        DATASETS.build(dict(type='DISDataset', data_root=str(root), sets='DIS-VD'))
