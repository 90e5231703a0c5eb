"""Checks shared by the datasets' ``load_data_list``, and COCO annotation files through the COCO
API with errors that name the file."""
import json
from typing import Dict, Optional, Sequence, Type

import mmengine
import mmengine.fileio as fileio
from mmdet.datasets.api_wrappers import COCO

#: What pycocotools' ``COCO.createIndex`` reads of each entry: (list, noun, problem, keys).
_INDEXED = (('images', 'image', 'is not a COCO image entry', ('id', )),
            ('annotations', 'annotation', 'is not a COCO instance annotation',
             ('image_id', 'category_id')),
            ('categories', 'category', 'is not a COCO category', ('id', )))


def require_path(path: str, what: str, backend_args: Optional[dict] = None,
                 folder: bool = False) -> None:
    """``FileNotFoundError`` '``what`` not found: ``path``' unless ``path`` exists.

    Args:
        path (str): file or folder path or URI.
        what (str): role of the path, starting the message.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
        folder (bool): ``path`` must be a folder (``fileio.isdir``) rather than exist
            (``fileio.exists``). Defaults to False.
    """
    exists = fileio.isdir if folder else fileio.exists
    if not exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'{what} not found: {path}')


def check_coco_lists(data, keys: Sequence[str], ann_file: str, what: str) -> None:
    """``ValueError`` '``ann_file`` is not a ``what``' unless ``data`` is a dict holding a
    list under each of ``keys``."""
    missing = [k for k in keys if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if missing:
        raise ValueError(f'{ann_file} is not a {what}: no list {missing} at the top level')


def _unindexable_entry(data: dict, ann_file: str) -> Optional[str]:
    """The first entry that ``COCO.createIndex`` cannot index, as a message naming it."""
    for field, noun, problem, keys in _INDEXED:
        if 'categories' not in data and field == 'annotations':
            keys = keys[:1]  # category_id is only indexed when there are categories
        for index, entry in enumerate(data.get(field) or ()):
            absent = list(keys) if not isinstance(entry, dict) else [
                k for k in keys if k not in entry]
            if absent:
                return (f'{ann_file}: {noun} #{index} {problem} (lacks {absent}; the COCO API '
                        f'indexes {", ".join(keys)})')
    return None


def annotation_name(coco: COCO, ann: dict, ann_file: str) -> str:
    """'``ann_file``: annotation #i' for an annotation of ``coco`` (its index in the file)."""
    return f'{ann_file}: annotation #{coco.dataset["annotations"].index(ann)}'


def load_coco(ann_file: str, what: str, keys: Sequence[str] = ('images', 'categories'),
              backend_args: Optional[dict] = None, coco_api: Type[COCO] = COCO) -> COCO:
    """Read a COCO annotation file and index it with the COCO API (mmdet's wrapper of
    pycocotools' ``COCO``).

    The JSON is read with ``mmengine.load`` (any file backend) and indexed the way pycocotools'
    own ``COCO.loadRes`` does (``dataset`` set, then ``createIndex``); annotations without an
    ``id`` get one after the largest id, as ``loadRes`` numbers results. Errors name the file.

    Args:
        ann_file (str): path or URI of the JSON.
        what (str): role of the file in messages, e.g. ``'COCO annotation file'``.
        keys (Sequence[str]): top-level lists the file must have. Defaults to
            ``('images', 'categories')``.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
        coco_api (type): the COCO class. Defaults to mmdet's ``COCO``.

    Returns:
        COCO: the indexed annotations.

    Raises:
        FileNotFoundError: '``what`` not found: ``ann_file``'.
        ValueError: invalid JSON, no list under one of ``keys``, or an entry the COCO API
            cannot index (naming it).
    """
    require_path(ann_file, what, backend_args)
    try:
        data = mmengine.load(ann_file, file_format='json', backend_args=backend_args)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f'{what} {ann_file} is not valid JSON ({error})') from error
    check_coco_lists(data, keys, ann_file, what)
    annotations = [a for a in data.get('annotations', ()) if isinstance(a, dict)]
    next_id = max((a['id'] for a in annotations if isinstance(a.get('id'), int)), default=0) + 1
    for ann in annotations:
        if 'id' not in ann:
            ann['id'], next_id = next_id, next_id + 1
    coco = coco_api()
    coco.dataset = data
    try:
        coco.createIndex()
    except (KeyError, TypeError, AttributeError) as error:
        problem = _unindexable_entry(data, ann_file) or f'{ann_file} is not a {what}'
        raise ValueError(f'{problem} ({type(error).__name__}: {error})') from error
    return coco


def coco_images(coco: COCO, ann_file: str) -> Dict[int, dict]:
    """The images of a COCO annotation file, by id, after checking that every annotation
    refers to one of them.

    Args:
        coco (COCO): the indexed file (:func:`load_coco`).
        ann_file (str): the file's path, for messages.

    Returns:
        dict[int, dict]: image id → ``dict(file_name, height, width)`` (sizes as int).

    Raises:
        ValueError: an entry lacks one of ``file_name``, ``height``, ``width``, or an
            annotation refers to an image id that is not listed.
    """
    images = {}
    for index, image in enumerate(coco.loadImgs(coco.getImgIds())):
        try:
            images[image['id']] = dict(file_name=image['file_name'],
                                       height=int(image['height']),
                                       width=int(image['width']))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f'{ann_file}: image #{index} is not a COCO image entry '
                             f'(needs id, file_name, height, width; '
                             f'{type(error).__name__}: {error})') from None
    for image_id, anns in coco.imgToAnns.items():
        if image_id not in images:
            raise ValueError(f'{annotation_name(coco, anns[0], ann_file)} refers to image id '
                             f'{image_id}, which is not in "images"')
    return images
