"""DIS-5K test and validation sets with a segmentation model's coarse masks.

See ``docs/data.md``, 'DIS-5K'.
"""
import os.path as osp
from typing import List, Sequence

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .utils import require_path

#: The DIS-5K evaluation sets.
DIS_SETS = ('DIS-TE1', 'DIS-TE2', 'DIS-TE3', 'DIS-TE4', 'DIS-VD')


@DATASETS.register_module()
class DISDataset(BaseSegDataset):
    """DIS-5K (dichotomous image segmentation) evaluation sets, refined from coarse masks.

    .. code-block:: none

        data/dis/
        ├── DIS-VD/im/<name>.jpg,  DIS-VD/gt/<name>.png
        ├── DIS-TE1/im/<name>.jpg, DIS-TE1/gt/<name>.png   (… DIS-TE4; DIS-TR for training)
        └── coarse/<model>/<set>/<name>.png                  # e.g. coarse/isnet/DIS-TE1/

    Items are listed set by set, in the order of ``sets``, and by name within a set. Each
    carries ``dis_set`` and ``out_name = '<set>/<name>.png'``, the file ``tools/test.py --out
    DIR`` writes, so ``DIR/<set>`` is what ``scripts/eval_miou_dis.py --refine`` reads. The set
    comes from the dataset, never from the path (SegRefiner guesses DIS from a ``'dis'``
    substring in it). Every folder and file is checked when the dataset is loaded; a missing one
    raises ``FileNotFoundError`` naming it.

    Args:
        sets (Sequence[str]): the sets to load, folders under ``data_root``. Defaults to the four
            test sets and the validation set.
        coarse_root (str): folder of the coarse masks, one sub-folder per set, relative to
            ``data_root``. Defaults to ``'coarse/isnet'``.
        img_dir (str): image folder inside a set. Defaults to 'im'.
        seg_map_dir (str, optional): GT folder inside a set; None to test without GT.
            Defaults to 'gt'.
        img_suffix (str): image suffix. Defaults to '.jpg'.
        seg_map_suffix (str): GT suffix. Defaults to '.png'.
        coarse_suffix (str): coarse mask suffix. Defaults to '.png'.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset` (``data_root``,
            ``pipeline``, ``test_mode``, ...).
    """
    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 sets: Sequence[str] = DIS_SETS,
                 coarse_root: str = 'coarse/isnet',
                 img_dir: str = 'im',
                 seg_map_dir: str = 'gt',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 coarse_suffix: str = '.png',
                 **kwargs) -> None:
        if isinstance(sets, str) or not sets:
            raise ValueError(f'sets must be a non-empty sequence of set names, got {sets!r}')
        self.sets = tuple(sets)
        self.coarse_root = coarse_root
        self.img_dir = img_dir
        self.seg_map_dir = seg_map_dir
        self.coarse_suffix = coarse_suffix
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def _path(self, *parts: str) -> str:
        return osp.join(self.data_root or '', *parts)

    def load_data_list(self) -> List[dict]:
        """List every set's images with their GT and coarse masks.

        Returns:
            list[dict]: one dict per image with ``img_path``, ``seg_map_path`` (with GT),
            ``coarse_path``, ``dis_set`` and ``out_name``.
        """
        data_list = []
        for dis_set in self.sets:
            img_dir = self._path(dis_set, self.img_dir)
            seg_dir = None if self.seg_map_dir is None else self._path(dis_set, self.seg_map_dir)
            coarse_dir = self._path(self.coarse_root, dis_set)
            require_path(img_dir, f'{dis_set} image folder', self.backend_args, folder=True)
            if seg_dir is not None:
                require_path(seg_dir, f'{dis_set} GT folder', self.backend_args, folder=True)
            require_path(coarse_dir, f'{dis_set} coarse mask folder', self.backend_args,
                         folder=True)
            files = sorted(fileio.list_dir_or_file(
                img_dir, list_dir=False, suffix=self.img_suffix, recursive=False,
                backend_args=self.backend_args))
            if not files:
                raise FileNotFoundError(f'no *{self.img_suffix} images in {img_dir}')
            for file in files:
                name = file[:-len(self.img_suffix)]
                info = dict(
                    img_path=osp.join(img_dir, file),
                    coarse_path=osp.join(coarse_dir, name + self.coarse_suffix),
                    dis_set=dis_set,
                    out_name=f'{dis_set}/{name}.png',
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[])
                require_path(info['coarse_path'], f'coarse mask file for image {info["img_path"]}',
                             self.backend_args)
                if seg_dir is not None:
                    info['seg_map_path'] = osp.join(seg_dir, name + self.seg_map_suffix)
                    require_path(info['seg_map_path'],
                                 f'GT mask file for image {info["img_path"]}', self.backend_args)
                data_list.append(info)
        return data_list
