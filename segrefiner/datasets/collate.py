"""Collate function for datasets whose items hold several packed examples (views)."""
from typing import Sequence

from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS


@FUNCTIONS.register_module()
def multi_view_collate(data_batch: Sequence[dict]) -> dict:
    """mmengine's ``pseudo_collate`` after flattening multi-view items.

    An item made by :class:`MultiViewPack` holds ``inputs`` and ``data_samples`` as lists (one
    entry per view); it becomes one example per view, the views of an item adjacent. Ordinary
    items (a single tensor and sample) pass as they are. A batch of B HR items with an object
    and a patch view thus yields 2B examples: ``[obj_0, patch_0, obj_1, patch_1, ...]``.

    Use it as ``train_dataloader = dict(..., collate_fn=dict(type='multi_view_collate'))``.

    Args:
        data_batch (Sequence[dict]): dataset items, each ``dict(inputs, data_samples)``.

    Returns:
        dict: ``inputs`` (list of (C, H, W) tensors) and ``data_samples`` (list of samples).
    """
    examples = []
    for item in data_batch:
        inputs, samples = item['inputs'], item['data_samples']
        if not isinstance(inputs, (list, tuple)):
            examples.append(item)
            continue
        if not isinstance(samples, (list, tuple)) or len(samples) != len(inputs):
            raise ValueError('a multi-view item needs as many data_samples as inputs, got '
                             f'{len(inputs)} inputs and {samples!r}')
        examples.extend(dict(inputs=i, data_samples=s) for i, s in zip(inputs, samples))
    return pseudo_collate(examples)
