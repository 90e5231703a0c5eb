"""Folder datasets of images and masks (the diffusion-segmentation data layouts).

The pairing of images with masks by the naming rules (:func:`pair_images_with_masks`) and the
seeded train/val partition (:func:`split_pairs`) are shared by :class:`SegFolderDataset` and
``tools/prepare_data.py``.
"""
import math
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .utils import require_path

#: Image file extensions, compared case-insensitively (``.JPG`` is an image).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
#: Mask name suffixes after the image's stem: ``STEM.png``, ``STEM_mask.png``, ``STEM_gt.png``.
MASK_NAME_SUFFIXES = ('', '_mask', '_gt')
#: Extension of the suffixed mask names (the image's own name is also accepted).
MASK_EXTENSION = '.png'
NAMING_RULES = ('a mask is named like its image: STEM.png, STEM_mask.png, STEM_gt.png '
                'or the image\'s own file name')


def is_image_file(path: str) -> bool:
    """Whether ``path`` has one of :data:`IMG_EXTENSIONS` (any case)."""
    return osp.splitext(path)[1].lower() in IMG_EXTENSIONS


def list_image_files(folder: str,
                     backend_args: Optional[dict] = None) -> Tuple[List[str], List[str]]:
    """The image files under ``folder`` (recursively) and the other files.

    Hidden files (names starting with ``.``) are left out of both lists.

    Args:
        folder (str): the folder.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.

    Returns:
        tuple[list[str], list[str]]: sorted paths relative to ``folder`` of the image files
        (extension in :data:`IMG_EXTENSIONS`) and of the other files.
    """
    images, others = [], []
    for rel in sorted(fileio.list_dir_or_file(folder, list_dir=False, recursive=True,
                                              backend_args=backend_args)):
        if osp.basename(rel).startswith('.'):
            continue
        (images if is_image_file(rel) else others).append(rel)
    return images, others


def mask_candidates(image_rel: str) -> List[Tuple[str, str]]:
    """The mask names an image may have, as ``(relative stem, lower-case extension)`` keys.

    Args:
        image_rel (str): image path relative to the image folder, e.g. ``'sub/photo_001.JPG'``.

    Returns:
        list[tuple[str, str]]: e.g. ``[('sub/photo_001', '.png'), ('sub/photo_001_mask', '.png'),
        ('sub/photo_001_gt', '.png'), ('sub/photo_001', '.jpg')]`` (without repeats).
    """
    stem, ext = osp.splitext(image_rel)
    keys = [(stem + suffix, MASK_EXTENSION) for suffix in MASK_NAME_SUFFIXES]
    own = (stem, ext.lower())
    return keys + [own] if own not in keys else keys


@dataclass
class FolderPairs:
    """Images of a folder paired with the masks of another (:func:`pair_images_with_masks`).

    All paths are full paths (folder joined with the relative path), sorted by image path.

    Attributes:
        pairs (list[tuple[str, str]]): ``(image, mask)`` pairs.
        images_without_mask (list[str]): images none of whose mask names exists.
        masks_without_image (list[str]): masks that are no image's mask name.
        ambiguous (list[tuple[str, list[str]]]): images with two or more existing mask names,
            and those masks.
        shared (list[tuple[str, list[str]]]): masks that two or more images name, and those
            images (e.g. ``a.png`` for both ``a.jpg`` and ``a.bmp``).
        not_images (list[str]): files in either folder without an image extension (ignored).
    """
    pairs: List[Tuple[str, str]] = field(default_factory=list)
    images_without_mask: List[str] = field(default_factory=list)
    masks_without_image: List[str] = field(default_factory=list)
    ambiguous: List[Tuple[str, List[str]]] = field(default_factory=list)
    shared: List[Tuple[str, List[str]]] = field(default_factory=list)
    not_images: List[str] = field(default_factory=list)

    def ambiguity_messages(self) -> List[str]:
        """One line per ambiguous image or shared mask, naming all files involved."""
        return ([f'ambiguous masks for image {image}: {", ".join(masks)}'
                 for image, masks in self.ambiguous] +
                [f'mask {mask} is the mask of several images: {", ".join(images)}'
                 for mask, images in self.shared])

    def missing_messages(self) -> List[str]:
        """One line per image without a mask and per mask without an image."""
        return ([f'image without a mask: {path}' for path in self.images_without_mask] +
                [f'mask without an image: {path}' for path in self.masks_without_image])


