"""Memory-mapped training data: images and masks resized once and stored as float16 maps.

The files (written by ``tools/dataset_converters/build_memmap.py``) for a stem such as
``train_640_fp16``:

- ``train_640_fp16_images.mmap``: (N, H, W, 3) float16, RGB, values in [0, 1] (uint8 / 255);
- ``train_640_fp16_masks.mmap``: (N, H, W) float16, the label of each pixel (0/1 for binary
  masks; the ignore index stays 255);
- ``train_640_fp16.json``: the header (:func:`read_header`): format, shape, dtype and file of
  each map, the classes, and the source image and mask of every sample.

The header is written last: a stem without one is not a complete set of maps.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .transforms.label_loading import apply_label_map
from .transforms.loading import add_seg_field

#: ``format`` of the header written by the converter.
MEMMAP_FORMAT = 'segrefiner-memmap-seg-v1'


def memmap_stem(split: str, size: Tuple[int, int]) -> str:
    """The file stem of a split at (H, W): ``train_640_fp16`` (square) or ``train_480x640_fp16``."""
    height, width = size
    side = str(height) if height == width else f'{height}x{width}'
    return f'{split}_{side}_fp16'


def memmap_files(root: str, stem: str) -> Dict[str, str]:
    """Paths of the header (``header``) and the maps (``images``, ``masks``) of ``stem``."""
    return dict(header=osp.join(root, f'{stem}.json'),
                images=osp.join(root, f'{stem}_images.mmap'),
                masks=osp.join(root, f'{stem}_masks.mmap'))


def read_header(path: str) -> dict:
    """Read and check a memmap header.

    Args:
        path (str): the ``{stem}.json`` file.

    Returns:
        dict: the header: ``format``, ``num_samples``, ``size`` (H, W), ``images`` and ``masks``
        (each ``file`` (name beside the header), ``shape``, ``dtype``), ``classes`` and
        ``sources`` (one ``{'img_path', 'seg_map_path'}`` per sample).

    Raises:
        FileNotFoundError: no header (the maps were never completed).
        ValueError: not a header of this format, or inconsistent.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'memmap header not found: {path} (build the maps with '
                                'tools/dataset_converters/build_memmap.py; a run that did not '
                                'finish writes no header)')
    try:
        with open(path, encoding='utf-8') as f:
            header = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f'{path} is not a readable memmap header ({error})') from error
    if not isinstance(header, dict) or header.get('format') != MEMMAP_FORMAT:
        raise ValueError(f'{path} is not a memmap header of format {MEMMAP_FORMAT}')
    num = header['num_samples']
    height, width = header['size']
    expected = dict(images=[num, height, width, 3], masks=[num, height, width])
    for key, shape in expected.items():
        if list(header[key]['shape']) != shape:
            raise ValueError(f'{path}: {key} shape {header[key]["shape"]} is not {shape}')
    if len(header['sources']) != num:
        raise ValueError(f'{path}: {len(header["sources"])} sources for {num} samples')
    return header


def open_maps(header_path: str, header: dict) -> Tuple[np.memmap, np.memmap]:
    """The (images, masks) maps of a header, read-only.

    Raises:
        FileNotFoundError: a map file is missing.
        ValueError: a map file's size is not its header's shape × dtype (e.g. truncated).
    """
    root = osp.dirname(header_path)
    maps = []
    for key in ('images', 'masks'):
        info = header[key]
        path = osp.join(root, info['file'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'memmap file not found: {path} (named by {header_path})')
        dtype = np.dtype(info['dtype'])
        expected = int(np.prod(info['shape'])) * dtype.itemsize
        if osp.getsize(path) != expected:
            raise ValueError(f'{path} has {osp.getsize(path)} bytes, its header {header_path} '
                             f'says {info["shape"]} {dtype} = {expected} bytes')
        maps.append(np.memmap(path, dtype=dtype, mode='r', shape=tuple(info['shape'])))
    return maps[0], maps[1]


@DATASETS.register_module()
class MemmapSegDataset(BaseSegDataset):
    """Samples read from memory-mapped float16 images and masks (the format above).

    Each sample enters the pipeline as if loaded from files and resized: ``img`` (H, W, 3)
    uint8 BGR (``round(value * 255)``, the values of the resized source image), ``gt_seg_map``
    (H, W) uint8 labels, ``img_shape`` = ``ori_shape`` = the maps' (H, W), ``img_path`` and
    ``seg_map_path`` of its source files. The pipeline therefore starts after the loaders and
    the resize (flips, photometric changes, ``PackSegInputs``).

    The maps are opened on the first sample a process reads (each dataloader worker opens them
    once) and are never loaded whole. The classes are the header's unless ``metainfo`` gives
    them.

    Args:
        header (str): the ``{stem}.json`` header, relative to ``data_root`` or absolute.
        data_root (str, optional): folder of the maps. Defaults to None.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset` (``pipeline``,
            ``metainfo``, ``indices``, ...).
    """
    METAINFO: dict = dict()

    def __init__(self, header: str, data_root: Optional[str] = None, **kwargs) -> None:
        self.header_path = header if data_root is None or osp.isabs(header) \
            else osp.join(data_root, header)
        self._maps: Optional[Tuple[np.memmap, np.memmap]] = None
        self._maps_pid: Optional[int] = None
        if kwargs.get('metainfo') is None:
            kwargs['metainfo'] = dict(classes=tuple(read_header(self.header_path)['classes']))
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        """One item per sample of the header: ``memmap_row`` (its row in the maps) and its
        source files."""
        header = read_header(self.header_path)
        return [dict(memmap_row=i, img_path=source['img_path'],
                     seg_map_path=source['seg_map_path'], label_map=self.label_map,
                     reduce_zero_label=False, seg_fields=[])
                for i, source in enumerate(header['sources'])]

    def maps(self) -> Tuple[np.memmap, np.memmap]:
        """The (images, masks) maps, opened once per process."""
        if self._maps is None or self._maps_pid != os.getpid():
            self._maps = open_maps(self.header_path, read_header(self.header_path))
            self._maps_pid = os.getpid()
        return self._maps

    def load_sample(self, row: int) -> Tuple[np.ndarray, np.ndarray]:
        """Row ``row`` of the maps as (H, W, 3) uint8 BGR and (H, W) uint8 labels."""
        images, masks = self.maps()
        rgb = images[row].astype(np.float32)
        img = np.rint(rgb[..., ::-1] * 255).clip(0, 255).astype(np.uint8)
        label = np.rint(masks[row].astype(np.float32)).astype(np.uint8)
        return img, label

    def prepare_data(self, idx: int):
        """The pipeline applied to sample ``idx`` read from the maps."""
        results = self.get_data_info(idx)
        img, label = self.load_sample(results['memmap_row'])
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                       gt_seg_map=apply_label_map(label, results['label_map']))
        add_seg_field(results, 'gt_seg_map')
        return self.pipeline(results)

    def __getstate__(self) -> dict:
        """Pickled (e.g. into spawned workers) without the open maps."""
        state = self.__dict__.copy()
        state['_maps'] = state['_maps_pid'] = None
        return state
