"""Several packed training examples ("views") from one loaded sample."""
import copy
from typing import Dict, List, Optional, Sequence

from mmcv.transforms import BaseTransform, Compose
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiViewPack(BaseTransform):
    """Run one pipeline per view on a copy of the sample and return all packed views.

    HR training makes two examples of every image (``docs/segrefiner.md``, 'HR training (object
    and patch views)'): the object crop
    squashed to the model size and a native-resolution patch. Each view pipeline crops,
    resizes, flips and ends with :class:`PackRefineInputs`; this transform returns their
    outputs as lists, and :func:`multi_view_collate` (``train_dataloader.collate_fn``)
    flattens a batch of B samples into B × V examples, so each view is an ordinary example with
    its own timestep in the same batch. The name of each view is stored in its sample's
    metainfo under ``view``. Like mmdet's ``MultiBranch``, every view works on a deep copy, so
    views never see each other's crops or random draws.

    Required Keys:

    - whatever the view pipelines need (e.g. img, gt_seg_map, coarse_seg_map, seg_fields)

    Output:

    - inputs (list[Tensor]): one (C, H, W) tensor per view
    - data_samples (list[SegDataSample]): one sample per view, metainfo ``view`` = its name

    Args:
        views (dict[str, list[dict]]): view name → transform configs, each list ending with a
            pack transform that returns ``dict(inputs=..., data_samples=...)``.

    Example:
        >>> views = dict(
        ...     object=[dict(type='RandomObjectCrop'),
        ...             dict(type='Resize', scale=(256, 256), keep_ratio=False),
        ...             dict(type='PackRefineInputs')],
        ...     patch=[dict(type='PatchCrop', size=256),
        ...            dict(type='Resize', scale=(256, 256), keep_ratio=False),
        ...            dict(type='PackRefineInputs')])
        >>> transform = MultiViewPack(views=views)
    """

    def __init__(self, views: Dict[str, Sequence[dict]]) -> None:
        if not isinstance(views, dict) or not views:
            raise ValueError(f'views must be a non-empty dict name -> pipeline, got {views!r}')
        self.view_names: List[str] = list(views)
        self.views = [Compose(list(pipeline)) for pipeline in views.values()]

    def transform(self, results: dict) -> Optional[dict]:
        """Apply every view pipeline to its own copy of ``results``.

        Args:
            results (dict): result dict of the loading transforms.

        Returns:
            dict | None: ``inputs`` and ``data_samples``, lists in view order; None if a view
            pipeline returned None (the dataset then draws another sample).
        """
        inputs, data_samples = [], []
        for name, view in zip(self.view_names, self.views):
            packed = view(copy.deepcopy(results))
            if packed is None:
                return None
            if not isinstance(packed, dict) or not {'inputs', 'data_samples'} <= set(packed):
                raise TypeError(f'the {name!r} view pipeline of MultiViewPack must end with a '
                                'pack transform (e.g. PackRefineInputs) returning inputs and '
                                f'data_samples; got {type(packed).__name__}')
            packed['data_samples'].set_metainfo(dict(view=name))
            inputs.append(packed['inputs'])
            data_samples.append(packed['data_samples'])
        return dict(inputs=inputs, data_samples=data_samples)

    def __repr__(self) -> str:
        views = ', '.join(f'{name}={view!r}' for name, view in zip(self.view_names, self.views))
        return f'{self.__class__.__name__}({views})'
