"""A detector's COCO instance results as a refinement test set.

See ``docs/data.md``, 'Detector results to refine', and ``docs/segrefiner.md``, 'Instance mode'.
"""
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import mmengine.fileio as fileio
import pycocotools.mask as mask_utils
from mmdet.datasets import CocoDataset
from mmengine.utils import is_abs
from mmseg.registry import DATASETS

from ..evaluation.instance.coco_results import load_results, segmentation_to_rle
from .utils import coco_images, load_coco, require_path


@DATASETS.register_module()
class CocoRefineDataset(CocoDataset):
    """The instance masks of a results file, grouped by image, to refine.

    ``coarse_file`` is a detector's output in the COCO results format (a list of detections
    with ``image_id``, ``category_id``, ``score``, ``segmentation`` as RLE or polygons, and
    optionally ``bbox`` [x, y, w, h], e.g. mmdet's ``*.segm.json``). The COCO annotation file
    ``ann_file`` gives the images' file names and sizes and the categories: ``classes`` are its
    category names and ``cat_ids`` their ids in label order (both in the dataset's
    ``metainfo``). Only images with at least one detection become items (SegRefiner); they are
    ordered by image id. The annotation file is read with the COCO API (mmdet's
    ``CocoDataset.COCOAPI``, pycocotools); the results file is checked detection by detection
    (:func:`~segrefiner.evaluation.instance.coco_results.check_results`), and the box of a
    detection without one is pycocotools' ``toBbox`` of its RLE.

    Layout (``data_root='data'``)::

        data/
        ├── coco/annotations/instances_val2017.json
        ├── coco/val2017/000000xxxxxx.jpg
        └── coarse_coco/<detector>.segm.json

    Every item carries ``img_path``, ``img_id``, ``height``, ``width``, ``ann_file``,
    ``coarse_file`` and ``instances``: one dict per detection with ``mask`` (the segmentation),
    ``bbox`` [x1, y1, x2, y2] (from the mask when the detection has none), ``bbox_label`` and
    ``score``. Errors name the file and the problem: a missing file or image, invalid JSON, a
    detection without one of the required keys, an image or category id that the annotation
    file does not have, or an RLE whose size is not its image's.

    Args:
        coarse_file (str): results JSON, relative to ``data_root``.
        ann_file (str): COCO annotations (images and categories), relative to ``data_root``.
            Defaults to 'coco/annotations/instances_val2017.json'.
        data_root (str): dataset root. Defaults to 'data'.
        data_prefix (dict): image folder (``img``) relative to ``data_root``. Defaults to
            ``dict(img='coco/val2017/')``.
        test_mode (bool): always a test set. Defaults to True.
        **kwargs: other arguments of :class:`mmdet.datasets.CocoDataset`.
    """
    METAINFO: dict = dict()

    def __init__(self,
                 coarse_file: str,
                 ann_file: str = 'coco/annotations/instances_val2017.json',
                 data_root: str = 'data',
                 data_prefix: dict = dict(img='coco/val2017/'),
                 test_mode: bool = True,
                 **kwargs) -> None:
        if data_root and not is_abs(coarse_file):
            coarse_file = fileio.join_path(data_root, coarse_file)
        self.coarse_file = coarse_file
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         test_mode=test_mode, **kwargs)

    def _read_annotations(self) -> Dict[int, dict]:
        """Images by id from ``ann_file``; sets ``cat_ids``, ``cat2label`` and the metainfo."""
        coco = load_coco(self.ann_file, 'COCO annotation file', ('images', 'categories'),
                         self.backend_args, self.COCOAPI)
        images = coco_images(coco, self.ann_file)
        try:
            categories = sorted((c['id'], c['name']) for c in coco.loadCats(coco.getCatIds()))
        except (KeyError, TypeError) as error:
            raise ValueError(f'{self.ann_file}: categories need id and name ('
                             f'{type(error).__name__}: {error})') from None
        self.cat_ids = [cat_id for cat_id, _ in categories]
        self.cat2label = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}
        self._metainfo.update(classes=tuple(name for _, name in categories),
                              cat_ids=list(self.cat_ids))
        return images

    def load_data_list(self) -> List[dict]:
        """Group the checked detections of ``coarse_file`` by image.

        Returns:
            list[dict]: one dict per image with detections, by image id.
        """
        images = self._read_annotations()
        detections = load_results(self.coarse_file, self.backend_args)
        per_image: Dict[int, List[dict]] = defaultdict(list)
        for index, det in enumerate(detections):
            where = f'{self.coarse_file}: detection #{index}'
            image = images.get(det['image_id'])
            if image is None:
                raise ValueError(f'{where} refers to image id {det["image_id"]}, which is not '
                                 f'in {self.ann_file}')
            if det['category_id'] not in self.cat2label:
                raise ValueError(f'{where} refers to category id {det["category_id"]}, which '
                                 f'is not in {self.ann_file}')
            try:
                rle = segmentation_to_rle(det['segmentation'], image['height'], image['width'])
            except (ValueError, TypeError) as error:
                raise ValueError(f'{where} (image {det["image_id"]}): {error}') from error
            if det.get('bbox') is None:
                x, y, w, h = mask_utils.toBbox(rle).tolist()
            else:
                x, y, w, h = (float(v) for v in det['bbox'])
            per_image[det['image_id']].append(dict(
                mask=det['segmentation'], bbox=[x, y, x + w, y + h],
                bbox_label=self.cat2label[det['category_id']], score=float(det['score'])))
        data_list = []
        for image_id in sorted(per_image):
            image = images[image_id]
            img_path = osp.join(self.data_prefix['img'], image['file_name'])
            require_path(img_path, f'image of {self.ann_file} (id {image_id})',
                         self.backend_args)
            data_list.append(dict(
                img_path=img_path, img_id=image_id, height=image['height'],
                width=image['width'], ann_file=self.ann_file, coarse_file=self.coarse_file,
                instances=per_image[image_id]))
        return data_list

    def filter_data(self) -> List[dict]:
        """All images with detections are kept."""
        return self.data_list