def pair_images_with_masks(img_dir: str,
                           mask_dir: str,
                           backend_args: Optional[dict] = None) -> FolderPairs:
    """Pair the images of ``img_dir`` with the masks of ``mask_dir`` by the naming rules.

    An image ``REL/STEM.EXT`` (``REL`` a sub-folder path, possibly empty) takes the mask
    ``REL/STEM.png``, ``REL/STEM_mask.png``, ``REL/STEM_gt.png`` or ``REL/STEM.EXT`` in
    ``mask_dir``; extensions match in any case (:func:`mask_candidates`). Data problems are
    reported in the result, never raised, so callers choose to fail or to skip.

    Args:
        img_dir (str): image folder.
        mask_dir (str): mask folder; must differ from ``img_dir``.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.

    Returns:
        FolderPairs: the pairs and every file that could not be paired.

    Raises:
        ValueError: ``img_dir`` and ``mask_dir`` are the same folder.
    """
    if osp.normpath(img_dir) == osp.normpath(mask_dir):
        raise ValueError(f'images and masks must be in different folders, both are {img_dir}')
    images, image_others = list_image_files(img_dir, backend_args)
    masks, mask_others = list_image_files(mask_dir, backend_args)
    result = FolderPairs(not_images=[osp.join(img_dir, p) for p in image_others] +
                         [osp.join(mask_dir, p) for p in mask_others])

    masks_by_key: Dict[Tuple[str, str], List[str]] = {}
    for rel in masks:
        stem, ext = osp.splitext(rel)
        masks_by_key.setdefault((stem, ext.lower()), []).append(rel)

    found: Dict[str, List[str]] = {}  # image -> existing masks
    claims: Dict[str, List[str]] = {}  # mask -> images naming it
    for image in images:
        candidates = [m for key in mask_candidates(image) for m in masks_by_key.get(key, [])]
        found[image] = candidates
        for mask in candidates:
            claims.setdefault(mask, []).append(image)

    shared = {mask: names for mask, names in claims.items() if len(names) > 1}
    for image in images:
        candidates = found[image]
        if not candidates:
            result.images_without_mask.append(osp.join(img_dir, image))
        elif len(candidates) > 1:
            result.ambiguous.append((osp.join(img_dir, image),
                                     [osp.join(mask_dir, m) for m in candidates]))
        elif candidates[0] not in shared:
            result.pairs.append((osp.join(img_dir, image), osp.join(mask_dir, candidates[0])))
    result.shared = [(osp.join(mask_dir, mask), [osp.join(img_dir, i) for i in names])
                     for mask, names in sorted(shared.items())]
    result.masks_without_image = [osp.join(mask_dir, m) for m in masks if m not in claims]
    return result


def split_pairs(items: Sequence, val_split: float, seed: int) -> Tuple[list, list]:
    """A seeded train/val partition of ``items``.

    ``round(len(items) * val_split)`` items (at least 1, and at least 1 left for training)
    drawn by ``np.random.default_rng(seed).permutation`` go to val; both parts keep the order of
    ``items``. The same items, fraction and seed always give the same parts, so a train and a
    val dataset built with the same arguments are disjoint and together hold every item.

    Args:
        items (Sequence): the items, in a fixed order (e.g. sorted image paths).
        val_split (float): fraction of the items for validation, in (0, 1).
        seed (int): seed of the partition.

    Returns:
        tuple[list, list]: the train items and the val items.

    Raises:
        ValueError: ``val_split`` is not in (0, 1), or there are fewer than 2 items.
    """
    if not 0 < val_split < 1:
        raise ValueError(f'val_split must be in (0, 1), got {val_split!r}')
    num = len(items)
    if num < 2:
        raise ValueError(f'cannot split {num} item(s) into train and val')
    num_val = int(math.floor(round(num * val_split, 6) + 0.5))
    num_val = min(max(num_val, 1), num - 1)
    val_index = set(np.random.default_rng(seed).permutation(num)[:num_val].tolist())
    train = [item for i, item in enumerate(items) if i not in val_index]
    val = [item for i, item in enumerate(items) if i in val_index]
    return train, val


