"""Loading of images, binary GT masks and coarse masks with errors that name the file."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.registry import TRANSFORMS


def add_seg_field(results: dict, key: str) -> None:
    """Register ``key`` in ``results['seg_fields']`` so geometric transforms process it.

    Args:
        results (dict): pipeline result dict, changed in place.
        key (str): the results key holding an (H, W) map.
    """
    seg_fields = results.setdefault('seg_fields', [])
    if key not in seg_fields:
        seg_fields.append(key)


def _read_bytes(path: str, what: str, backend_args: Optional[dict]) -> bytes:
    """Bytes of a file; ``FileNotFoundError`` naming the file (and its role) if it is missing."""
    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'{what} file not found: {path}')
    return fileio.get(path, backend_args=backend_args)


def _decode_image(data: bytes, name: str, flag: str, backend: str) -> np.ndarray:
    """``mmcv.imfrombytes``; ``ValueError`` '``name`` is not a readable image' if the bytes do
    not decode to a non-empty image."""
    try:
        image = mmcv.imfrombytes(data, flag=flag, backend=backend)
    except Exception as error:
        raise ValueError(f'{name} is not a readable image ({error})') from error
    if image is None or image.size == 0:
        raise ValueError(f'{name} is not a readable image')
    return image


def read_binary_mask(path: str,
                     backend_args: Optional[dict] = None,
                     imdecode_backend: str = 'pillow',
                     what: str = 'mask') -> np.ndarray:
    """Read a mask image and binarise it.

    Binarisation rule: if the largest value is <= 1 the file is taken as a 0/1 mask (value 1 is
    foreground); otherwise pixels >= 128 are foreground (0/255 PNGs, as BIG, DIS-5K and
    ThinObject-5K ship). Palette PNGs are read as their indices (``'unchanged'`` decoding); a
    colour mask uses the maximum over its colour channels.

    Args:
        path (str): file path or URI.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        what (str): role of the file, used in error messages. Defaults to 'mask'.

    Returns:
        np.ndarray: (H, W) uint8 mask in {0, 1}.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image.
    """
    data = _read_bytes(path, what, backend_args)
    mask = _decode_image(data, f'{what} file {path}', 'unchanged', imdecode_backend)
    if mask.ndim == 3:
        mask = mask[..., :3].max(axis=2)
    threshold = 1 if mask.max() <= 1 else 128
    return (mask >= threshold).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadRefineImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with errors that name the file.

    Reading and decoding are mmcv's (``super().transform``). A missing file raises
    ``FileNotFoundError`` and an undecodable one ``ValueError`` (instead of the bare
    ``FileNotFoundError``/``PIL``/``AssertionError`` of mmcv), unless ``ignore_empty=True``, in
    which case the transform returns None as mmcv's does.

    Required Keys:

    - img_path

    Modified Keys:

    - img (np.uint8, (H, W, 3), BGR with the default ``color_type='color'``)
    - img_shape
    - ori_shape

    Args:
        See :class:`mmcv.transforms.LoadImageFromFile`; use ``backend_args``, the deprecated
        ``file_client_args`` is not supported.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.file_client_args is not None:
            raise ValueError(f'{self.__class__.__name__} takes backend_args, not the '
                             'deprecated file_client_args')

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']`` with mmcv's transform.

        Args:
            results (dict): result dict with ``img_path``.

        Returns:
            dict | None: the dict with ``img``, ``img_shape`` and ``ori_shape``; None if the
            file is missing or unreadable and ``ignore_empty`` is set.
        """
        filename = results['img_path']
        try:
            if not fileio.exists(filename, backend_args=self.backend_args):
                raise FileNotFoundError(f'image file not found: {filename}')
            try:
                # mmcv re-raises the decoder's error, or asserts on the None of cv2.imdecode
                loaded = super().transform(results)
            except Exception as error:
                raise ValueError(f'{filename} is not a readable image ({error})') from error
            if loaded is not None and loaded['img'].size == 0:
                raise ValueError(f'{filename} is not a readable image')
        except (FileNotFoundError, ValueError):
            if self.ignore_empty:
                return None
            raise
        return loaded


class _LoadBinaryMask(BaseTransform):
    """Read the binary mask at ``results[path_key]`` into ``results[target_key]``.

    Subclasses set the two class attributes and a role name for error messages.

    Args:
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """
    path_key: str
    target_key: str
    role: str

    def __init__(self,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load, binarise and size-check the mask.

        Args:
            results (dict): result dict with ``self.path_key`` (and usually ``img``).

        Returns:
            dict: the dict with ``self.target_key`` added and listed in ``seg_fields``.
        """
        path = results.get(self.path_key)
        if path is None:
            raise KeyError(f'{self.__class__.__name__} needs results[{self.path_key!r}]; '
                           f'the data item of {results.get("img_path")} has none')
        mask = read_binary_mask(path, self.backend_args, self.imdecode_backend, self.role)
        if 'img' in results and mask.shape != results['img'].shape[:2]:
            raise ValueError(
                f'{self.role} {path} has size (H, W)={mask.shape} but image '
                f'{results.get("img_path")} has size {results["img"].shape[:2]}')
        results[self.target_key] = mask
        add_seg_field(results, self.target_key)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class LoadBinaryAnnotations(_LoadBinaryMask):
    """Load the binary GT mask of ``results['seg_map_path']`` (rule: :func:`read_binary_mask`).

    Required Keys:

    - seg_map_path
    - img (optional; when present, the mask must have the image's H×W)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W), {0, 1})
    - seg_fields (``'gt_seg_map'`` appended)

    Args:
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """
    path_key = 'seg_map_path'
    target_key = 'gt_seg_map'
    role = 'GT mask'


@TRANSFORMS.register_module()
class LoadCoarseMask(_LoadBinaryMask):
    """Load the coarse mask to refine from ``results['coarse_path']``.

    Same binarisation rule as :class:`LoadBinaryAnnotations`.

    Required Keys:

    - coarse_path
    - img (optional; when present, the mask must have the image's H×W)

    Added Keys:

    - coarse_seg_map (np.uint8, (H, W), {0, 1})
    - seg_fields (``'coarse_seg_map'`` appended)

    Args:
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """
    path_key = 'coarse_path'
    target_key = 'coarse_seg_map'
    role = 'coarse mask'
