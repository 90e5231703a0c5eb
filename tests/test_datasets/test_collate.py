import pytest
import torch
from mmengine.registry import FUNCTIONS
from mmseg.structures import SegDataSample

from segrefiner.datasets import multi_view_collate


def _item(tag, views=2):
    inputs = [torch.full((3, 4, 4), tag * 10 + v) for v in range(views)]
    samples = [SegDataSample(metainfo=dict(tag=(tag, v))) for v in range(views)]
    return dict(inputs=inputs, data_samples=samples)


def test_flattens_views_in_item_order():
    assert FUNCTIONS.get('multi_view_collate') is multi_view_collate
    batch = multi_view_collate([_item(1), _item(2)])
    assert [int(i[0, 0, 0]) for i in batch['inputs']] == [10, 11, 20, 21]
    assert [s.tag for s in batch['data_samples']] == [(1, 0), (1, 1), (2, 0), (2, 1)]


def test_plain_items_pass_and_bad_items_are_rejected():
    plain = dict(inputs=torch.zeros(3, 4, 4), data_samples=SegDataSample(metainfo=dict(tag=0)))
    batch = multi_view_collate([plain, _item(1)])
    assert len(batch['inputs']) == len(batch['data_samples']) == 3
    bad = _item(1)
    bad['data_samples'] = bad['data_samples'][:1]
    with pytest.raises(ValueError, match='as many data_samples as inputs'):
        multi_view_collate([bad])
