"""Checks shared by the datasets' ``load_data_list``."""
from typing import Dict, Optional, Sequence

import mmengine.fileio as fileio


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


def coco_images(data: dict, ann_file: str) -> Dict[int, dict]:
    """The ``images`` of a parsed COCO annotation file, by id.

    Args:
        data (dict): the parsed file, with a list ``images``.
        ann_file (str): the file's path, for messages.

    Returns:
        dict[int, dict]: image id → ``dict(file_name, height, width)`` (sizes as int).

    Raises:
        ValueError: an entry lacks one of ``id``, ``file_name``, ``height``, ``width``.
    """
    images = {}
    for index, image in enumerate(data['images']):
        try:
            images[image['id']] = dict(file_name=image['file_name'],
                                       height=int(image['height']),
                                       width=int(image['width']))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f'{ann_file}: image #{index} is not a COCO image entry '
                             f'(needs id, file_name, height, width; '
                             f'{type(error).__name__}: {error})') from None
    return images
