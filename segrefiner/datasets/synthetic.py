"""The synthetic refinement benchmark as a dataset.

The benchmark (textured objects with hard outlines, and their coarse masks) is written by
``scripts/gen_synthetic.py`` with
:func:`~segrefiner.datasets.generators.generate_synthetic_dataset` (scenes:
:mod:`segrefiner.datasets.generators.scenes`; files and layout:
:mod:`segrefiner.datasets.generators.writer`).
"""
import os.path as osp
from typing import List, Optional

from mmseg.registry import DATASETS

from .generators.writer import SPLITS
from .refine_folder import RefineFolderDataset


@DATASETS.register_module()
class SyntheticRefineDataset(RefineFolderDataset):
    """The synthetic benchmark written by ``scripts/gen_synthetic.py``.

    Args:
        split (str): 'train' or 'val'; selects ``<data_root>/<split>/{images,masks,coarse}``.
            Defaults to 'train'.
        data_root (str): root given to the generator's ``--out``. Defaults to 'data/synthetic'.
        use_coarse (bool): read the stored coarse masks; set False to train with online coarse
            masks (items then carry no ``coarse_path``). Defaults to True.
        data_prefix (dict, optional): explicit folders as in :class:`RefineFolderDataset`;
            when given, ``split`` and ``use_coarse`` are not used. Defaults to None.
        **kwargs: other arguments of :class:`RefineFolderDataset`.
    """

    def __init__(self,
                 split: str = 'train',
                 data_root: str = 'data/synthetic',
                 use_coarse: bool = True,
                 data_prefix: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            assert split in SPLITS, f'split must be one of {SPLITS}, got {split!r}'
            data_prefix = dict(img_path=f'{split}/images', seg_map_path=f'{split}/masks')
            if use_coarse:
                data_prefix['coarse_path'] = f'{split}/coarse'
        super().__init__(data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Check that the split was generated completely, then load it.

        The split folder is the parent of the image folder; it is complete when it holds the
        ``meta.json`` the generator writes last.

        Returns:
            list[dict]: the data items.
        """
        split_dir = osp.dirname(osp.normpath(self.data_prefix['img_path']))
        if not osp.isfile(osp.join(split_dir, 'meta.json')):
            raise FileNotFoundError(
                f'synthetic split not found (or incomplete) at {split_dir}; generate it with '
                f'`python scripts/gen_synthetic.py --out {self.data_root}`')
        return super().load_data_list()
