"""Loading of grey 0-255 masks thresholded to binary label maps (folder segmentation datasets).

Masks are decoded as grey images (mmcv's ``flag='grayscale'``: colour, palette and grey+alpha
masks are converted to luma), so an RGB mask reads like its grey version; foreground is
``grey >= threshold``.
"""
from typing import Optional

import numpy as np
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from .label_loading import _check_image_size, apply_label_map
from .loading import _decode_image, _read_bytes, add_seg_field


def read_grey_mask(path: str,
                   backend_args: Optional[dict] = None,
                   imdecode_backend: str = 'pillow',
                   what: str = 'mask') -> np.ndarray:
    """Read a mask file as a grey image.

    Args:
        path (str): file path or URI.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        what (str): role of the file, used in error messages. Defaults to 'mask'.

    Returns:
        np.ndarray: (H, W) uint8 grey values 0-255 (colour masks converted to luma).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image.
    """
    data = _read_bytes(path, what, backend_args)
    mask = _decode_image(data, f'{what} file {path}', 'grayscale', imdecode_backend)
    if mask.ndim == 3:  # decoders return (H, W, 1) for some formats
        mask = mask[..., 0]
    return np.ascontiguousarray(mask, dtype=np.uint8)


@TRANSFORMS.register_module()
class LoadThresholdedAnnotations(LoadAnnotations):
    """Load a grey 0-255 mask and threshold it to a binary label map.

    The mask is read with :func:`read_grey_mask` (RGB masks are converted to grey), and pixels
    with ``grey >= threshold`` become label 1 (foreground), the others 0 (background). The
    data item's ``label_map`` (a ``metainfo`` with a subset or reordering of
    ``('background', 'foreground')``) is applied afterwards, as in mmseg's ``LoadAnnotations``.
    A 0/1 mask needs ``threshold=1`` (at 128 it reads as all background).

    The mask must have the size of the image loaded before it (``ori_shape``), so this transform
    comes after the image loader; a mask of another size raises ``ValueError`` naming both
    files (``tools/prepare_data.py --action validate --fix-issues`` resizes such masks).

    Required Keys:

    - seg_map_path
    - label_map (optional, from the dataset)
    - ori_shape, img_path (optional; for the size check and messages)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W), values in {0, 1} before ``label_map``)
    - seg_fields (``'gt_seg_map'`` appended)

    Args:
        threshold (int): grey value from which a pixel is foreground, in 1-255. Defaults to 128.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """

    def __init__(self,
                 threshold: int = 128,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(backend_args=backend_args, imdecode_backend=imdecode_backend)
        if isinstance(threshold, bool) or not isinstance(threshold, int) \
                or not 1 <= threshold <= 255:
            raise ValueError(f'threshold must be an int in 1-255, got {threshold!r}')
        self.threshold = threshold

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        if results.get('reduce_zero_label', False):
            raise ValueError(f'{self.__class__.__name__} makes binary masks: '
                             'reduce_zero_label must be False')
        grey = read_grey_mask(path, self.backend_args, self.imdecode_backend)
        _check_image_size(results, grey.shape, f'mask file {path}')
        label = (grey >= self.threshold).astype(np.uint8)
        results['gt_seg_map'] = apply_label_map(label, results.get('label_map'))
        add_seg_field(results, 'gt_seg_map')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'imdecode_backend={self.imdecode_backend!r}, backend_args={self.backend_args})')
