"""``Refiner``: a segmentor that turns a coarse binary mask into a refined one."""
import contextlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from ..utils import crop_resize, mask_box, paste_prob

#: Inference modes by name: ``fn(model, inputs, data_samples, cfg, generator) -> samples``.
INFERENCE_MODES: Dict[str, Callable] = {}


def register_inference_mode(*names: str) -> Callable:
    """Decorator registering an inference function of :class:`Refiner` under ``names``.

    The function receives the model, the preprocessed ``inputs`` (B, C, H, W), the data
    samples, the merged test config and the optional ``torch.Generator``, and returns the
    samples with ``seg_logits`` and ``pred_sem_seg`` set (see :meth:`Refiner.set_prediction`).
    """

    def register(fn: Callable) -> Callable:
        for name in names:
            if name in INFERENCE_MODES:
                raise KeyError(f'inference mode {name!r} is already registered')
            INFERENCE_MODES[name] = fn
        return fn

    return register


#: Defaults of ``test_cfg``; see :class:`Refiner`.
DEFAULT_TEST_CFG = dict(
    mode='crop', model_size=256, steps=6, pad_width=20, batch_max=32, area_thr=0,
    autocast_dtype=None, channels_last=False)


@MODELS.register_module()
class Refiner(BaseSegmentor):
    """SegRefiner as an mmseg segmentor: image + coarse mask in, refined mask out.

    Samples carry the coarse mask as ``coarse_sem_seg`` ((1, H, W), 0/1) next to ``gt_sem_seg``;
    :class:`RefineDataPreProcessor` normalises the image and pads both.

    Training (:meth:`loss`): the inputs are already crops at the model size (the pipeline crops
    and resizes); the head draws t, corrupts the GT towards the coarse mask and applies its
    losses.

    Inference (:meth:`predict`), by ``test_cfg.mode``:

    - ``'crop'``: per sample, the tight box of the coarse mask plus ``pad_width`` pixels is cut
      out of the full-resolution image, resized to ``model_size``² (bilinear; the mask is
      re-binarised at 0.5), refined with ``steps`` reverse steps in batches of ``batch_max``,
      and the probability is pasted back with mmdet's bilinear paste (``docs/segrefiner.md``,
      'Crop mode'). Pixels outside the
      box are background. Masks with fewer than ``area_thr`` foreground pixels (including empty
      ones) pass through unchanged.
    - ``'whole'``: the whole image is the box (a global refinement at ``model_size``²).
    - further modes are added with :func:`register_inference_mode`.

    Other ``test_cfg`` keys: ``autocast_dtype`` (e.g. ``'bfloat16'``) runs the denoiser under
    autocast, ``channels_last=True`` uses the channels-last memory format.

    Each output ``SegDataSample`` gets ``seg_logits`` = the foreground probability (1, H, W) at
    ``ori_shape`` (mmseg's convention for single-channel heads) and ``pred_sem_seg`` =
    ``probability >= threshold``.

    Args:
        decode_head (dict): config of the :class:`DiscreteDiffusionHead`.
        data_preprocessor (dict, optional): config of the :class:`RefineDataPreProcessor`.
        train_cfg (dict, optional): unused, kept for mmseg's interface.
        test_cfg (dict, optional): inference settings, see above and ``DEFAULT_TEST_CFG``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 decode_head: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.train_cfg = train_cfg
        self.test_cfg = self.merge_test_cfg(test_cfg)

    @staticmethod
    def merge_test_cfg(test_cfg: OptConfigType = None, base: OptConfigType = None) -> ConfigDict:
        """``DEFAULT_TEST_CFG`` updated by ``base`` then ``test_cfg``, validated."""
        cfg = ConfigDict(DEFAULT_TEST_CFG)
        cfg.update(base or {})
        cfg.update(test_cfg or {})
        if cfg.mode not in INFERENCE_MODES:
            raise ValueError(f'test_cfg.mode must be one of {sorted(INFERENCE_MODES)}, '
                             f'got {cfg.mode!r}')
        if cfg.batch_max < 1:
            raise ValueError(f'test_cfg.batch_max must be >= 1, got {cfg.batch_max}')
        return cfg

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def stack_field(data_samples: SampleList, field: str) -> Tensor:
        """Stack a ``PixelData`` field of the samples: (B, 1, H, W)."""
        missing = [i for i, s in enumerate(data_samples) if field not in s]
        if missing:
            paths = [data_samples[i].metainfo.get('img_path', f'sample {i}') for i in missing]
            raise KeyError(f'samples without {field!r}: {paths}')
        return torch.stack([s.get(field).data for s in data_samples])

    def _check_size(self, inputs: Tensor) -> None:
        divisor = self.decode_head.denoiser.size_divisor
        if inputs.shape[-2] % divisor or inputs.shape[-1] % divisor:
            raise ValueError(f'input size {tuple(inputs.shape[-2:])} must be divisible by '
                             f'{divisor}; resize or pad to the model size in the pipeline')

    def _inference_context(self, cfg: ConfigDict, device: torch.device):
        if cfg.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=getattr(torch, cfg.autocast_dtype))

    def reverse_process(self, img: Tensor, coarse: Tensor, indices: Sequence[int],
                        cfg: OptConfigType = None,
                        generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """The reverse process over ``indices`` on crops at the model size, in batches.

        Batches of ``cfg.batch_max`` crops, under ``cfg.autocast_dtype`` and
        ``cfg.channels_last`` (see the class docstring).

        Args:
            img (Tensor): (N, C, S, S) normalised image crops.
            coarse (Tensor): (N, 1, S, S) 0/1 coarse crops.
            indices (Sequence[int]): descending step indices.
            cfg (dict, optional): test config (default ``self.test_cfg``).
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            tuple[Tensor, Tensor]: (N, 1, S, S) float32 foreground probabilities and
            cumulative fine probabilities F.
        """
        cfg = self.test_cfg if cfg is None else cfg
        if img.shape[0] == 0:
            empty = img.new_zeros((0, 1) + img.shape[-2:], dtype=torch.float)
            return empty, empty
        if cfg.channels_last:
            self.decode_head.denoiser.to(memory_format=torch.channels_last)
            img = img.contiguous(memory_format=torch.channels_last)
        probs, fine_probs = [], []
        with self._inference_context(cfg, img.device):
            for start in range(0, img.shape[0], cfg.batch_max):
                prob, fine = self.decode_head.predict(img[start:start + cfg.batch_max],
                                                      coarse[start:start + cfg.batch_max],
                                                      indices, generator=generator)
                probs.append(prob.float())
                fine_probs.append(fine.float())
        return torch.cat(probs), torch.cat(fine_probs)

    def refine_crops(self, img: Tensor, coarse: Tensor, steps: Optional[int] = None,
                     cfg: OptConfigType = None,
                     generator: Optional[torch.Generator] = None) -> Tensor:
        """Refine crops already at the model size with the first ``steps`` reverse steps.

        Args:
            img (Tensor): (N, C, S, S) normalised image crops.
            coarse (Tensor): (N, 1, S, S) 0/1 coarse crops.
            steps (int, optional): reverse steps (default ``test_cfg.steps``).
            cfg (dict, optional): test config (default ``self.test_cfg``).
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            Tensor: (N, 1, S, S) float32 foreground probabilities.
        """
        cfg = self.test_cfg if cfg is None else cfg
        indices = self.decode_head.diffusion.step_indices(steps or cfg.steps)
        return self.reverse_process(img, coarse, indices, cfg, generator)[0]

    # ----------------------------------------------------------------- mmseg interface
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """The denoiser reads the image directly: no separate feature extractor."""
        return inputs

    def encode_decode(self, inputs: Tensor, batch_data_samples: SampleList) -> Tensor:
        """Reverse process at the input resolution: (B, C, H, W) → probabilities (B, 1, H, W)."""
        self._check_size(inputs)
        coarse = self.stack_field(batch_data_samples, 'coarse_sem_seg').to(inputs.dtype)
        return self.refine_crops(inputs, coarse)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Training losses: inputs (B, C, S, S) with ``gt_sem_seg`` and ``coarse_sem_seg``."""
        self._check_size(inputs)
        gt = self.stack_field(data_samples, 'gt_sem_seg')
        coarse = self.stack_field(data_samples, 'coarse_sem_seg')
        return self.decode_head.loss(inputs, gt, coarse)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """One denoiser pass at the last index on the coarse mask (zeros without samples).

        Returns:
            Tensor: (B, 1, H, W) logits.
        """
        if data_samples is None:
            coarse = inputs.new_zeros((inputs.shape[0], 1) + inputs.shape[-2:])
        else:
            coarse = self.stack_field(data_samples, 'coarse_sem_seg').to(inputs.dtype)
        t = inputs.new_full((inputs.shape[0], ), self.decode_head.num_timesteps - 1,
                            dtype=torch.long)
        return self.decode_head(torch.cat([inputs, coarse], dim=1), t)

    def predict(self, inputs: Tensor, data_samples: SampleList,
                test_cfg: OptConfigType = None,
                generator: Optional[torch.Generator] = None) -> SampleList:
        """Refine each sample's ``coarse_sem_seg``.

        Args:
            inputs (Tensor): (B, C, H, W) normalised, padded images.
            data_samples (list[SegDataSample]): samples with ``coarse_sem_seg`` and metainfo
                (``img_shape``, ``ori_shape``, optionally ``flip``/``flip_direction``).
            test_cfg (dict, optional): overrides of ``self.test_cfg`` for this call.
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            list[SegDataSample]: with ``seg_logits`` (foreground probability) and
            ``pred_sem_seg`` at ``ori_shape``.
        """
        cfg = self.merge_test_cfg(test_cfg, self.test_cfg)
        return INFERENCE_MODES[cfg.mode](self, inputs, data_samples, cfg, generator)

    @staticmethod
    def set_prediction(sample, prob: Tensor, threshold: float) -> None:
        """Store a (H, W) foreground probability on ``sample``.

        Undoes flips, resizes to ``ori_shape`` (bilinear) and sets ``seg_logits`` (1, H, W)
        and ``pred_sem_seg`` = ``prob >= threshold``.
        """
        prob = prob[None, None]
        meta = sample.metainfo
        if meta.get('flip', False):
            dims = {'horizontal': (3, ), 'vertical': (2, ), 'diagonal': (2, 3)}
            direction = meta.get('flip_direction')
            if direction not in dims:
                raise ValueError(f'unknown flip_direction {direction!r}: expected one of '
                                 f'{sorted(dims)}')
            prob = prob.flip(dims=dims[direction])
        ori_shape = tuple(meta.get('ori_shape', prob.shape[-2:]))
        if tuple(prob.shape[-2:]) != ori_shape:
            prob = F.interpolate(prob, size=ori_shape, mode='bilinear', align_corners=False)
        prob = prob[0]
        sample.set_data({
            'seg_logits': PixelData(data=prob),
            'pred_sem_seg': PixelData(data=(prob >= threshold).long()),
        })


