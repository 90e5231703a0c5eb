"""COCO-Humans: person / background / border segmentation from COCO instance annotations."""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
from mmdet.datasets.api_wrappers import COCO
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .utils import annotation_name, coco_images, load_coco, require_path


@DATASETS.register_module()
class COCOHumansDataset(BaseSegDataset):
    """Images of COCO that show people, with the union of their masks as the person class.

    Layout (COCO 2017, ``data_root`` defaults to ``data/coco``)::

        data/coco/
        ├── annotations/instances_train2017.json   (instances_val2017.json)
        └── train2017/<file_name>                  (val2017/...)

    From the instances JSON (read with the COCO API, mmdet's wrapper of pycocotools) the dataset
    keeps the images with at least one non-crowd ``person`` annotation (category id 1) of
    positive area. Their person annotations travel with each
    item and are rasterised by :class:`LoadCOCOHumansAnnotations` (pycocotools) into
    **0 background, 1 person, 2 border** (a band of half-width ``border_radius``, default 2 px,
    around the person union's contour; crowd regions are ignored).

    Split: the kept image ids, sorted, are permuted by ``numpy.random.default_rng(split_seed)``;
    the first ``round(split_ratio * n)`` (at least 1 and at most n-1 when n >= 2) are
    ``'train'``, the rest ``'val'``; ``'all'`` keeps every image (e.g. to test on
    ``instances_val2017.json``). The split depends only on the JSON and the seed.

    Every item carries ``img_path``, ``img_id``, ``height``, ``width``, ``ann_file``,
    ``person_segmentations``, ``crowd_segmentations``, ``label_map``, ``reduce_zero_label``
    and ``seg_fields``. A missing JSON or image raises ``FileNotFoundError`` naming it; a JSON
    that is not a COCO instances file (unparsable, missing keys, no ``person`` category with id
    1, annotations of unknown images) raises ``ValueError`` naming the file and the problem.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'all'``. Defaults to 'train'.
        ann_file (str): instances JSON relative to ``data_root``. Defaults to
            'annotations/instances_train2017.json'.
        data_root (str): dataset root. Defaults to 'data/coco'.
        data_prefix (dict): image folder (``img_path``) relative to ``data_root``. Defaults to
            ``dict(img_path='train2017')``.
        split_ratio (float): fraction of images in ``'train'``. Defaults to 0.85.
        split_seed (int): seed of the split permutation. Defaults to 0.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=('background', 'person', 'border'),
        palette=[[0, 0, 0], [220, 20, 60], [255, 255, 255]])
    PERSON_CATEGORY_ID = 1
    SPLITS = ('train', 'val', 'all')

    def __init__(self,
                 split: str = 'train',
                 ann_file: str = 'annotations/instances_train2017.json',
                 data_root: Optional[str] = 'data/coco',
                 data_prefix: dict = dict(img_path='train2017'),
                 split_ratio: float = 0.85,
                 split_seed: int = 0,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'split must be one of {self.SPLITS}, got {split!r}')
        if not 0 < split_ratio < 1:
            raise ValueError(f'split_ratio must be in (0, 1), got {split_ratio}')
        classes = (kwargs.get('metainfo') or {}).get('classes')
        if classes is not None and tuple(classes) != self.METAINFO['classes']:
            raise ValueError('COCOHumansDataset builds its 3 classes itself; '
                             'metainfo cannot select a subset of them')
        self.split = split
        self.split_ratio = split_ratio
        self.split_seed = split_seed
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def _load_coco(self) -> COCO:
        """The instances file through the COCO API, with its ``person`` category checked."""
        coco = load_coco(self.ann_file, 'COCO instances file',
                         ('images', 'annotations', 'categories'), self.backend_args)
        person = coco.cats.get(self.PERSON_CATEGORY_ID)
        if person is None or person.get('name') != 'person':
            raise ValueError(f'{self.ann_file} has no "person" category with id '
                             f'{self.PERSON_CATEGORY_ID}')
        return coco

    def _person_annotations(self, coco: COCO) -> Dict[int, dict]:
        """Per image id: ``dict(person=[segmentation...], crowd=[...])`` of its people
        (``load_coco`` has checked that every annotation's image is listed)."""
        people: Dict[int, dict] = defaultdict(lambda: dict(person=[], crowd=[]))
        for ann in coco.loadAnns(coco.getAnnIds(catIds=[self.PERSON_CATEGORY_ID])):
            try:
                image_id, segmentation = ann['image_id'], ann['segmentation']
                crowd = bool(ann.get('iscrowd', 0))
                area = float(ann.get('area', 1))
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f'{annotation_name(coco, ann, self.ann_file)} is not a COCO '
                                 'instance annotation (needs image_id, category_id, '
                                 f'segmentation; {type(error).__name__}: {error})') from None
            if area > 0:
                people[image_id]['crowd' if crowd else 'person'].append(segmentation)
        return people

    def _split_ids(self, image_ids: List[int]) -> List[int]:
        if self.split == 'all':
            return image_ids
        n = len(image_ids)
        num_train = int(round(self.split_ratio * n))
        if n >= 2:
            num_train = min(max(num_train, 1), n - 1)
        order = np.random.default_rng(self.split_seed).permutation(n)
        chosen = order[:num_train] if self.split == 'train' else order[num_train:]
        return [image_ids[i] for i in sorted(chosen)]

    def load_data_list(self) -> List[dict]:
        """Read the instances JSON, keep the images with people and take the split.

        Returns:
            list[dict]: one dict per image, sorted by image id.
        """
        img_dir = self.data_prefix.get('img_path', '')
        require_path(img_dir, 'image folder', self.backend_args, folder=True)
        coco = self._load_coco()
        images = coco_images(coco, self.ann_file)
        people = self._person_annotations(coco)
        with_people = sorted(i for i, p in people.items() if p['person'])
        data_list = []
        for image_id in self._split_ids(with_people):
            image = images[image_id]
            img_path = osp.join(img_dir, image['file_name'])
            require_path(img_path, f'image of {self.ann_file} (id {image_id})',
                         self.backend_args)
            data_list.append(dict(
                img_path=img_path, img_id=image_id, height=image['height'],
                width=image['width'], ann_file=self.ann_file,
                person_segmentations=people[image_id]['person'],
                crowd_segmentations=people[image_id]['crowd'],
                label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                seg_fields=[]))
        return data_list
