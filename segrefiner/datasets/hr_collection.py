"""HR training collection: ThinObject-5K train + DIS-5K DIS-TR with offline coarse masks.

See ``docs/data.md``, 'HR training collection'.
"""
import json
import os.path as osp
from typing import List, Sequence

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

#: Keys of a collection entry: paths relative to ``data_root``.
PATH_KEYS = {
    'filename': 'img_path',
    'maskname': 'seg_map_path',
    'coarsename': 'coarse_path',
    'expandname': 'expand_path',
}
#: Optional integer keys of a collection entry.
SIZE_KEYS = ('height', 'width')


@DATASETS.register_module()
class HRCollectionDataset(BaseSegDataset):
    """The HR training images listed in ``collection_hr.json``.

    ``scripts/gen_coarse_masks_hr.py`` writes the JSON next to two offline coarse masks per
    image; its format is SegRefiner's, relative to ``data_root``:

    .. code-block:: none

        {"dis":  [{"filename": "dis/DIS-TR/im/x.jpg", "maskname": "dis/DIS-TR/gt/x.png",
                   "coarsename": "dis/DIS-TR/coarse/x.png",
                   "expandname": "dis/DIS-TR/coarse_expand/x.png",
                   "height": 1080, "width": 1920}, ...],
         "thin": [{"filename": "thin_object/images/y.jpg", ...}, ...]}

    Each data item has ``img_path``, ``seg_map_path``, ``coarse_path``, ``expand_path`` (use
    :class:`LoadOfflineCoarseMask`), ``collection`` (the list it came from), ``height`` and
    ``width`` (when given), plus ``label_map``, ``reduce_zero_label`` and ``seg_fields`` as in
    ``BaseSegDataset``. The JSON's structure and every listed file are checked when the dataset
    is loaded; problems raise an error naming the JSON file and the entry.

    Args:
        ann_file (str): the collection JSON, relative to ``data_root``. Defaults to
            ``'collection_hr.json'``.
        collection_datasets (Sequence[str]): the lists of the JSON to use, in order. Defaults
            to ``('thin', 'dis')``.
        **kwargs: other arguments of :class:`mmseg.datasets.BaseSegDataset` (``data_root``,
            ``pipeline``, ...).
    """
    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 ann_file: str = 'collection_hr.json',
                 collection_datasets: Sequence[str] = ('thin', 'dis'),
                 **kwargs) -> None:
        if isinstance(collection_datasets, str) or not collection_datasets:
            raise ValueError('collection_datasets must be a non-empty sequence of list names, '
                             f'got {collection_datasets!r}')
        self.collection_datasets = tuple(collection_datasets)
        super().__init__(ann_file=ann_file, **kwargs)

    def _read_collection(self) -> dict:
        path = self.ann_file
        if not fileio.exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'collection file not found: {path} (write it with '
                'scripts/gen_coarse_masks_hr.py)')
        try:
            collection = json.loads(fileio.get_text(path, backend_args=self.backend_args))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f'collection file {path} is not valid JSON: {error}') from error
        if not isinstance(collection, dict):
            raise ValueError(f'collection file {path} must hold a JSON object of lists, got '
                             f'{type(collection).__name__}')
        return collection

    def _entry_to_item(self, entry, where: str) -> dict:
        if not isinstance(entry, dict):
            raise ValueError(f'{where} must be an object, got {entry!r}')
        missing = [key for key in PATH_KEYS if not isinstance(entry.get(key), str)]
        if missing:
            raise ValueError(f'{where} lacks the path keys {missing}: {entry!r}')
        item = {target: osp.join(self.data_root or '', entry[key])
                for key, target in PATH_KEYS.items()}
        for key in SIZE_KEYS:
            if key in entry:
                if not isinstance(entry[key], int) or entry[key] < 1:
                    raise ValueError(f'{where}: {key} must be a positive integer, got '
                                     f'{entry[key]!r}')
                item[key] = entry[key]
        return item

    def load_data_list(self) -> List[dict]:
        """Read and check the collection JSON.

        Returns:
            list[dict]: one dict per image, the lists in ``collection_datasets`` order.
        """
        collection = self._read_collection()
        data_list = []
        for name in self.collection_datasets:
            if name not in collection:
                raise ValueError(f'collection file {self.ann_file} has no list {name!r} '
                                 f'(it has {sorted(collection)})')
            entries = collection[name]
            if not isinstance(entries, list) or not entries:
                raise ValueError(f'{name!r} in collection file {self.ann_file} must be a '
                                 f'non-empty list, got {entries!r:.80}')
            for index, entry in enumerate(entries):
                item = self._entry_to_item(entry, f'{self.ann_file}: {name}[{index}]')
                item.update(collection=name, label_map=self.label_map,
                            reduce_zero_label=self.reduce_zero_label, seg_fields=[])
                data_list.append(item)
        missing = [f'{item[key]} ({item["collection"]})' for item in data_list
                   for key in PATH_KEYS.values()
                   if not fileio.exists(item[key], backend_args=self.backend_args)]
        if missing:
            shown = ', '.join(missing[:10]) + (f', ... ({len(missing)} in all)'
                                               if len(missing) > 10 else '')
            raise FileNotFoundError(f'files listed in {self.ann_file} not found: {shown}')
        return data_list
