"""Checks shared by the datasets' ``load_data_list``."""
from typing import Optional

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
