"""Reading the refiner's fields off a batch of data samples."""
import torch
from mmseg.utils import SampleList
from torch import Tensor


def stack_field(data_samples: SampleList, field: str) -> Tensor:
    """Stack a ``PixelData`` field of the samples: (B, 1, H, W).

    Raises:
        KeyError: naming the samples (their ``img_path``) that lack the field.
    """
    missing = [i for i, s in enumerate(data_samples) if field not in s]
    if missing:
        paths = [data_samples[i].metainfo.get('img_path', f'sample {i}') for i in missing]
        raise KeyError(f'samples without {field!r}: {paths}')
    return torch.stack([s.get(field).data for s in data_samples])
