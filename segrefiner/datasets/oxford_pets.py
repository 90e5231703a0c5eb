"""The Oxford-IIIT Pet dataset with its trimaps as 3-class semantic segmentation."""
import os.path as osp
from typing import Dict, List, Optional

import mmengine
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .utils import require_path


@DATASETS.register_module()
class OxfordPetsDataset(BaseSegDataset):
    """Oxford-IIIT Pet (Parkhi et al., 2012): pet / background / border from the trimaps.

    Official layout (``data_root`` defaults to ``data/oxford_pets``)::

        data/oxford_pets/
        ├── images/<name>.jpg
        └── annotations/
            ├── trimaps/<name>.png      # 1 = pet, 2 = background, 3 = border
            ├── trainval.txt            # "<name> <class_id> <species> <breed_id>" per line
            └── test.txt

    Trimap values become class ids through the data items' ``label_map``
    ``{1: 1, 2: 0, 3: 2}``: **0 background, 1 pet, 2 border** (so mmseg's ``LoadAnnotations``
    reads them correctly; ``LoadCheckedAnnotations(valid_values=(1, 2, 3))`` also rejects any
    other value). A ``metainfo`` with a subset of the classes maps the others to 255 on top,
    as in mmseg.

    Lines of the split files are ``<name> <class_id 1-37> <species 1 cat / 2 dog> <breed_id>``;
    blank lines and lines starting with ``#`` are skipped. Every item carries ``img_path``,
    ``seg_map_path``, ``label_map``, ``reduce_zero_label`` (False), ``seg_fields`` and the
    image-level labels ``pet_class_id``, ``species`` ('cat' or 'dog') and ``breed_id``. The
    split file, both folders and every listed image and trimap are checked when the dataset is
    loaded; a missing one raises ``FileNotFoundError`` naming it, a malformed line ``ValueError``
    naming the file and line.

    Args:
        split (str): ``'trainval'`` or ``'test'``; selects ``annotations/<split>.txt`` when
            ``ann_file`` is not given. Defaults to 'trainval'.
        ann_file (str): split file relative to ``data_root``. Defaults to ''
            (``annotations/<split>.txt``).
        data_root (str): dataset root. Defaults to 'data/oxford_pets'.
        data_prefix (dict): image and trimap folders relative to ``data_root``. Defaults to
            ``dict(img_path='images', seg_map_path='annotations/trimaps')``.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset`.

    Examples:
        >>> dataset = OxfordPetsDataset(split='test', pipeline=[
        ...     dict(type='LoadRefineImageFromFile'),
        ...     dict(type='LoadCheckedAnnotations', valid_values=(1, 2, 3)),
        ...     dict(type='PackSegInputs')])
    """
    METAINFO = dict(
        classes=('background', 'pet', 'border'),
        palette=[[0, 0, 0], [220, 20, 60], [255, 255, 255]])
    #: Trimap value → class id (``METAINFO['classes']`` order).
    TRIMAP_TO_CLASS: Dict[int, int] = {1: 1, 2: 0, 3: 2}
    SPLITS = ('trainval', 'test')
    SPECIES = {1: 'cat', 2: 'dog'}

    def __init__(self,
                 split: str = 'trainval',
                 ann_file: str = '',
                 data_root: Optional[str] = 'data/oxford_pets',
                 data_prefix: dict = dict(img_path='images', seg_map_path='annotations/trimaps'),
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'split must be one of {self.SPLITS}, got {split!r}')
        if kwargs.get('reduce_zero_label'):
            raise ValueError('OxfordPetsDataset maps the trimap values itself; '
                             'reduce_zero_label must be False')
        self.split = split
        super().__init__(
            ann_file=ann_file or osp.join('annotations', f'{split}.txt'),
            data_root=data_root,
            data_prefix=data_prefix,
            img_suffix='.jpg',
            seg_map_suffix='.png',
            **kwargs)

    def _trimap_label_map(self) -> Dict[int, int]:
        """Trimap value → label, composed with the class-subset map of ``metainfo``."""
        if self.label_map is None:
            return dict(self.TRIMAP_TO_CLASS)
        return {raw: self.label_map[cls] for raw, cls in self.TRIMAP_TO_CLASS.items()}

    def _parse_line(self, line: str, lineno: int) -> Optional[dict]:
        """``dict(name, pet_class_id, species, breed_id)`` of a split-file line, or None."""
        line = line.strip()
        if not line or line.startswith('#'):
            return None
        fields = line.split()
        try:
            if len(fields) != 4:
                raise ValueError
            class_id, species, breed_id = (int(v) for v in fields[1:])
            if not 1 <= class_id <= 37 or species not in self.SPECIES:
                raise ValueError
        except ValueError:
            raise ValueError(f'{self.ann_file}:{lineno}: expected "<name> <class_id 1-37> '
                             f'<species 1|2> <breed_id>", got {line!r}') from None
        return dict(name=fields[0], pet_class_id=class_id, species=self.SPECIES[species],
                    breed_id=breed_id)

    def load_data_list(self) -> List[dict]:
        """Read the split file and check that every listed image and trimap exists.

        Returns:
            list[dict]: one dict per listed image, in the split file's order.
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', '')
        require_path(self.ann_file, 'Oxford-IIIT Pets split file', self.backend_args)
        require_path(img_dir, 'image folder', self.backend_args, folder=True)
        require_path(ann_dir, 'trimap folder', self.backend_args, folder=True)
        label_map = self._trimap_label_map()
        data_list = []
        lines = mmengine.list_from_file(self.ann_file, backend_args=self.backend_args)
        for lineno, line in enumerate(lines, 1):
            entry = self._parse_line(line, lineno)
            if entry is None:
                continue
            name = entry.pop('name')
            img_path = osp.join(img_dir, name + self.img_suffix)
            seg_map_path = osp.join(ann_dir, name + self.seg_map_suffix)
            require_path(img_path, f'image of {self.ann_file}:{lineno}', self.backend_args)
            require_path(seg_map_path, f'trimap of {self.ann_file}:{lineno}',
                         self.backend_args)
            data_list.append(dict(img_path=img_path, seg_map_path=seg_map_path,
                                  label_map=label_map, reduce_zero_label=False, seg_fields=[],
                                  **entry))
        if not data_list:
            raise ValueError(f'split file {self.ann_file} lists no images')
        return data_list
