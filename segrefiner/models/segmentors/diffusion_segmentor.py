"""``DiffusionSegmentor``: segmentation masks generated from noise by a Gaussian DDPM."""
import math
from typing import List, Optional

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from ..decode_heads.gaussian_diffusion_head import SAMPLING_DEFAULTS

#: Defaults of ``test_cfg``; see :class:`DiffusionSegmentor`.
DEFAULT_TEST_CFG = dict(SAMPLING_DEFAULTS, seed=None)

#: Probabilities are clamped to [PROB_EPS, 1 − PROB_EPS] before they become seg logits
#: (finite in float32); mmseg's post-processing gives them back within 1e-6.
PROB_EPS = 1e-6


def normalised_entropy(probs: Tensor, num_classes: int) -> Tensor:
    """Per-pixel entropy divided by ``log(num_classes)``, in [0, 1].

    Args:
        probs (Tensor): (1, H, W) foreground probability (binary, ``num_classes`` = 2) or
            (C, H, W) class probabilities summing to 1 (``num_classes`` = C).
        num_classes (int): number of classes (>= 2).

    Returns:
        Tensor: (1, H, W) float32: 0 where the probability is one-hot, 1 where it is uniform.
    """
    probs = probs.float()
    if probs.shape[0] == 1:
        entropy = -(torch.special.xlogy(probs, probs) +
                    torch.special.xlogy(1 - probs, 1 - probs))
    else:
        entropy = -torch.special.xlogy(probs, probs).sum(dim=0, keepdim=True)
    return (entropy / math.log(num_classes)).clamp(0, 1)


