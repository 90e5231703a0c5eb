"""The refiner bundled with the package: its config and weights, checked by sha256.

``init_refiner()`` without arguments loads it. The files are written by
``tools/misc/publish_model.py`` from a ``tools/train.py`` work dir (see the README, 'The bundled
refiner', for the training command, its length and machine).
"""
import hashlib
import os.path as osp
from typing import Tuple

#: Folder of the bundled files (inside the installed package).
MODEL_ZOO_DIR = osp.dirname(osp.abspath(__file__))
#: Name of the bundled refiner (its config is ``NAME.py``, its weights ``NAME.pth``).
BUNDLED_NAME = 'segrefiner_denoiseunet-w8_composite'
#: sha256 of ``NAME.pth``, also given in the README.
BUNDLED_SHA256 = '5e111d8a2311285136cbb844fec41facb040a39fbdbc30b078244108770f0a43'


def file_sha256(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def bundled_refiner_files(check_sha256: bool = True) -> Tuple[str, str]:
    """Config and weights of the bundled refiner.

    Args:
        check_sha256 (bool): verify the weights against :data:`BUNDLED_SHA256`.

    Returns:
        tuple[str, str]: paths of the config (``.py``) and the weights (``.pth``).

    Raises:
        FileNotFoundError: a file is missing from the installed package.
        RuntimeError: the weights' sha256 is not the published one (a damaged or replaced
            file).
    """
    config = osp.join(MODEL_ZOO_DIR, f'{BUNDLED_NAME}.py')
    weights = osp.join(MODEL_ZOO_DIR, f'{BUNDLED_NAME}.pth')
    for path in (config, weights):
        if not osp.isfile(path):
            raise FileNotFoundError(f'bundled refiner file missing from the package: {path} '
                                    '(reinstall segrefiner)')
    if check_sha256:
        digest = file_sha256(weights)
        if digest != BUNDLED_SHA256:
            raise RuntimeError(f'bundled refiner weights {weights} have sha256 {digest}, '
                               f'expected {BUNDLED_SHA256}: the file is damaged or was '
                               'replaced (reinstall segrefiner)')
    return config, weights
