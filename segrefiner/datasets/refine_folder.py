"""Dataset of (image, GT mask, coarse mask) triples stored in parallel folders."""
import os.path as osp
from typing import List

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .utils import require_path


@DATASETS.register_module()
class RefineFolderDataset(BaseSegDataset):
    """Binary refinement samples from folders of images, GT masks and coarse masks.

    .. code-block:: none

        data_root/
        ├── images/xxx{img_suffix}
        ├── masks/xxx{seg_map_suffix}        # binary GT (0/1 or 0/255)
        └── coarse/xxx{coarse_suffix}        # binary coarse mask to refine

    Files are paired by their path relative to their folder, minus the suffix (sub-folders are
    allowed). ``ann_file`` may list the names (without suffix) to use, one per line, as in
    :class:`mmseg.datasets.BaseSegDataset`. Leave ``coarse_path`` out of ``data_prefix`` to train
    with online coarse masks (``GenerateCoarseMask``); leave ``seg_map_path`` out for inference
    without GT. Every data item carries ``img_path``, ``seg_map_path`` and ``coarse_path`` when
    the corresponding folder is configured, plus ``label_map``, ``reduce_zero_label`` and
    ``seg_fields`` as in ``BaseSegDataset``.

    All configured folders and every paired file are checked when the dataset is loaded; a
    missing one raises ``FileNotFoundError`` naming it.

    Args:
        data_prefix (dict): folders of the images (``img_path``), GT masks (``seg_map_path``)
            and coarse masks (``coarse_path``), relative to ``data_root``. Defaults to
            ``dict(img_path='images', seg_map_path='masks', coarse_path='coarse')``.
        img_suffix (str): image suffix. Defaults to '.jpg'.
        seg_map_suffix (str): GT mask suffix. Defaults to '.png'.
        coarse_suffix (str): coarse mask suffix. Defaults to '.png'.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks', coarse_path='coarse'),
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 coarse_suffix: str = '.png',
                 **kwargs) -> None:
        self.coarse_suffix = coarse_suffix
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Pair images with their GT and coarse masks and check that all files exist.

        Returns:
            list[dict]: one dict per image, sorted by image path when folders are scanned.
        """
        img_dir = self.data_prefix.get('img_path', '')
        coarse_dir = self.data_prefix.get('coarse_path')
        folders = (('image folder', img_dir),
                   ('GT mask folder', self.data_prefix.get('seg_map_path')),
                   ('coarse mask folder', coarse_dir))
        for what, folder in folders:
            if folder is not None:
                require_path(folder, what, self.backend_args, folder=True)
        if self.ann_file:
            require_path(self.ann_file, 'annotation (split) file', self.backend_args)

        data_list = super().load_data_list()
        if not data_list:
            source = self.ann_file or f'*{self.img_suffix} files in {img_dir}'
            raise FileNotFoundError(f'no images found: {source} is empty')

        name_start = len(osp.join(img_dir, ''))
        for info in data_list:
            if coarse_dir is not None:
                name = info['img_path'][name_start:-len(self.img_suffix)]
                info['coarse_path'] = osp.join(coarse_dir, name + self.coarse_suffix)
            require_path(info['img_path'], 'image file', self.backend_args)
            for key, what in (('seg_map_path', 'GT mask file'),
                              ('coarse_path', 'coarse mask file')):
                if key in info:
                    require_path(info[key], f'{what} for image {info["img_path"]}',
                                 self.backend_args)
        return data_list