@register_inference_mode('crop', 'whole')
def crop_inference(model: Refiner, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                   generator: Optional[torch.Generator] = None) -> SampleList:
    """``'crop'``: refine each sample's mask box + margin; ``'whole'``: the whole image."""
    coarse_all = model.stack_field(data_samples, 'coarse_sem_seg')
    size = (cfg.model_size, cfg.model_size)
    crops, crop_masks, boxes, owners = [], [], [], []
    probs_full: List[Optional[Tensor]] = []
    for i, sample in enumerate(data_samples):
        height, width = sample.metainfo.get('img_shape', inputs.shape[-2:])
        coarse = coarse_all[i, 0, :height, :width] > 0
        probs_full.append(coarse.float())  # pass-through unless refined below
        box = (0, 0, width, height) if cfg.mode == 'whole' else mask_box(coarse, cfg.pad_width)
        if box is None or (cfg.mode == 'crop' and int(coarse.sum()) < cfg.area_thr):
            continue
        img_crop, mask_crop = crop_resize(inputs[i, :, :height, :width], coarse, box, size)
        crops.append(img_crop)
        crop_masks.append(mask_crop)
        boxes.append(box)
        owners.append(i)
    if crops:
        probs = model.refine_crops(torch.cat(crops), torch.cat(crop_masks), cfg=cfg,
                                   generator=generator)
        for prob, box, i in zip(probs, boxes, owners):
            probs_full[i] = paste_prob(prob, box, *probs_full[i].shape)
    for sample, prob in zip(data_samples, probs_full):
        model.set_prediction(sample, prob, model.decode_head.threshold)
    return data_samples
