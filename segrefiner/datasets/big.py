"""BIG, CascadePSP's 2K-5K px semantic refinement benchmark, for testing (docs/data.md, 'BIG')."""
import os.path as osp
from typing import List

from mmseg.registry import DATASETS

from .refine_folder import RefineFolderDataset


@DATASETS.register_module()
class BIGDataset(RefineFolderDataset):
    """BIG: 150 high-resolution images (50 val, 100 test) with the coarse masks of four models.

    Files are named by a common ``<name>``:

    .. code-block:: none

        data/big/
        ├── val/<name>_im.jpg, <name>_gt.png
        ├── test/<name>_im.jpg, <name>_gt.png
        └── coarse/<model>/<name>_seg.png      # model: fcn, deeplab, refinenet, psp

    CascadePSP also distributes each model's coarse masks as a folder holding all three files
    per name side by side (what SegRefiner's ``data_root='data/big/coarse/deeplab'`` reads);
    point all three ``data_prefix`` entries at that folder to use it. Images are found by
    ``img_suffix``, their GT and coarse masks by replacing it with ``seg_map_suffix`` and
    ``coarse_suffix``; every file is checked when the dataset is loaded.

    Each data item carries ``out_name = '<name><out_suffix>'`` (``<name>_refine.png``), the
    file ``tools/test.py --out DIR`` writes (``RefinedMaskWriterHook``), which is the name
    ``scripts/eval_miou.py --refine DIR`` reads.

    Args:
        data_prefix (dict): folders of the images, GT masks and coarse masks, relative to
            ``data_root``. Defaults to the DeepLabV3+ masks of the test split.
        img_suffix (str): image file suffix. Defaults to '_im.jpg'.
        seg_map_suffix (str): GT file suffix. Defaults to '_gt.png'.
        coarse_suffix (str): coarse mask file suffix. Defaults to '_seg.png'.
        out_suffix (str): suffix of the output file name. Defaults to '_refine.png'.
        **kwargs: other arguments of :class:`RefineFolderDataset` / ``BaseSegDataset``.
    """

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path='test', seg_map_path='test', coarse_path='coarse/deeplab'),
                 img_suffix: str = '_im.jpg',
                 seg_map_suffix: str = '_gt.png',
                 coarse_suffix: str = '_seg.png',
                 out_suffix: str = '_refine.png',
                 **kwargs) -> None:
        self.out_suffix = out_suffix
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            coarse_suffix=coarse_suffix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Pair the files (see :class:`RefineFolderDataset`) and name each output.

        Returns:
            list[dict]: one dict per image, with ``out_name``.
        """
        data_list = super().load_data_list()
        name_start = len(osp.join(self.data_prefix.get('img_path', ''), ''))
        for info in data_list:
            info['out_name'] = info['img_path'][name_start:-len(self.img_suffix)] + self.out_suffix
        return data_list
