"""LVIS v1 objects for SegRefiner's LR training.

See ``docs/segrefiner.md``, 'LR training (LVIS objects)' and 'Online and offline coarse masks',
and ``docs/data.md``, 'LVIS v1 and COCO 2017'.
"""
import json
from typing import List

from mmdet.datasets import LVISV1Dataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class LVISRefineDataset(LVISV1Dataset):
    """LVIS v1 images with their objects, for class-agnostic refinement training.

    One item per image that has at least one usable instance; the pipeline's
    :class:`~segrefiner.datasets.transforms.LoadRandomInstanceMask` draws one of them
    uniformly each time the image is loaded, and ``GenerateCoarseMask`` perturbs it online.

    Loading is mmdet's ``LVISV1Dataset`` (the ``lvis`` API; the image file name comes from
    ``coco_url``, e.g. ``train2017/000000391895.jpg``, under ``data_prefix['img']``) with its
    annotation filters — ``ignore`` set, a box that does not overlap the image, width or height
    below 1 px, an unknown category; crowd instances are ignored — plus SegRefiner's area filter:
    instances of area ``<= min_area`` (512 px) are dropped, as are segmentations without a
    polygon of 3 points or an RLE. Category labels are kept in ``instances`` but unused: the
    refiner is class-agnostic (``classes`` are background / foreground).

    Layout (``data_root='data'``)::

        data/
        ├── lvis/annotations/lvis_v1_train.json
        └── coco/train2017/000000xxxxxx.jpg   (val2017/ for lvis_v1_val.json)

    Every item carries ``img_path``, ``img_id``, ``height``, ``width``, ``instances`` (dicts with
    ``mask``, ``bbox`` [x1, y1, x2, y2], ``bbox_label``, ``ignore_flag`` 0), ``ann_file`` and
    ``seg_fields``. A missing annotation file raises ``FileNotFoundError``; a file that is not
    LVIS v1 JSON, or one without any usable instance, raises ``ValueError`` naming it.

    Args:
        ann_file (str): LVIS v1 annotation JSON, relative to ``data_root``. Defaults to
            'lvis/annotations/lvis_v1_train.json'.
        data_root (str): dataset root. Defaults to 'data'.
        data_prefix (dict): image root (``img``) relative to ``data_root``; the ``coco_url``
            path is appended. Defaults to ``dict(img='coco/')``.
        min_area (float): instances with an annotated area ``<= min_area`` are dropped.
            Defaults to 512.
        **kwargs: other arguments of :class:`mmdet.datasets.LVISV1Dataset`.
    """
    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 ann_file: str = 'lvis/annotations/lvis_v1_train.json',
                 data_root: str = 'data',
                 data_prefix: dict = dict(img='coco/'),
                 min_area: float = 512,
                 **kwargs) -> None:
        self.min_area = min_area
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the LVIS annotations (mmdet) with errors that name the file.

        Returns:
            list[dict]: one dict per image.
        """
        try:
            return super().load_data_list()
        except FileNotFoundError as error:
            raise FileNotFoundError(f'LVIS annotation file not found: {self.ann_file}') \
                from error
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
                AssertionError) as error:
            raise ValueError(f'{self.ann_file} is not an LVIS v1 annotation file '
                             f'({type(error).__name__}: {error})') from error

    @staticmethod
    def _has_shape(segmentation) -> bool:
        if isinstance(segmentation, dict):
            return 'counts' in segmentation and 'size' in segmentation
        return isinstance(segmentation, list) and any(len(p) >= 6 for p in segmentation)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """mmdet's parsing of one image, restricted to the usable instances.

        Args:
            raw_data_info (dict): ``raw_img_info`` and ``raw_ann_info`` of one image.

        Returns:
            dict: the data item.
        """
        anns = [ann for ann in raw_data_info['raw_ann_info']
                if ann['area'] > self.min_area and self._has_shape(ann.get('segmentation'))]
        data_info = super().parse_data_info(dict(raw_data_info, raw_ann_info=anns))
        data_info['instances'] = [i for i in data_info['instances']
                                  if not i['ignore_flag'] and 'mask' in i]
        data_info['ann_file'] = self.ann_file
        data_info['seg_fields'] = []
        return data_info

    def filter_data(self) -> List[dict]:
        """Keep the images with at least one usable instance (all of them in test mode)."""
        if self.test_mode:
            return self.data_list
        kept = [info for info in self.data_list if info['instances']]
        if not kept:
            raise ValueError(f'{self.ann_file} has no instance of area > {self.min_area} to '
                             'train on')
        return kept