@MODELS.register_module()
class DiffusionSegmentor(BaseSegmentor):
    """Diffusion segmentation as an mmseg segmentor: image in, mask generated from noise.

    The :class:`GaussianDiffusionHead` holds the denoiser, the schedule and the reverse loop;
    the images come from mmseg's ``SegDataPreProcessor`` (normalised, padded to the denoiser's
    size divisor).

    Training (:meth:`loss`): the head's ε / x0 / v regression on the GT mask corrupted at a
    random timestep (:meth:`GaussianDiffusionHead.loss`).

    Inference::

        predict → encode_decode (the head's num_samples reverse runs) → postprocess_result
                → uncertainty

    :meth:`encode_decode` returns seg logits at the (padded) input size: with K = 1 (binary)
    ``logit(clamp(p̄, PROB_EPS, 1 − PROB_EPS))`` of the mean foreground probability p̄, with
    K = C classes ``log(clamp(p̄, PROB_EPS))`` of the mean class probabilities. mmseg's
    ``BaseSegmentor.postprocess_result`` removes the padding, undoes flips, resizes to
    ``ori_shape`` (bilinear, on the logits) and, binary, applies the sigmoid. Each output
    ``SegDataSample`` gets:

    - ``seg_logits``: (1, H, W) foreground probability (binary) or (C, H, W) log-probabilities
      (mmseg stores multi-class logits as they are: their softmax is the probability);
    - ``pred_sem_seg``: (1, H, W) ``probability > decode_head.threshold`` (binary, a float 0/1
      map, mmseg's rule) or the argmax (C classes);
    - ``uncertainty``: (1, H, W) float32 in [0, 1], the entropy of the mean probability
      divided by ``log(classes)`` (binary: ``−p log p − (1 − p) log(1 − p)`` over ``log 2``),
      computed from ``seg_logits`` at ``ori_shape``. 0 where the ensemble is unanimous and
      saturated, 1 where its members split evenly (or a single member's x̂0 sits at 0).

    ``test_cfg`` keys (defaults in ``DEFAULT_TEST_CFG``):

    - ``sampler`` ('ddim'): ``'ddim'`` or ``'ddpm'`` (ancestral);
    - ``num_steps`` (None): reverse steps; None is 50 for DDIM (at most T) and all T for
      DDPM (:meth:`GaussianDiffusionHead.reverse_timesteps`);
    - ``eta`` (0.0): DDIM's η in [0, 1] (0 deterministic given the start noise);
    - ``num_samples`` (1): ensemble size, the members averaged as probabilities;
    - ``seed`` (None): an int seeds a ``torch.Generator`` on the inputs' device at every
      :meth:`predict` / :meth:`sample_process` call, so a call repeats exactly (each image of
      a batch still gets its own noise); None draws from torch's global generator.

    Args:
        decode_head (dict): config of the :class:`GaussianDiffusionHead`.
        data_preprocessor (dict, optional): config of mmseg's ``SegDataPreProcessor``.
        train_cfg (dict, optional): handed to the head's ``loss`` (which reads nothing).
        test_cfg (dict, optional): inference settings, see above.
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

    def merge_test_cfg(self, test_cfg: OptConfigType = None,
                       base: OptConfigType = None) -> ConfigDict:
        """``DEFAULT_TEST_CFG`` updated by ``base`` then ``test_cfg``, validated
        (:meth:`GaussianDiffusionHead.sampling_cfg`; ``seed`` None or an int)."""
        cfg = ConfigDict(DEFAULT_TEST_CFG)
        cfg.update(base or {})
        cfg.update(test_cfg or {})
        if cfg.seed is not None and not isinstance(cfg.seed, int):
            raise ValueError(f'test_cfg.seed must be None or an int, got {cfg.seed!r}')
        return ConfigDict(self.decode_head.sampling_cfg(cfg))

    def make_generator(self, cfg: ConfigDict, device: torch.device) -> Optional[torch.Generator]:
        """A ``torch.Generator`` on ``device`` seeded with ``cfg.seed`` (None without a seed)."""
        if cfg.seed is None:
            return None
        return torch.Generator(device=device).manual_seed(cfg.seed)

    # ----------------------------------------------------------------- mmseg interface
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """The denoiser reads the image directly: no separate feature extractor."""
        return inputs

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict],
                      test_cfg: OptConfigType = None) -> Tensor:
        """The head's reverse runs as seg logits at the input size.

        Args:
            inputs (Tensor): (B, C, H, W) normalised images.
            batch_img_metas (list[dict]): one per image (handed to the head).
            test_cfg (dict, optional): overrides of ``self.test_cfg`` for this call.

        Returns:
            Tensor: (B, K, H, W) float32 seg logits (see the class docstring).
        """
        cfg = self.merge_test_cfg(test_cfg, self.test_cfg)
        probs = self.decode_head.predict(inputs, batch_img_metas, cfg,
                                         self.make_generator(cfg, inputs.device))
        return self.to_seg_logits(probs)

    def to_seg_logits(self, probs: Tensor) -> Tensor:
        """(B, K, H, W) probabilities → seg logits: ``logit`` (K = 1) or ``log`` (K = C) of the
        probabilities clamped by :data:`PROB_EPS`."""
        if probs.shape[1] == 1:
            return torch.logit(probs.clamp(PROB_EPS, 1 - PROB_EPS))
        return probs.clamp(min=PROB_EPS).log()

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Training losses: inputs (B, C, H, W) with ``gt_sem_seg`` in the samples."""
        return self.decode_head.loss(inputs, data_samples, self.train_cfg)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """One denoiser pass at the noisiest timestep T − 1 on an all-zero x_t.

        Returns:
            Tensor: (B, K, H, W) denoiser output.
        """
        head = self.decode_head
        x_t = inputs.new_zeros((inputs.shape[0], head.out_channels) + inputs.shape[-2:])
        t = inputs.new_full((inputs.shape[0], ), head.num_timesteps - 1, dtype=torch.long)
        return head(torch.cat([inputs, x_t], dim=1), t)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None,
                test_cfg: OptConfigType = None) -> SampleList:
        """Generate a mask for each image.

        Args:
            inputs (Tensor): (B, C, H, W) normalised images, padded bottom-right.
            data_samples (list[SegDataSample], optional): samples with metainfo
                (``ori_shape``, ``img_shape``, the padding, optionally the flip); None gives
                predictions at the input size.
            test_cfg (dict, optional): overrides of ``self.test_cfg`` for this call.

        Returns:
            list[SegDataSample]: with ``seg_logits``, ``pred_sem_seg`` and ``uncertainty`` at
            ``ori_shape`` (class docstring).
        """
        seg_logits = self.encode_decode(inputs, self._metas(inputs, data_samples), test_cfg)
        samples = self.postprocess_result(seg_logits, data_samples)
        num_classes = self.decode_head.num_classes
        for sample in samples:
            probs = sample.seg_logits.data
            if probs.shape[0] > 1:
                probs = probs.softmax(dim=0)
            sample.uncertainty = PixelData(data=normalised_entropy(probs, num_classes))
        return samples

    def sample_process(self, inputs: Tensor, data_samples: OptSampleList = None,
                       num_frames: int = 10) -> List[Tensor]:
        """The predicted-x0 probabilities along one reverse run, for visualising it.

        One ensemble member with ``self.test_cfg``'s sampler, steps, η and seed: with a seed
        the last frame is what :meth:`predict` gives for ``num_samples=1``.

        Args:
            inputs (Tensor): (N, C, H, W) normalised images.
            data_samples (list[SegDataSample], optional): their samples; when given, every
                frame is un-padded and resized to ``ori_shape`` as :meth:`predict` does, which
                needs one ``ori_shape`` for the batch. None keeps the input size.
            num_frames (int): frames to return, at steps evenly spread over the run, the last
                step included; at most the number of steps (all of them when fewer).

        Returns:
            list[Tensor]: ``min(num_frames, steps)`` tensors (N, K', H', W') float32, first
            step first: the foreground probability (K' = 1, binary) or the class
            probabilities (K' = C) of each step's x̂0, at the input size (H, W) or at
            ``ori_shape``.

        Raises:
            ValueError: ``num_frames`` < 1, or samples of different ``ori_shape``.
        """
        if num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        if data_samples is not None:
            shapes = {tuple(s.metainfo['ori_shape']) for s in data_samples}
            if len(shapes) > 1:
                raise ValueError(f'sample_process resizes all frames to one ori_shape, got '
                                 f'{sorted(shapes)}; pass one image at a time')
        cfg = self.test_cfg
        head = self.decode_head
        timesteps = head.reverse_timesteps(cfg.sampler, cfg.num_steps)
        count = min(num_frames, len(timesteps))
        keep = {timesteps[round(i * (len(timesteps) - 1) / max(count - 1, 1))]
                for i in range(count)}
        frames: List[Tensor] = []

        def record(t: int, x_prev: Tensor, x0: Tensor) -> None:
            if t in keep:
                frames.append(head.to_probs(x0))

        with torch.no_grad():
            head.sample(inputs, timesteps, cfg.sampler, cfg.eta,
                        self.make_generator(cfg, inputs.device), record)
        if data_samples is None:
            return frames
        return [self._resized_probs(frame, data_samples) for frame in frames]

    def _resized_probs(self, probs: Tensor, data_samples: SampleList) -> Tensor:
        """(N, K, H, W) probabilities at ``ori_shape`` through mmseg's post-processing."""
        handed = [SegDataSample(metainfo=s.metainfo) for s in data_samples]
        results = self.postprocess_result(self.to_seg_logits(probs), handed)
        resized = torch.stack([r.seg_logits.data for r in results])
        return resized if resized.shape[1] == 1 else resized.softmax(dim=1)

    @staticmethod
    def _metas(inputs: Tensor, data_samples: OptSampleList) -> List[dict]:
        """The samples' metainfo, or mmseg's metas of unpadded inputs without samples."""
        if data_samples is not None:
            return [s.metainfo for s in data_samples]
        shape = tuple(inputs.shape[2:])
        return [dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                     padding_size=[0, 0, 0, 0])] * inputs.shape[0]
