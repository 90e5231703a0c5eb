"""P3M-10k: privacy-preserving portrait matting (Li et al. 2021), read as person segmentation."""
from mmseg.registry import DATASETS

from .seg_folder import SegFolderDataset


@DATASETS.register_module()
class P3M10kDataset(SegFolderDataset):
    """The P3M-10k release: face-blurred portraits with alpha mattes.

    .. code-block:: none

        data_root/
        ├── train/
        │   ├── blurred_image/*.jpg          9,421 face-blurred portraits
        │   ├── mask/*.png                   their alpha mattes (0-255)
        │   └── fg/, bg/, ...                ignored
        └── validation/
            ├── P3M-500-P/{blurred_image, mask, trimap}/    500 blurred portraits
            └── P3M-500-NP/{original_image, mask, trimap}/  500 portraits, not blurred

    ``split`` selects the image and mask folders (:data:`SPLIT_FOLDERS`); images and masks
    pair by stem (``STEM.jpg`` with ``STEM.png``, :class:`SegFolderDataset`'s naming rules).
    An image without a mask or a mask without an image raises ``FileNotFoundError`` naming every
    such file; other folders (``fg``, ``bg``, ``trimap``) are not read. The masks are alpha
    mattes: load them with ``LoadThresholdedAnnotations(threshold=128)`` (person where
    alpha >= 128; another threshold is the transform's argument).

    Args:
        data_root (str): the release's root folder (holding ``train`` and ``validation``).
        split (str): 'train', 'P3M-500-P' or 'P3M-500-NP'. Defaults to 'train'.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset` (``pipeline``,
            ``metainfo``, ``test_mode``, ``indices``, ...; not ``data_prefix``).

    Examples:
        >>> val = P3M10kDataset('data/P3M-10k', split='P3M-500-NP',
        ...                     pipeline=[dict(type='LoadRefineImageFromFile'),
        ...                               dict(type='LoadThresholdedAnnotations'),
        ...                               dict(type='PackSegInputs')])
    """
    METAINFO = dict(classes=('background', 'person'), palette=[[0, 0, 0], [255, 255, 255]])
    #: split → (image folder, mask folder), relative to ``data_root``.
    SPLIT_FOLDERS = {
        'train': ('train/blurred_image', 'train/mask'),
        'P3M-500-P': ('validation/P3M-500-P/blurred_image', 'validation/P3M-500-P/mask'),
        'P3M-500-NP': ('validation/P3M-500-NP/original_image', 'validation/P3M-500-NP/mask'),
    }

    def __init__(self, data_root: str, split: str = 'train', **kwargs) -> None:
        if split not in self.SPLIT_FOLDERS:
            raise ValueError(f'P3M10kDataset: split must be one of {tuple(self.SPLIT_FOLDERS)}, '
                             f'got {split!r}')
        for key in ('data_prefix', 'val_split', 'on_missing'):
            if key in kwargs:
                raise ValueError(f'P3M10kDataset reads the release layout and takes no {key}')
        img_dir, mask_dir = self.SPLIT_FOLDERS[split]
        super().__init__(data_root=data_root,
                         data_prefix=dict(img_path=img_dir, seg_map_path=mask_dir), **kwargs)
        self.split = split
