"""``Refiner``: a segmentor that turns a coarse binary mask into a refined one."""
import contextlib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from ..utils import (Box, change_weight, confident_patches, crop_patch, crop_resize, mask_box,
                     merge_patches, mixed_patches, paste_mask, paste_prob, paste_residual,
                     propose_patches, resize_global, stack_field, upsample_prob)

#: Defaults of ``test_cfg``; see :class:`Refiner`.
DEFAULT_TEST_CFG = dict(
    mode='crop', model_size=256, steps=6, pad_width=20, batch_max=32, area_thr=0,
    autocast_dtype=None, channels_last=False, fast=False, early_exit=None, dedup=False,
    keep_native=False)

#: Defaults of the keys only the ``'hr'`` mode reads; see :meth:`Refiner.hr_inference`.
HR_DEFAULTS = dict(
    global_steps=5, fine_prob_thr=0.9, iou_thr=0.3, max_patches=None, antialias=True,
    pass_through=True, global_view='image', patch_skip_conf=None)

#: ``test_cfg.mode`` values; each names the method ``<mode>_inference``.
MODES = ('crop', 'whole', 'instance', 'hr', 'auto')

#: ``test_cfg.global_view`` values of the ``'hr'`` mode; see :meth:`Refiner.hr_inference`.
GLOBAL_VIEWS = ('image', 'box')

#: The autocast dtype of ``test_cfg.fast=True`` unless ``autocast_dtype`` is set: bfloat16
#: (float32's range) on CUDA devices that have it (else float16) and on CPUs whose oneDNN
#: has bfloat16 kernels (AVX-512 and up: AVX-512 BF16 / AMX run it natively); see
#: :meth:`Refiner.precision` for the other CPUs.
FAST_DTYPE = 'bfloat16'


