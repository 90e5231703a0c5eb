"""Loading of one of a sample's offline coarse masks (HR training).

See ``docs/segrefiner.md``, 'Online and offline coarse masks'.
"""
import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from .loading import LoadCoarseMask


@TRANSFORMS.register_module()
class LoadOfflineCoarseMask(LoadCoarseMask):
    """Load the hole-filled ("expand") coarse mask with probability ``expand_prob``, else the
    plain one.

    ``scripts/gen_coarse_masks_hr.py`` writes two coarse masks per HR training image: the
    SegRefiner perturbation of the GT (``coarse_path``) and of the GT with its holes filled
    (``expand_path``). SegRefiner picks one of them per draw with probability 0.5. The chosen
    path is stored back in ``coarse_path``; loading, binarisation and the size check are those
    of :class:`LoadCoarseMask`. The draw uses numpy's global state.

    Required Keys:

    - coarse_path
    - expand_path
    - img (optional; when present, the mask must have the image's H×W)

    Modified Keys:

    - coarse_path (the file actually loaded)

    Added Keys:

    - coarse_seg_map (np.uint8, (H, W), {0, 1}), also appended to ``seg_fields``

    Args:
        expand_prob (float): probability of loading ``expand_path``. Defaults to 0.5.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'pillow'.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """

    def __init__(self, expand_prob: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= expand_prob <= 1:
            raise ValueError(f'expand_prob must be in [0, 1], got {expand_prob}')
        self.expand_prob = expand_prob

    @cache_randomness
    def use_expand(self) -> bool:
        """Whether this draw loads the expand mask."""
        return bool(np.random.rand() < self.expand_prob)

    def transform(self, results: dict) -> dict:
        """Choose the coarse file, then load it as :class:`LoadCoarseMask`.

        Args:
            results (dict): result dict with ``coarse_path`` and ``expand_path``.

        Returns:
            dict: the dict with ``coarse_seg_map``.
        """
        if self.use_expand():
            if results.get('expand_path') is None:
                raise KeyError(f'{self.__class__.__name__} needs results["expand_path"]; the '
                               f'data item of {results.get("img_path")} has none')
            results['coarse_path'] = results['expand_path']
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(expand_prob={self.expand_prob}, '
                f'imdecode_backend={self.imdecode_backend!r}, backend_args={self.backend_args})')
