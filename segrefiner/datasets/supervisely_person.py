"""Supervisely Person (the "clean" 2,667-image release): people photos with person masks."""
from mmseg.registry import DATASETS

from .seg_folder import SegFolderDataset


@DATASETS.register_module()
class SuperviselyPersonDataset(SegFolderDataset):
    """Supervisely Person Clean: ``images/`` and ``masks/`` with matching stems.

    .. code-block:: none

        data_root/
        ├── images/*.png|*.jpg
        └── masks/*.png          person masks (0/255 or 0/1)

    Images and masks pair by stem (:class:`SegFolderDataset`'s naming rules); an image without a
    mask or a mask without an image raises ``FileNotFoundError`` naming every such file. Load the
    masks with ``LoadBinaryAnnotations`` (0/1 masks and 0/255 masks both read right).

    Args:
        data_root (str): the folder holding ``images`` and ``masks``.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset` (``pipeline``,
            ``metainfo``, ``indices``, ...; not ``data_prefix``).
    """
    METAINFO = dict(classes=('background', 'person'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self, data_root: str, **kwargs) -> None:
        for key in ('data_prefix', 'split', 'val_split', 'on_missing'):
            if key in kwargs:
                raise ValueError(f'SuperviselyPersonDataset reads images/ and masks/ and takes '
                                 f'no {key}')
        super().__init__(data_root=data_root,
                         data_prefix=dict(img_path='images', seg_map_path='masks'), **kwargs)