def cpu_has_bf16_kernels() -> bool:
    """Whether this CPU runs oneDNN's bfloat16 convolutions (AVX-512 and up). Without them
    (e.g. an AVX2-only CPU) a bf16 forward of the denoiser measured 8× slower than float32
    (``benchmarks/bench_refiner.py``: 906 vs 113 ms on an AMD EPYC with AVX2)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())

#: Probabilities are clamped to [LOGIT_EPS, 1 − LOGIT_EPS] before they are handed to mmseg's
#: post-processing as logits (finite in float32: ±13.8); it returns them within 1e-6.
LOGIT_EPS = 1e-6


@MODELS.register_module()
class Refiner(BaseSegmentor):
    """SegRefiner as an mmseg segmentor: image + coarse mask in, refined mask out.

    Samples carry the coarse mask as ``coarse_sem_seg`` ((1, H, W), 0/1) next to ``gt_sem_seg``
    (the ``'instance'`` mode: ``coarse_instances``); :class:`RefineDataPreProcessor` normalises
    the image and pads both bottom-right.

    Training (:meth:`loss`): the inputs are already crops at the model size (the pipeline crops
    and resizes); the head draws t, corrupts the GT towards the coarse mask and applies its
    losses (:meth:`DiscreteDiffusionHead.loss`).

    Inference::

        predict → <mode>_inference → postprocess_result

    :meth:`predict` calls the method named by ``test_cfg.mode``, as mmseg's ``EncoderDecoder``
    picks ``whole_inference`` or ``slide_inference``:

    - ``'crop'`` (:meth:`crop_inference`): per sample, the tight box of the coarse mask plus
      ``pad_width`` pixels is cut out of the full-resolution image, resized to ``model_size``²
      (bilinear; the mask is re-binarised at 0.5), refined with ``steps`` reverse steps in
      batches of ``batch_max``, and the probability is pasted back with mmdet's bilinear paste
      (``docs/segrefiner.md``, 'Crop mode'). Pixels outside the box are background. Masks with
      fewer than ``area_thr`` foreground pixels (including empty ones) pass through unchanged.
    - ``'whole'`` (:meth:`whole_inference`): the whole image is the box (a global refinement
      at ``model_size``²).
    - ``'hr'`` (:meth:`hr_inference`): a global pass, then native-resolution patches where it
      was unsure (``docs/segrefiner.md``, 'HR mode').
    - ``'auto'`` (:meth:`auto_inference`): per sample, ``'crop'`` when the mask's box plus
      ``pad_width`` fits in ``model_size``², else ``'hr'`` on that box.
    - ``'instance'`` (:meth:`instance_inference`): every instance of ``coarse_instances``; the
      result is ``pred_instances`` (boolean masks at ``img_shape``, which must equal
      ``ori_shape``), so this mode returns the samples itself: there is no semantic map to
      post-process. Its masks are pasted as ``probability >= threshold`` (mmseg's ``>``
      below is the rule of the semantic maps).

    ``keep_native=True`` (all modes; off by default, SegRefiner's paste): the refinement at
    the model size is applied to the native-resolution coarse mask as a change
    (:func:`paste_residual`; in the ``'hr'`` mode to the global pass, whose patches are
    native already): the refined result is pasted where the refinement changed the decision
    of a model pixel or of one of its neighbours (:func:`change_weight`), and elsewhere the
    coarse mask keeps its full-resolution outline instead of its resampled, model-grid one.

    The other modes return seg logits (B, 1, H, W) at the (padded) input size: the foreground
    probability p of each sample's ``img_shape`` region as ``logit(clamp(p, LOGIT_EPS,
    1 − LOGIT_EPS))``. mmseg's ``BaseSegmentor.postprocess_result`` removes the padding
    (``img_padding_size`` / ``padding_size``), undoes flips (:meth:`postprocess_result` adds
    the ``'diagonal'`` one), resizes to ``ori_shape`` (bilinear, on the logits) and applies the
    sigmoid. Each output ``SegDataSample`` gets ``seg_logits`` = the foreground probability
    (1, H, W) and ``pred_sem_seg`` = ``probability > decode_head.threshold`` (mmseg's rule: a
    pixel at exactly the threshold is background), a float 0/1 map.

    Speed (none of them is on by default; with all of them off the results are those of the
    reference computation, bit for bit; measured in ``benchmarks/bench_refiner.py``):

    - ``autocast_dtype`` (e.g. ``'bfloat16'``) runs the denoiser under autocast,
      ``channels_last=True`` uses the channels-last memory format;
    - ``fast=True``: the fastest path whose masks agree with float32 (>= 99.5% of the pixels
      with the same random draws, ``benchmarks/bench_refiner.py``): ``channels_last`` and
      autocast to ``autocast_dtype`` or, if that is None, ``FAST_DTYPE`` (bfloat16; on a
      CUDA device without bfloat16, float16; on a CPU without oneDNN bfloat16 kernels,
      :func:`cpu_has_bf16_kernels`, no autocast: float32 channels-last, the same masks as
      the reference); the denoiser's GroupNorms then run the mixed-precision kernel
      (:class:`GroupNorm32`);
    - ``early_exit=dict(tol=τ)``: a crop whose foreground decision changed on fewer than a
      fraction τ of its pixels in a step (in the first step: against the coarse mask) skips
      the network evaluations of the intermediate steps (their updates of the state and of
      F run with that step's prediction) and takes the last one at once (after the first
      step at the earliest, so at least two evaluations;
      :meth:`DiscreteDiffusion.sample_loop`). ``tol=0`` runs every step;
    - ``dedup=True`` (``'instance'`` mode): instances of a sample with identical coarse masks
      are refined once and share the refined mask;
    - ``patch_skip_conf`` (``'hr'`` mode): skip the patches the global pass is already sure
      about; ``max_patches`` caps them, ``max_patches=0`` keeps the global pass alone
      (:meth:`hr_inference`).

    Args:
        decode_head (dict): config of the :class:`DiscreteDiffusionHead`.
        data_preprocessor (dict, optional): config of the :class:`RefineDataPreProcessor`.
        train_cfg (dict, optional): handed to the head's ``loss`` (which reads nothing).
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
        self.align_corners = False  # postprocess_result's resize to ori_shape
        self.train_cfg = train_cfg
        self.test_cfg = self.merge_test_cfg(test_cfg)

    @staticmethod
    def merge_test_cfg(test_cfg: OptConfigType = None, base: OptConfigType = None) -> ConfigDict:
        """``DEFAULT_TEST_CFG`` updated by ``base`` then ``test_cfg``, validated."""
        cfg = ConfigDict(DEFAULT_TEST_CFG)
        cfg.update(base or {})
        cfg.update(test_cfg or {})
        unknown = set(cfg) - set(DEFAULT_TEST_CFG) - set(HR_DEFAULTS)
        if unknown:  # a misspelt key would otherwise be ignored without a word
            raise ValueError(f'unknown test_cfg keys {sorted(unknown)}; the Refiner reads '
                             f'{sorted(set(DEFAULT_TEST_CFG) | set(HR_DEFAULTS))}')
        if cfg.mode not in MODES:
            raise ValueError(f'test_cfg.mode must be one of {sorted(MODES)}, got {cfg.mode!r}')
        if cfg.batch_max < 1:
            raise ValueError(f'test_cfg.batch_max must be >= 1, got {cfg.batch_max}')
        if cfg.early_exit is not None:
            if not isinstance(cfg.early_exit, dict) or set(cfg.early_exit) != {'tol'}:
                raise ValueError("test_cfg.early_exit must be None or dict(tol=τ), got "
                                 f'{cfg.early_exit!r}')
            if not 0 <= cfg.early_exit['tol'] < 1:
                raise ValueError('test_cfg.early_exit.tol must lie in [0, 1), got '
                                 f"{cfg.early_exit['tol']}")
        for key in ('fast', 'channels_last', 'dedup'):
            if not isinstance(cfg[key], bool):
                raise ValueError(f'test_cfg.{key} must be True or False, got {cfg[key]!r}')
        return cfg

    # ----------------------------------------------------------------- mmseg interface
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """The denoiser reads the image directly: no separate feature extractor."""
        return inputs

    def encode_decode(self, inputs: Tensor, batch_data_samples: SampleList) -> Tensor:
        """Reverse process at the input resolution: (B, C, H, W) → seg logits (B, 1, H, W)."""
        self._check_size(inputs)
        coarse = stack_field(batch_data_samples, 'coarse_sem_seg').to(inputs.dtype)
        return self.to_seg_logits(list(self.refine_crops(inputs, coarse)[:, 0]), inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Training losses: inputs (B, C, S, S) with ``gt_sem_seg`` and ``coarse_sem_seg``."""
        self._check_size(inputs)
        coarse = stack_field(data_samples, 'coarse_sem_seg')
        return self.decode_head.loss((inputs, coarse), data_samples, self.train_cfg)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """One denoiser pass at the last index on the coarse mask (zeros without samples).

        Returns:
            Tensor: (B, 1, H, W) logits.
        """
        if data_samples is None:
            coarse = inputs.new_zeros((inputs.shape[0], 1) + inputs.shape[-2:])
        else:
            coarse = stack_field(data_samples, 'coarse_sem_seg').to(inputs.dtype)
        t = inputs.new_full((inputs.shape[0], ), self.decode_head.num_timesteps - 1,
                            dtype=torch.long)
        return self.decode_head(torch.cat([inputs, coarse], dim=1), t)

    def predict(self, inputs: Tensor, data_samples: SampleList,
                test_cfg: OptConfigType = None,
                generator: Optional[torch.Generator] = None) -> SampleList:
        """Refine each sample's coarse mask (``coarse_sem_seg``; ``coarse_instances`` in the
        ``'instance'`` mode).

        Args:
            inputs (Tensor): (B, C, H, W) normalised images, padded bottom-right.
            data_samples (list[SegDataSample]): samples with the coarse mask and metainfo
                (``img_shape``, ``ori_shape``, optionally ``flip``/``flip_direction`` and the
                padding).
            test_cfg (dict, optional): overrides of ``self.test_cfg`` for this call.
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            list[SegDataSample]: with ``seg_logits`` (foreground probability) and
            ``pred_sem_seg`` at ``ori_shape``; in the ``'instance'`` mode ``pred_instances``.
        """
        cfg = self.merge_test_cfg(test_cfg, self.test_cfg)
        inference = getattr(self, f'{cfg.mode}_inference')
        if cfg.mode == 'instance':
            return inference(inputs, data_samples, cfg, generator)
        seg_logits = inference(inputs, data_samples, cfg, generator)
        return self.postprocess_result(seg_logits, data_samples)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """mmseg's ``BaseSegmentor.postprocess_result``, also for a ``'diagonal'`` flip.

        mmseg undoes ``'horizontal'`` and ``'vertical'`` flips and asserts on anything else;
        mmcv's ``RandomFlip`` also makes ``'diagonal'`` (both axes). Such a sample's un-padded
        logits are flipped back here and mmseg is given the sample's metainfo without the flip;
        an unknown direction is a ValueError.
        """
        if data_samples is None:
            return super().postprocess_result(seg_logits)
        handed = list(data_samples)
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            direction = meta.get('flip_direction')
            if not meta.get('flip', False) or direction in ('horizontal', 'vertical'):
                continue
            if direction != 'diagonal':
                raise ValueError(f'unknown flip_direction {direction!r}: expected one of '
                                 "['diagonal', 'horizontal', 'vertical']")
            left, right, top, bottom = meta.get('img_padding_size',
                                                meta.get('padding_size', [0] * 4))
            height, width = seg_logits.shape[-2:]
            rows, cols = slice(top, height - bottom), slice(left, width - right)
            seg_logits = seg_logits.clone()
            seg_logits[i, :, rows, cols] = seg_logits[i, :, rows, cols].flip(dims=(-2, -1))
            handed[i] = SegDataSample(metainfo={**meta, 'flip': False})
        results = super().postprocess_result(seg_logits, handed)
        for sample, result in zip(data_samples, results):
            if result is not sample:
                sample.set_data(dict(seg_logits=result.seg_logits,
                                     pred_sem_seg=result.pred_sem_seg))
        return data_samples

    # ----------------------------------------------------------------- inference modes
    def crop_inference(self, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                       generator: Optional[torch.Generator] = None) -> Tensor:
        """Refine each sample's mask box + ``pad_width`` at the model size (class docstring).

        Args:
            inputs (Tensor): (B, C, H, W) normalised, padded images.
            data_samples (list[SegDataSample]): samples with ``coarse_sem_seg``.
            cfg (ConfigDict): the merged test config.
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            Tensor: (B, 1, H, W) seg logits (:meth:`to_seg_logits`).
        """
        return self._box_inference(inputs, data_samples, cfg, generator, whole=False)

    def whole_inference(self, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                        generator: Optional[torch.Generator] = None) -> Tensor:
        """Refine each sample's whole image at the model size; as :meth:`crop_inference`
        otherwise, except that every mask is refined (``area_thr`` is not applied, empty masks
        included)."""
        return self._box_inference(inputs, data_samples, cfg, generator, whole=True)

    def auto_inference(self, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                       generator: Optional[torch.Generator] = None) -> Tensor:
        """Per sample, the crop or the HR mode, by the size of the mask's box.

        A sample whose coarse mask's box plus ``pad_width`` (:func:`mask_box`) is larger than
        ``model_size`` in width or height is refined by :meth:`hr_inference` with
        ``global_view='box'``: the global pass sees the box at ``model_size``², as the crop
        mode does, and native-resolution patches then restore the detail that the
        down-scaling lost. Every other sample (including empty masks, which pass through) goes
        to :meth:`crop_inference`. The crop samples run first, then the HR ones, each group
        batched.

        Args:
            inputs (Tensor): (B, C, H, W) normalised, padded images.
            data_samples (list[SegDataSample]): samples with ``coarse_sem_seg``.
            cfg (ConfigDict): the merged test config (the HR keys of ``HR_DEFAULTS`` apply to
                the HR samples, except ``global_view``).
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            Tensor: (B, 1, H, W) seg logits (:meth:`to_seg_logits`).
        """
        coarse_all = stack_field(data_samples, 'coarse_sem_seg')
        use_hr = []
        for i, (height, width) in enumerate(self.valid_shapes(inputs, data_samples)):
            box = mask_box(coarse_all[i, 0, :height, :width] > 0, cfg.pad_width)
            use_hr.append(box is not None
                          and max(box[2] - box[0], box[3] - box[1]) > cfg.model_size)
        seg_logits = inputs.new_zeros((len(data_samples), 1) + inputs.shape[-2:],
                                      dtype=torch.float)
        for hr, inference in ((False, self.crop_inference), (True, self.hr_inference)):
            group = [i for i, flag in enumerate(use_hr) if flag == hr]
            if group:
                group_cfg = ConfigDict({**cfg, 'global_view': 'box'}) if hr else cfg
                seg_logits[group] = inference(inputs[group], [data_samples[i] for i in group],
                                              group_cfg, generator)
        return seg_logits

    def _box_inference(self, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                       generator: Optional[torch.Generator], whole: bool) -> Tensor:
        coarse_all = stack_field(data_samples, 'coarse_sem_seg')
        size = (cfg.model_size, cfg.model_size)
        crops, crop_masks, boxes, owners = [], [], [], []
        probs_full: List[Tensor] = []
        for i, (height, width) in enumerate(self.valid_shapes(inputs, data_samples)):
            coarse = coarse_all[i, 0, :height, :width] > 0
            probs_full.append(coarse.float())  # pass-through unless refined below
            box = (0, 0, width, height) if whole else mask_box(coarse, cfg.pad_width)
            if box is None or (not whole and int(coarse.sum()) < cfg.area_thr):
                continue
            img_crop, mask_crop = crop_resize(inputs[i, :, :height, :width], coarse, box, size)
            crops.append(img_crop)
            crop_masks.append(mask_crop)
            boxes.append(box)
            owners.append(i)
        if crops:
            probs = self.refine_crops(torch.cat(crops), torch.cat(crop_masks), cfg=cfg,
                                      generator=generator)
            for prob, model_mask, box, i in zip(probs, crop_masks, boxes, owners):
                probs_full[i] = (paste_residual(probs_full[i], prob, model_mask[0], box,
                                                self.decode_head.threshold)
                                 if cfg.keep_native else
                                 paste_prob(prob, box, *probs_full[i].shape))
        return self.to_seg_logits(probs_full, inputs)

    def hr_inference(self, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                     generator: Optional[torch.Generator] = None) -> Tensor:
        """SegRefiner's HR refinement: global pass at ``model_size``², then native-res patches.

        1. the image and its coarse mask are resized to ``model_size``² and refined with the
           first ``global_steps`` reverse steps (indices 5..1), which also yields the
           cumulative fine-probability map F: low F marks pixels the network was unsure about;
        2. the global result, resized back, is binarised (``>= threshold``) into ``M_g``;
        3. every grid pixel with ``F < fine_prob_thr · max(F)`` proposes a ``model_size``² box
           at native resolution centred on it (score ``1 − F``), shifted inside the image;
           greedy NMS (``mmcv.ops.nms``, IoU ``iou_thr``) keeps a spread-out subset, and only
           boxes where ``M_g`` has both foreground and background remain;
        4. each patch (native image + ``M_g`` crop) is refined with the remaining step
           (index 0), in batches of ``batch_max``; overlapping patch probabilities are
           averaged, and outside all patches the global result is kept.

        With ``global_view='box'`` the steps above run on the coarse mask's box plus
        ``pad_width`` (:func:`mask_box`) instead of the whole image, and the result is
        background outside it, as in the crop mode: an object that fills a small part of a
        large image gets the crop mode's view in the global pass and native patches around
        it (the ``'auto'`` mode's choice for large boxes).

        Improvements over SegRefiner (its exact behaviour is one setting away): tiny masks
        pass through instead of becoming empty (``pass_through``), the global resampling is
        anti-aliased (``antialias``), the number of patches can be capped (``max_patches``),
        and images (or boxes) smaller than ``model_size`` work: the patch side becomes
        ``p = min(model_size, H, W)`` and a p² patch is resized to the model size and back
        (bilinear); patches of images at least ``model_size`` in both dimensions are never
        resampled. The global passes of a batch's samples run batched, and so do all their
        patches.

        ``test_cfg`` keys (``cfg``; defaults of the HR-only ones in ``HR_DEFAULTS``):

        - ``model_size`` (int, Refiner default 256): global view side and patch side.
        - ``steps`` (int, Refiner default 6): length of the reverse chain, its first
          ``steps`` indices T−1 … 0 as in the crop mode.
        - ``global_steps`` (int, 5): reverse steps of the global pass (indices T−1 … T−5);
          the patches take the remaining ones (index 0). With ``steps <= global_steps`` the
          run stops early in the global pass (its first ``steps`` steps), without patches.
        - ``fine_prob_thr`` (float, 0.9): a grid pixel proposes a patch if its F is below
          this fraction of max(F).
        - ``iou_thr`` (float, 0.3): NMS IoU threshold between patch boxes (SegRefiner's
          configs; its code default is 0.2). Two patches along a boundary end up
          ~``S (1−iou)/(1+iou)`` px apart (~138 px at 256², 0.3).
        - ``max_patches`` (int | None, None): keep at most this many patches per image, the
          most uncertain first; None keeps all (SegRefiner).
        - ``patch_skip_conf`` (float | None, None): skip the patches where the global pass was
          sure: every pixel of its probability grid under the box has the confidence
          ``2 |p − 0.5| >= patch_skip_conf`` (:func:`confident_patches`); None refines them.
        - ``antialias`` (bool, True): anti-aliased bilinear down-sampling of the image and
          mask and bilinear up-sampling of the global result; False: nearest everywhere
          (SegRefiner).
        - ``area_thr`` (int, Refiner default 0; the HR configs set SegRefiner's 128): a
          coarse mask with at most this many foreground pixels is not refined.
        - ``pass_through`` (bool, True): such masks are returned unchanged; False returns an
          empty mask, as SegRefiner does.
        - ``global_view`` (str, ``'image'``): ``'image'`` (SegRefiner) or ``'box'`` (above);
          ``pad_width`` (Refiner default 20) is the box's margin.
        - ``batch_max`` (int, Refiner default 32): samples per denoiser call.
        - ``autocast_dtype``, ``channels_last``, ``fast``: see the class docstring.
        - ``early_exit`` (class docstring): acts in the global pass; a view that jumps to
          its last step proposes its patches from the F it accumulated (the candidate
          threshold is relative to max(F)). The patches' single step is always run.

        Args:
            inputs (Tensor): (B, C, H, W) normalised, padded images.
            data_samples (list[SegDataSample]): samples with ``coarse_sem_seg``.
            cfg (ConfigDict): the merged test config.
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            Tensor: (B, 1, H, W) seg logits (:meth:`to_seg_logits`).
        """
        cfg = self._hr_cfg(cfg)
        diffusion = self.decode_head.diffusion
        chain = diffusion.timesteps(cfg.steps)
        global_steps, local_steps = chain[:cfg.global_steps], chain[cfg.global_steps:]
        size = cfg.model_size
        coarse_all = stack_field(data_samples, 'coarse_sem_seg')

        shapes = self.valid_shapes(inputs, data_samples)
        images: List[Tensor] = []
        masks: List[Tensor] = []
        probs_full: List[Tensor] = []
        refined: List[int] = []
        regions: Dict[int, Box] = {}  # global_view='box': the refined region of each sample
        for i, (height, width) in enumerate(shapes):
            mask = coarse_all[i, 0, :height, :width] > 0
            image = inputs[i, :, :height, :width]
            prob = mask.float()  # the result of masks that are not refined
            if int(mask.sum()) > cfg.area_thr:
                refined.append(i)
                if cfg.global_view == 'box':
                    x1, y1, x2, y2 = regions[i] = mask_box(mask, cfg.pad_width)
                    image, mask = image[:, y1:y2, x1:x2], mask[y1:y2, x1:x2]
            elif not cfg.pass_through:
                prob.zero_()
            images.append(image)
            masks.append(mask)
            probs_full.append(prob)

        if refined:
            # global pass: every sample's whole image at size², batched
            views = [resize_global(images[i], masks[i], size, cfg.antialias) for i in refined]
            global_probs, fine_probs = self.reverse_process(
                torch.cat([v[0] for v in views]), torch.cat([v[1] for v in views]),
                global_steps, cfg, generator)
            # patch proposals on each sample's uncertain pixels
            global_masks, patches = {}, []
            for n, i in enumerate(refined):
                shape = tuple(masks[i].shape)
                probs_full[i] = upsample_prob(global_probs[n, 0], shape, cfg.antialias)
                if cfg.keep_native:  # the coarse mask where the global pass changed nothing
                    weight = upsample_prob(change_weight(global_probs[n], views[n][1][0],
                                                         self.decode_head.threshold)[0],
                                           shape, cfg.antialias)
                    coarse = masks[i].float()
                    probs_full[i] = coarse + weight * (probs_full[i] - coarse)
                global_masks[i] = probs_full[i] >= self.decode_head.threshold
                if not local_steps:  # the chain ended in the global pass
                    continue
                boxes = propose_patches(fine_probs[n, 0], shape, min(size, *shape),
                                        cfg.fine_prob_thr, cfg.iou_thr)
                boxes = boxes[mixed_patches(global_masks[i], boxes)]
                if cfg.patch_skip_conf is not None and boxes.numel():
                    boxes = boxes[~confident_patches(global_probs[n, 0], shape, boxes,
                                                     cfg.patch_skip_conf)]
                boxes = boxes[:cfg.max_patches]
                patches += [(i, box) for box in boxes.tolist()]
            # local pass over all patches, batch_max at a time (bounded memory), then the merge
            patch_probs = {i: [] for i in refined}
            for start in range(0, len(patches), cfg.batch_max):
                chunk = patches[start:start + cfg.batch_max]
                crops = [crop_patch(images[i], global_masks[i], box, size) for i, box in chunk]
                probs, _ = self.reverse_process(torch.cat([c[0] for c in crops]),
                                                torch.cat([c[1] for c in crops]), local_steps,
                                                cfg, generator)
                for (i, box), prob in zip(chunk, probs):
                    side = box[2] - box[0]
                    if side != size:
                        prob = F.interpolate(prob[None], size=(side, side), mode='bilinear',
                                             align_corners=False)[0]
                    patch_probs[i].append((prob[0], box))
            for i, done in patch_probs.items():
                if done:
                    probs_full[i] = merge_patches(probs_full[i], *zip(*done))
            for i, (x1, y1, x2, y2) in regions.items():
                canvas = probs_full[i].new_zeros(shapes[i])
                canvas[y1:y2, x1:x2] = probs_full[i]
                probs_full[i] = canvas
        return self.to_seg_logits(probs_full, inputs)

    def _hr_cfg(self, cfg: ConfigDict) -> ConfigDict:
        """``HR_DEFAULTS`` updated by the merged test config, validated."""
        hr_cfg = ConfigDict(HR_DEFAULTS)
        hr_cfg.update(cfg)
        num_timesteps = self.decode_head.num_timesteps
        if not 1 <= hr_cfg.global_steps < num_timesteps:
            raise ValueError(f'test_cfg.global_steps must lie in [1, {num_timesteps - 1}], got '
                             f'{hr_cfg.global_steps}')
        if not 0 <= hr_cfg.iou_thr <= 1:
            raise ValueError(f'test_cfg.iou_thr must lie in [0, 1], got {hr_cfg.iou_thr}')
        if hr_cfg.max_patches is not None and hr_cfg.max_patches < 0:
            raise ValueError(f'test_cfg.max_patches must be None or >= 0, got '
                             f'{hr_cfg.max_patches}')
        if hr_cfg.patch_skip_conf is not None and not 0 <= hr_cfg.patch_skip_conf <= 1:
            raise ValueError(f'test_cfg.patch_skip_conf must be None or lie in [0, 1], got '
                             f'{hr_cfg.patch_skip_conf}')
        if hr_cfg.global_view not in GLOBAL_VIEWS:
            raise ValueError(f'test_cfg.global_view must be one of {sorted(GLOBAL_VIEWS)}, '
                             f'got {hr_cfg.global_view!r}')
        return hr_cfg

    def instance_inference(self, inputs: Tensor, data_samples: SampleList, cfg: ConfigDict,
                           generator: Optional[torch.Generator] = None) -> SampleList:
        """Refine each sample's ``coarse_instances`` (SegRefiner's instance wrapper).

        1. masks with fewer than ``area_thr`` pixels (512 in SegRefiner) pass through
           unchanged;
        2. each other mask's tight box, padded by ``pad_width`` (20) px per side and clipped to
           the image, is cut out of the image and the mask and resized to ``model_size``²
           (bilinear; the mask is re-binarised at 0.5);
        3. the crops of all instances of all images of the batch are refined with ``steps``
           reverse steps, ``batch_max`` crops per denoiser call;
        4. each probability crop is pasted back into its box with mmdet's mask paste and
           thresholded (``>= threshold``); the mask is empty outside its box.

        With ``dedup=True`` an instance whose coarse mask equals that of an earlier instance
        of its sample (duplicate detections, e.g. one object under two labels) is not
        refined: it gets the earlier one's refined mask (the crops are identical, so only the
        random draws differ).

        The detector's boxes, scores and labels are kept. Memory stays bounded for images with
        hundreds of detections: crops are made ``batch_max`` at a time, and each result is
        pasted into its box region of a boolean mask (no full-size float canvas per instance).

        Args:
            inputs (Tensor): (B, C, H, W) normalised images (padded bottom-right).
            data_samples (list[SegDataSample]): samples with ``coarse_instances``: ``masks``
                (N, h, w) bool at the sample's ``img_shape``, ``bboxes`` (N, 4), ``scores``
                (N,), ``labels`` (N,).
            cfg (ConfigDict): the merged test config.
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            list[SegDataSample]: each with ``pred_instances``: the refined ``masks`` (N, h, w)
            bool and the coarse ``bboxes``, ``scores`` and ``labels``.
        """
        size = (cfg.model_size, cfg.model_size)
        images: List[Tensor] = []
        coarse_masks: List[Tensor] = []
        refined_masks: List[Tensor] = []
        jobs: List[Tuple[int, int, Box]] = []  # (sample, instance, box) to refine
        copies: List[Tuple[int, int, int]] = []  # dedup: (sample, instance, its original)
        for i, sample in enumerate(data_samples):
            masks = self._coarse_instances(sample).masks.bool()
            img_shape = tuple(sample.metainfo.get('img_shape', inputs.shape[-2:]))
            if tuple(masks.shape[-2:]) != img_shape:
                raise ValueError(f'coarse instance masks of size {tuple(masks.shape[-2:])} do '
                                 f'not match the image size {img_shape} of '
                                 f'{sample.metainfo.get("img_path")}; the instance mode needs '
                                 'a test pipeline without resizing')
            areas = masks.flatten(1).sum(1)
            todo = torch.nonzero(areas >= max(cfg.area_thr, 1)).flatten()
            first = todo.tolist()
            if cfg.dedup and todo.numel() > 1:
                _, group = torch.unique(masks[todo].flatten(1), dim=0, return_inverse=True)
                originals: Dict[int, int] = {}
                first = []
                for j, g in zip(todo.tolist(), group.tolist()):
                    if g in originals:
                        copies.append((i, j, originals[g]))
                    else:
                        originals[g] = j
                        first.append(j)
            for j in first:
                jobs.append((i, j, mask_box(masks[j], cfg.pad_width)))
            images.append(inputs[i, :, :img_shape[0], :img_shape[1]])
            coarse_masks.append(masks)
            refined_masks.append(masks.clone())
        for start in range(0, len(jobs), cfg.batch_max):
            chunk = jobs[start:start + cfg.batch_max]
            crops = [crop_resize(images[i], coarse_masks[i][j], box, size)
                     for i, j, box in chunk]
            probs = self.refine_crops(torch.cat([img for img, _ in crops]),
                                      torch.cat([mask for _, mask in crops]), cfg=cfg,
                                      generator=generator)
            for (i, j, box), prob, (_, model_mask) in zip(chunk, probs, crops):
                paste_mask(refined_masks[i][j], prob, box, self.decode_head.threshold,
                           model_mask[0] if cfg.keep_native else None)
        for i, j, original in copies:
            refined_masks[i][j] = refined_masks[i][original]
        for sample, masks in zip(data_samples, refined_masks):
            coarse = sample.coarse_instances
            sample.pred_instances = InstanceData(masks=masks, bboxes=coarse.bboxes,
                                                 scores=coarse.scores, labels=coarse.labels)
        return data_samples

    @staticmethod
    def _coarse_instances(sample) -> InstanceData:
        if 'coarse_instances' not in sample:
            raise KeyError('the instance mode needs samples with coarse_instances (masks, '
                           'bboxes, scores, labels); use LoadCoarseInstances and '
                           f'PackInstanceRefineInputs: {sample.metainfo.get("img_path")}')
        instances = sample.coarse_instances
        if 'masks' not in instances:
            raise KeyError(f'coarse_instances without masks: {sample.metainfo.get("img_path")}')
        return instances

    # ----------------------------------------------------------------- shared steps
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
        timesteps = self.decode_head.diffusion.timesteps(steps or cfg.steps)
        return self.reverse_process(img, coarse, timesteps, cfg, generator)[0]

    def reverse_process(self, img: Tensor, coarse: Tensor, timesteps: Sequence[int],
                        cfg: OptConfigType = None,
                        generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """The head's reverse process over ``timesteps`` on crops at the model size.

        Batches of ``cfg.batch_max`` crops through the head's ``predict``
        (:meth:`DiscreteDiffusion.sample_loop`), with the precision of ``cfg.fast``,
        ``cfg.autocast_dtype`` and ``cfg.channels_last`` and the early exit of
        ``cfg.early_exit`` (see the class docstring).

        Args:
            img (Tensor): (N, C, S, S) normalised image crops.
            coarse (Tensor): (N, 1, S, S) 0/1 coarse crops.
            timesteps (Sequence[int]): descending step indices.
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
        head = self.decode_head
        dtype, channels_last = self.precision(cfg, img.device)
        if channels_last:
            head.denoiser.to(memory_format=torch.channels_last)
            img = img.contiguous(memory_format=torch.channels_last)
        exit_tol = cfg.early_exit['tol'] if cfg.early_exit else 0.0
        probs, fine_probs = [], []
        autocast = (contextlib.nullcontext() if dtype is None else
                    torch.autocast(img.device.type, dtype=dtype))
        with autocast:
            for start in range(0, img.shape[0], cfg.batch_max):
                chunk = slice(start, start + cfg.batch_max)
                metas = [dict(img_shape=tuple(img.shape[-2:]))] * img[chunk].shape[0]
                out = head.predict((img[chunk], coarse[chunk]), metas,
                                   dict(timesteps=list(timesteps), exit_tol=exit_tol),
                                   generator=generator)
                probs.append(out[:, :1])
                fine_probs.append(out[:, 1:])
        return torch.cat(probs), torch.cat(fine_probs)

    @staticmethod
    def precision(cfg: ConfigDict, device: torch.device
                  ) -> Tuple[Optional[torch.dtype], bool]:
        """The denoiser's autocast dtype (None: float32) and whether it runs channels-last,
        from ``fast``, ``autocast_dtype`` and ``channels_last`` (class docstring)."""
        name = cfg.autocast_dtype
        if cfg.get('fast') and name is None:
            name = FAST_DTYPE
            if device.type == 'cuda' and not torch.cuda.is_bf16_supported():
                name = 'float16'
            elif device.type == 'cpu' and not cpu_has_bf16_kernels():
                name = None
        return (None if name is None else getattr(torch, name),
                bool(cfg.channels_last or cfg.get('fast')))

    def valid_shapes(self, inputs: Tensor, data_samples: SampleList) -> List[Tuple[int, int]]:
        """Each sample's (h, w) region of the padded ``inputs``: its ``img_shape``, top left.

        mmseg's post-processing removes the padding its metainfo records
        (``img_padding_size`` / ``padding_size``, as ``stack_batch`` writes them). A sample
        padded by hand (no padding recorded, ``img_shape`` smaller than the inputs) gets the
        bottom-right padding its ``img_shape`` implies recorded as ``padding_size``; recorded
        padding that disagrees with ``img_shape`` is a ValueError.
        """
        height, width = inputs.shape[-2:]
        shapes = []
        for sample in data_samples:
            meta = sample.metainfo
            h, w = meta.get('img_shape', (height, width))
            implied = (0, width - w, 0, height - h)
            recorded = meta.get('img_padding_size', meta.get('padding_size'))
            if recorded is None:
                if any(implied):
                    sample.set_metainfo(dict(padding_size=implied))
            elif tuple(recorded) != implied:
                raise ValueError(f'padding {tuple(recorded)} (left, right, top, bottom) of '
                                 f'{meta.get("img_path", "a sample")} disagrees with its '
                                 f'img_shape {(h, w)} in inputs of size {(height, width)}')
            shapes.append((h, w))
        return shapes

    @staticmethod
    def to_seg_logits(probs: Sequence[Tensor], inputs: Tensor) -> Tensor:
        """Per-sample (h, w) foreground probabilities → (B, 1, H, W) seg logits.

        Each probability fills the top left of a canvas of the inputs' size, the padding is
        background, and the result is ``logit(clamp(p, LOGIT_EPS, 1 − LOGIT_EPS))``: mmseg's
        ``postprocess_result`` applies the sigmoid to single-channel outputs.
        """
        canvas = inputs.new_zeros((len(probs), 1) + inputs.shape[-2:], dtype=torch.float)
        for i, prob in enumerate(probs):
            canvas[i, 0, :prob.shape[-2], :prob.shape[-1]] = prob
        return torch.logit(canvas.clamp(LOGIT_EPS, 1 - LOGIT_EPS))

    def _check_size(self, inputs: Tensor) -> None:
        divisor = self.decode_head.denoiser.size_divisor
        if inputs.shape[-2] % divisor or inputs.shape[-1] % divisor:
            raise ValueError(f'input size {tuple(inputs.shape[-2:])} must be divisible by '
                             f'{divisor}; resize or pad to the model size in the pipeline')