@DATASETS.register_module()
class SegFolderDataset(BaseSegDataset):
    """Images and masks in folders, paired by file name (the diffusion-segmentation layouts).

    .. code-block:: none

        data_root/                          data_root/
        ├── images/                         ├── train/
        │   ├── photo_001.jpg               │   ├── images/train_001.jpg
        │   └── IMG_123.PNG                 │   └── masks/train_001.png
        └── masks/                          └── val/
            ├── photo_001.png                   ├── images/val_001.jpg
            └── IMG_123_mask.png                └── masks/val_001.png

    Images are JPG, JPEG, PNG, BMP or TIFF files (extensions in any case, sub-folders allowed);
    a mask is named like its image: ``STEM.png``, ``STEM_mask.png``, ``STEM_gt.png`` or the image's
    own file name (:func:`pair_images_with_masks`). Binary masks are grey 0-255 images loaded
    by ``LoadThresholdedAnnotations`` (foreground ``>= threshold``, default 128); with a custom
    class list in ``metainfo`` the mask values are the class indices (load them with mmseg's
    ``LoadAnnotations``).

    Which files are used:

    - ``split=None``: every pair of the ``data_prefix`` folders.
    - ``split='train'|'val'`` and a folder ``data_root/<split>`` (pre-split layout): the pairs of
      ``data_root/<split>/<data_prefix>``; ``val_split`` must be None.
    - ``split='train'|'val'`` and ``val_split`` set: the part of a seeded partition of all pairs
      (:func:`split_pairs` with ``split_seed``), so the train and val datasets built with the
      same arguments are disjoint and cover all pairs.
    - ``split='train'`` without ``val_split`` nor a ``train`` folder: every pair (no validation);
      ``split='val'`` there is an error.

    An image without a mask or a mask without an image raises ``FileNotFoundError`` listing
    every such file (``on_missing='error'``), or is left out with a warning naming the file
    (``on_missing='skip'``). Two existing mask names for one image, or one mask named by two
    images, always raise ``ValueError`` naming all the files. Files without an image extension
    are left out with a warning. Without ``seg_map_path`` in ``data_prefix`` the dataset lists
    the images alone (inference).

    Every data item carries ``img_path``, ``seg_map_path`` (with masks), ``label_map``,
    ``reduce_zero_label`` (False) and ``seg_fields`` as in ``BaseSegDataset``.

    Args:
        data_root (str, optional): dataset root. Defaults to None.
        data_prefix (dict): image (``img_path``) and mask (``seg_map_path``) folders, relative
            to ``data_root`` (or absolute). Defaults to
            ``dict(img_path='images', seg_map_path='masks')``.
        split (str, optional): None, 'train' or 'val' (see above). Defaults to None.
        val_split (float, optional): fraction of the pairs for validation when the data is not
            pre-split, in (0, 1). Defaults to None (no partition).
        split_seed (int): seed of the partition. Defaults to 0.
        on_missing (str): 'error' or 'skip' (see above). Defaults to 'error'.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset` (``metainfo``,
            ``pipeline``, ``test_mode``, ...; not ``ann_file`` nor the suffixes).

    Examples:
        >>> train = SegFolderDataset(data_root='data/my_set', split='train', val_split=0.2,
        ...                          pipeline=[dict(type='LoadRefineImageFromFile'),
        ...                                    dict(type='LoadThresholdedAnnotations'),
        ...                                    dict(type='PackSegInputs')])
    """
    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])
    SPLITS = ('train', 'val')
    ON_MISSING = ('error', 'skip')

    def __init__(self,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path='images', seg_map_path='masks'),
                 split: Optional[str] = None,
                 val_split: Optional[float] = None,
                 split_seed: int = 0,
                 on_missing: str = 'error',
                 **kwargs) -> None:
        for key in ('ann_file', 'img_suffix', 'seg_map_suffix'):
            if key in kwargs:
                raise ValueError(f'SegFolderDataset pairs files by its naming rules and takes '
                                 f'no {key}')
        if split is not None and split not in self.SPLITS:
            raise ValueError(f'split must be None or one of {self.SPLITS}, got {split!r}')
        if on_missing not in self.ON_MISSING:
            raise ValueError(f'on_missing must be one of {self.ON_MISSING}, got {on_missing!r}')
        if kwargs.get('reduce_zero_label'):
            raise ValueError('SegFolderDataset: reduce_zero_label must be False')
        if val_split is not None:
            if split is None:
                raise ValueError('val_split partitions the pairs into the train and val '
                                 "splits: set split='train' or 'val' too")
            if isinstance(val_split, bool) or not 0 < val_split < 1:
                raise ValueError(f'val_split must be in (0, 1), got {val_split!r}')
        metainfo = kwargs.get('metainfo') or {}
        self._palette_given = 'palette' in metainfo
        self.split = split
        self.val_split = val_split
        self.split_seed = split_seed
        self.on_missing = on_missing
        self.pre_split = (split is not None and data_root is not None
                          and all(not osp.isabs(p) for p in data_prefix.values())
                          and fileio.isdir(osp.join(data_root, split),
                                           backend_args=kwargs.get('backend_args')))
        if self.pre_split:
            if val_split is not None:
                raise ValueError(f'{data_root} is pre-split (it has a {split}/ folder): '
                                 'val_split must be None')
            data_prefix = {key: osp.join(split, path) for key, path in data_prefix.items()}
        elif split == 'val' and val_split is None:
            raise ValueError(f"no validation data for split='val': {data_root} has no val/ "
                             'folder and val_split is not set')
        super().__init__(data_root=data_root, data_prefix=data_prefix, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> Optional[Dict[int, int]]:
        """mmseg's label map for a subset of ``('background', 'foreground')``; None for another
        class list (multi-class masks whose values are the class indices)."""
        if new_classes is not None and not set(new_classes) <= set(cls.METAINFO['classes']):
            return None
        return super().get_label_map(new_classes)

    def _update_palette(self) -> list:
        """mmseg's palette update; a custom class list without a palette gets mmseg's seeded
        random palette instead of the binary one."""
        if (self.label_map is None and not self._palette_given
                and len(self._metainfo.get('palette', [])) != len(self._metainfo['classes'])):
            self._metainfo['palette'] = []
        return super()._update_palette()

    def _report_missing(self, pairs: FolderPairs) -> None:
        """Raise on ambiguity; raise or warn on unpaired files; warn on non-image files."""
        ambiguous = pairs.ambiguity_messages()
        if ambiguous:
            raise ValueError('\n'.join(ambiguous + [f'({NAMING_RULES}; keep one mask per '
                                                    'image)']))
        missing = pairs.missing_messages()
        if missing and self.on_missing == 'error':
            raise FileNotFoundError('\n'.join(missing + [
                f"({NAMING_RULES}; set on_missing='skip' to leave such files out)"]))
        for message in missing:
            warnings.warn(f'SegFolderDataset: {message} (skipped)')
        for path in pairs.not_images:
            warnings.warn(f'SegFolderDataset: {path} is not an image file '
                          f'({", ".join(IMG_EXTENSIONS)}); ignored')

    def load_data_list(self) -> List[dict]:
        """Pair the images with their masks and select the split.

        Returns:
            list[dict]: one dict per image, sorted by image path.
        """
        img_dir = self.data_prefix.get('img_path', '')
        mask_dir = self.data_prefix.get('seg_map_path')
        require_path(img_dir, 'image folder', self.backend_args, folder=True)
        if mask_dir is None:
            images, others = list_image_files(img_dir, self.backend_args)
            self._report_missing(FolderPairs(not_images=[osp.join(img_dir, p) for p in others]))
            items = [(osp.join(img_dir, p), None) for p in images]
        else:
            require_path(mask_dir, 'mask folder', self.backend_args, folder=True)
            pairs = pair_images_with_masks(img_dir, mask_dir, self.backend_args)
            self._report_missing(pairs)
            items = pairs.pairs
        if not items:
            raise FileNotFoundError(f'no images with masks found in {img_dir}'
                                    if mask_dir else f'no images found in {img_dir}')
        if self.val_split is not None:
            train, val = split_pairs(items, self.val_split, self.split_seed)
            items = train if self.split == 'train' else val

        data_list = []
        for img_path, seg_map_path in items:
            info = dict(img_path=img_path, label_map=self.label_map,
                        reduce_zero_label=False, seg_fields=[])
            if seg_map_path is not None:
                info['seg_map_path'] = seg_map_path
            data_list.append(info)
        return data_list
