"""``DDPMFeatureSegmentor``: label-efficient segmentation from the features of a frozen DDPM."""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

FEATURE_DTYPES = {'float32': torch.float32, 'float16': torch.float16}
#: Defaults of ``train_cfg`` and ``test_cfg``; see :class:`DDPMFeatureSegmentor`.
DEFAULT_TRAIN_CFG = dict(max_pixels=None, feature_dtype='float32')
DEFAULT_TEST_CFG = dict(pixel_chunk=16384)


@MODELS.register_module()
class DDPMFeatureSegmentor(BaseSegmentor):
    """ddpm-segmentation as an mmseg segmentor: a :class:`DDPMFeatureExtractor` backbone and a
    :class:`PixelClassifierEnsemble` over its per-pixel features.

    Training (:meth:`train_step`), per batch of (augmented) labelled images::

        data_preprocessor → backbone.extract (the frozen UNet, low-resolution activations)
          → pixel pool: at most train_cfg.max_pixels labelled pixels (ignore_index excluded),
            drawn uniformly, their D features gathered (backbone.sample) in feature_dtype
          → one pass over the pool: every MLP its own shuffle, one optimiser step per
            pixel batch, early stopping

    Only the pool holds full-dimension features (gathered block by block), so the memory is
    bounded by ``max_pixels · D · itemsize`` plus the batch's activations and one block's
    float32 gathering, whatever the number of images
    (the original keeps every training pixel's features: 2 · N · H · W · D · 4 bytes at its
    peak). ``max_pixels=None`` pools every labelled pixel of the batch.

    Inference::

        predict → encode_decode (backbone.extract, then classifier.predict on chunks of
        test_cfg.pixel_chunk pixels) → postprocess_result → uncertainty

    ``seg_logits`` (C, H, W) are the log vote shares or log mean probabilities (their softmax
    is what :class:`SegTTAModel` averages over augmented views); ``pred_sem_seg`` their argmax;
    ``uncertainty`` (1, H, W) the ensemble's Jensen-Shannon divergence at ``ori_shape``, and the
    metainfo ``uncertainty_score`` the mean of its top 10 % (the original's per-image score).

    Args:
        backbone (dict): the :class:`DDPMFeatureExtractor`.
        classifier (dict): the :class:`PixelClassifierEnsemble`; ``in_channels`` defaults to
            the backbone's ``feature_channels``.
        train_cfg (dict, optional): ``max_pixels`` (int or None) and ``feature_dtype``
            ('float32' | 'float16') of the pool.
        test_cfg (dict, optional): ``pixel_chunk``, pixels classified at once.
        data_preprocessor (dict, optional): mmseg's ``SegDataPreProcessor`` making images in
            [-1, 1] (mean = std = 127.5, RGB), padded to the UNet's size divisor.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 classifier: dict,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        classifier = dict(classifier)
        classifier.setdefault('in_channels', self.backbone.feature_channels)
        self.classifier = MODELS.build(classifier)
        self.num_classes = self.out_channels = self.classifier.num_classes
        self.align_corners = False
        self.ignore_index = self.classifier.ignore_index
        self.train_cfg = dict(DEFAULT_TRAIN_CFG, **(train_cfg or {}))
        self.test_cfg = dict(DEFAULT_TEST_CFG, **(test_cfg or {}))
        if self.train_cfg['feature_dtype'] not in FEATURE_DTYPES:
            raise ValueError(f"train_cfg.feature_dtype must be one of {list(FEATURE_DTYPES)}, "
                             f"got {self.train_cfg['feature_dtype']!r}")

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """(B, 3, H, W) images in [-1, 1] → the backbone's low-resolution activations."""
        return self.backbone.extract(inputs)

    # ----------------------------------------------------------------- training
    def pixel_pool(self, inputs: Tensor, data_samples: SampleList) -> Tuple[Tensor, Tensor]:
        """The labelled pixels of a batch with their features (see the class docstring).

        Args:
            inputs (Tensor): (B, 3, H, W) images in [-1, 1].
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).

        Returns:
            tuple[Tensor, Tensor]: (N, D) features in ``train_cfg.feature_dtype`` and (N,)
            int64 labels, N <= ``max_pixels``.
        """
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
        height, width = labels.shape[-2:]
        index = torch.nonzero((labels != self.ignore_index).flatten()).flatten()
        max_pixels = self.train_cfg['max_pixels']
        if max_pixels is not None and index.numel() > max_pixels:
            index = index[torch.randperm(index.numel(), device=index.device)[:max_pixels]]
            index = index.sort().values
        image, pixel = index // (height * width), index % (height * width)
        activations = self.extract_feat(inputs)
        dtype = FEATURE_DTYPES[self.train_cfg['feature_dtype']]
        features = inputs.new_empty((index.numel(), self.backbone.feature_channels),
                                    dtype=dtype)
        for b in range(labels.shape[0]):
            rows = torch.nonzero(image == b).flatten()
            points = torch.stack([pixel[rows] // width, pixel[rows] % width], -1)[None]
            start = 0
            for a in activations:  # block by block: no float32 copy of the image's pool
                part = self.backbone.sample([a[b:b + 1]], points, (height, width))[0]
                features[rows, start:start + a.shape[1]] = part.to(dtype)
                start += a.shape[1]
        return features, labels.flatten()[index]

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Every active MLP's loss on the whole pixel pool of the batch."""
        features, labels = self.pixel_pool(inputs, data_samples)
        losses = self.classifier.loss(features, labels)
        losses.pop('ce_per_model')
        return losses

    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One batch of images: the pixel pool, then one pass of pixel batches over it (one
        optimiser step each). Returns the mean of the steps' log variables."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
        if not self.classifier.active.any():  # every MLP stopped early
            return dict(active_models=torch.tensor(0.0))
        features, labels = self.pixel_pool(data['inputs'], data['data_samples'])
        logs: List[Dict[str, Tensor]] = []
        for indices in self.classifier.batches(labels.numel()):
            with optim_wrapper.optim_context(self):
                losses = self.classifier.loss(features, labels, indices.to(labels.device))
            self.classifier.update_early_stopping(losses.pop('ce_per_model'))
            loss, log_vars = self.parse_losses(losses)
            optim_wrapper.update_params(loss)
            logs.append(log_vars)
            if not self.classifier.active.any():
                break
        merged = {key: torch.stack([log[key].detach() for log in logs]).mean()
                  for key in (logs[0] if logs else {})}
        merged['active_models'] = self.classifier.active.sum().float()
        return merged

    # ----------------------------------------------------------------- inference
    def infer(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Seg logits and uncertainty at the (padded) input size.

        Args:
            inputs (Tensor): (B, 3, H, W) images in [-1, 1].

        Returns:
            tuple[Tensor, Tensor]: (B, C, H, W) float32 seg logits and (B, 1, H, W) float32
            uncertainty (:meth:`PixelClassifierEnsemble.predict`).
        """
        batch, _, height, width = inputs.shape
        activations = self.extract_feat(inputs)
        ys, xs = torch.meshgrid(torch.arange(height, device=inputs.device),
                                torch.arange(width, device=inputs.device), indexing='ij')
        points = torch.stack([ys.flatten(), xs.flatten()], -1)
        logits = inputs.new_empty((batch, self.num_classes, height * width))
        uncertainty = inputs.new_empty((batch, 1, height * width))
        chunk = self.test_cfg['pixel_chunk']
        for start in range(0, height * width, chunk):
            part = points[start:start + chunk]
            features = self.backbone.sample(activations, part[None].expand(batch, -1, -1),
                                            (height, width))
            seg, unc = self.classifier.predict(features.flatten(0, 1))
            logits[..., start:start + len(part)] = seg.view(batch, len(part), -1).transpose(1, 2)
            uncertainty[:, 0, start:start + len(part)] = unc.view(batch, len(part))
        return (logits.view(batch, -1, height, width),
                uncertainty.view(batch, 1, height, width))

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """(B, 3, H, W) images → (B, C, H, W) seg logits (:meth:`infer`)."""
        return self.infer(inputs)[0]

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        return self.encode_decode(inputs, [])

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Segment a batch (class docstring): ``seg_logits``, ``pred_sem_seg`` and
        ``uncertainty`` at ``ori_shape``."""
        if data_samples is None:
            raise ValueError('DDPMFeatureSegmentor.predict needs the data samples (their '
                             'ori_shape)')
        seg_logits, uncertainty = self.infer(inputs)
        results = self.postprocess_result(seg_logits, data_samples)
        for result, unc in zip(results, uncertainty):
            unc = self._undo_preprocessing(unc, result.metainfo)
            top = unc.flatten().sort().values[-max(unc.numel() // 10, 1):]
            result.set_data(dict(uncertainty=PixelData(data=unc)))
            result.set_metainfo(dict(uncertainty_score=float(top.mean())))
        return results

    @staticmethod
    def _undo_preprocessing(map_: Tensor, meta: dict) -> Tensor:
        """(1, H, W) map at the padded input → (1, H0, W0) at ``ori_shape`` (as mmseg's
        ``postprocess_result``: un-pad, un-flip, bilinear resize)."""
        left, right, top, bottom = meta.get('img_padding_size',
                                            meta.get('padding_size', (0, 0, 0, 0)))
        map_ = map_[:, top:map_.shape[1] - bottom, left:map_.shape[2] - right]
        if meta.get('flip', False):
            map_ = map_.flip(-1 if meta['flip_direction'] == 'horizontal' else -2)
        return F.interpolate(map_[None], size=meta['ori_shape'], mode='bilinear',
                             align_corners=False)[0]
