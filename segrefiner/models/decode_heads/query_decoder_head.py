"""``QueryDecoderHead``: learned queries decoded against patchified features, MaskFormer-style
mask classification (one class score and one mask per query)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import Conv2d
from mmcv.ops import point_sample
from mmdet.models.layers import MLP, DetrTransformerDecoder, SinePositionalEncoding
from mmdet.models.utils import get_uncertain_point_coords_with_randomness, multi_apply
from mmdet.utils import reduce_mean
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from mmseg.registry import MODELS, TASK_UTILS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from mmseg.utils.mask_classification import seg_data_to_instance_data
from torch import Tensor, nn


@MODELS.register_module()
class QueryDecoderHead(BaseModule):
    """A transformer decoder of learned queries over patchified pyramid features.

    The head reads one pyramid level ``inputs[in_index]`` (p3: ``in_channels`` × H/8 × W/8 for
    a stride-8 level) and:

    1. patchifies it with a ``patch_size`` × ``patch_size`` convolution of stride
       ``patch_size`` into ``embed_dims`` tokens (H/16 × W/16 of them) with sine positional
       encodings;
    2. decodes ``num_queries`` learned queries (a learned content vector and a learned
       positional embedding each, as Mask2Former's) against the tokens (mmdet's
       ``DetrTransformerDecoder``: self-attention, cross-attention, FFN, post-norm);
    3. gives each query a class score over ``num_classes + 1`` classes (the last is
       "no object") and a mask: its mask embedding (3-layer MLP) dotted (einsum) with the
       per-pixel features (a 1×1 convolution of the level to ``embed_dims``), at the level's
       resolution.

    Training (:meth:`loss`): the GT label map becomes one binary mask per class present
    (mmseg's ``seg_data_to_instance_data``, ``ignore_index`` left out); queries are matched to
    them one-to-one by ``assigner`` (mmdet's ``HungarianAssigner`` with class, mask-BCE and Dice
    costs on ``num_points`` random points); the unmatched queries learn "no object"
    (``loss_cls`` with its ``class_weight``, the no-object class down-weighted); the matched
    masks learn their GT with ``loss_mask`` (BCE) and ``loss_dice`` on ``num_points`` points
    drawn by uncertainty (``oversample_ratio``, ``importance_sample_ratio``), as Mask2Former
    does. With ``deep_supervision`` every decoder layer's output gets the losses (keys
    ``d{i}.loss_*`` for the intermediate layers), otherwise only the last.

    Inference (:meth:`predict`): the masks are up-sampled bilinearly to the input size and
    combined MaskFormer-style into per-class maps
    ``seg_logits[c] = Σ_q softmax(cls_q)[c] · sigmoid(mask_q)`` (c < ``num_classes``).

    Args:
        in_channels (int): channels of the level read.
        num_classes (int): number of classes (the no-object class is added).
        num_queries (int): number of learned queries. Defaults to 100.
        embed_dims (int): width of the tokens, queries and pixel features. Defaults to 384.
        patch_size (int): side and stride of the patchify convolution. Defaults to 2.
        in_index (int): which of the inputs is read. Defaults to -1.
        transformer_decoder (dict): ``DetrTransformerDecoder`` arguments (``num_layers``,
            ``layer_cfg``, ...); its ``embed_dims`` must equal ``embed_dims``.
        positional_encoding (dict): ``SinePositionalEncoding`` arguments; ``num_feats`` is
            ``embed_dims // 2``.
        deep_supervision (bool): losses on every decoder layer. Defaults to True.
        num_points (int): points sampled per mask for the matching and the mask losses.
            Defaults to 12544 (112²).
        oversample_ratio (float): mmdet's uncertain-point over-sampling. Defaults to 3.0.
        importance_sample_ratio (float): fraction of the points chosen by uncertainty.
            Defaults to 0.75.
        assigner (dict): the query-to-GT assigner (``mmdet.HungarianAssigner``).
        loss_cls (dict): classification loss; its ``class_weight`` has ``num_classes + 1``
            entries.
        loss_mask (dict): per-point mask loss (sigmoid cross-entropy).
        loss_dice (dict): Dice loss on the points.
        ignore_index (int): label left out of the GT masks. Defaults to 255.
        align_corners (bool): of the up-sampling (and of mmseg's post-processing). Defaults to
            False.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_queries: int = 100,
                 embed_dims: int = 384,
                 patch_size: int = 2,
                 in_index: int = -1,
                 transformer_decoder: ConfigType = dict(
                     num_layers=6,
                     layer_cfg=dict(
                         self_attn_cfg=dict(embed_dims=384, num_heads=6, batch_first=True),
                         cross_attn_cfg=dict(embed_dims=384, num_heads=6, batch_first=True),
                         ffn_cfg=dict(embed_dims=384, feedforward_channels=2048))),
                 positional_encoding: ConfigType = dict(normalize=True),
                 deep_supervision: bool = True,
                 num_points: int = 12544,
                 oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75,
                 assigner: ConfigType = dict(
                     type='mmdet.HungarianAssigner',
                     match_costs=[
                         dict(type='mmdet.ClassificationCost', weight=2.0),
                         dict(type='mmdet.CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                         dict(type='mmdet.DiceCost', weight=5.0, pred_act=True, eps=1.0)
                     ]),
                 loss_cls: OptConfigType = None,
                 loss_mask: ConfigType = dict(
                     type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=5.0),
                 loss_dice: ConfigType = dict(
                     type='mmdet.DiceLoss', use_sigmoid=True, activate=True, naive_dice=True,
                     eps=1.0, loss_weight=5.0),
                 ignore_index: int = 255,
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if loss_cls is None:
            loss_cls = dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                            class_weight=[1.0] * num_classes + [0.1])
        class_weight = loss_cls.get('class_weight')
        if class_weight is None or len(class_weight) != num_classes + 1:
            raise ValueError(f'loss_cls.class_weight must have num_classes + 1 = '
                             f'{num_classes + 1} entries (the last for "no object"), got '
                             f'{class_weight!r}')
        self.num_classes = num_classes
        self.out_channels = num_classes  # mmseg's segmentors read it
        self.threshold = None
        self.num_queries = num_queries
        self.embed_dims = embed_dims
        self.in_index = in_index
        self.deep_supervision = deep_supervision
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.class_weight = list(class_weight)

        self.patchify = Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.pixel_proj = Conv2d(in_channels, embed_dims, 1)
        self.positional_encoding = SinePositionalEncoding(
            **dict(positional_encoding, num_feats=embed_dims // 2))
        self.transformer_decoder = DetrTransformerDecoder(**transformer_decoder)
        if self.transformer_decoder.embed_dims != embed_dims:
            raise ValueError(f'transformer_decoder works at {self.transformer_decoder.embed_dims} '
                             f'dims, the head at embed_dims={embed_dims}')
        self.query_feat = nn.Embedding(num_queries, embed_dims)
        self.query_embed = nn.Embedding(num_queries, embed_dims)
        self.cls_embed = nn.Linear(embed_dims, num_classes + 1)
        self.mask_embed = MLP(embed_dims, embed_dims, embed_dims, 3)

        self.assigner = TASK_UTILS.build(assigner)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_dice = MODELS.build(loss_dice)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: Sequence[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Class scores and mask logits of the queries.

        Args:
            inputs (Sequence[Tensor]): pyramid features; ``inputs[in_index]`` is
                (B, in_channels, h, w) with h and w multiples of ``patch_size``.

        Returns:
            tuple[list[Tensor], list[Tensor]]: per decoder layer (all of them with
            ``deep_supervision``, else the last only; the last layer last), the class logits
            (B, num_queries, num_classes + 1) and the mask logits (B, num_queries, h, w).
        """
        feat = inputs[self.in_index]
        batch_size = feat.shape[0]
        pixel_features = self.pixel_proj(feat)
        tokens = self.patchify(feat)  # (B, D, h/p, w/p)
        no_padding = tokens.new_zeros((batch_size, ) + tokens.shape[-2:], dtype=torch.bool)
        key_pos = self.positional_encoding(no_padding).flatten(2).transpose(1, 2)
        tokens = tokens.flatten(2).transpose(1, 2)  # (B, N, D)
        query = self.query_feat.weight.unsqueeze(0).expand(batch_size, -1, -1)
        query_pos = self.query_embed.weight.unsqueeze(0).expand(batch_size, -1, -1)
        outputs = self.transformer_decoder(
            query=query, key=tokens, value=tokens,
            query_pos=query_pos, key_pos=key_pos, key_padding_mask=None)  # (L, B, Q, D)
        if not self.deep_supervision:
            outputs = outputs[-1:]
        cls_scores = [self.cls_embed(out) for out in outputs]
        mask_preds = [torch.einsum('bqc,bchw->bqhw', self.mask_embed(out), pixel_features)
                      for out in outputs]
        return cls_scores, mask_preds

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: Sequence[Tensor], batch_img_metas: List[dict],
                test_cfg: OptConfigType = None) -> Tensor:
        """Per-class maps at the (padded) input size, for mmseg's post-processing.

        Args:
            inputs (Sequence[Tensor]): pyramid features (see :meth:`forward`).
            batch_img_metas (list[dict]): one per image, with ``pad_shape`` (H, W) (else
                ``img_shape``), the size of the (padded) input, as mmseg's MaskFormerHead reads.
            test_cfg (dict, optional): unused (mmseg's head signature).

        Returns:
            Tensor: (B, num_classes, H, W) float32, Σ_q softmax(cls_q)[c] · sigmoid(mask_q),
            in [0, num_queries] (a score, not a probability; the argmax is the predicted
            class).
        """
        cls_scores, mask_preds = self(inputs)
        meta = batch_img_metas[0]
        size = meta['pad_shape'] if 'pad_shape' in meta else meta['img_shape']
        return self.combine(cls_scores[-1], self.upsample(mask_preds[-1], size))

    @staticmethod
    def combine(cls_score: Tensor, mask_pred: Tensor) -> Tensor:
        """MaskFormer's semantic inference: (B, Q, C + 1) class logits and (B, Q, H, W) mask
        logits → (B, C, H, W) float32 class maps (the no-object class dropped)."""
        probs = cls_score.float().softmax(dim=-1)[..., :-1]
        return torch.einsum('bqc,bqhw->bchw', probs, mask_pred.float().sigmoid())

    def upsample(self, mask_pred: Tensor, size: Sequence[int]) -> Tensor:
        """Bilinear resize of (B, Q, h, w) mask logits to ``size`` (H, W)."""
        return F.interpolate(mask_pred, size=tuple(size), mode='bilinear',
                             align_corners=self.align_corners)

    # ------------------------------------------------------------------ training
    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: OptConfigType = None) -> dict:
        """Matching and losses.

        Args:
            inputs (Sequence[Tensor]): pyramid features (see :meth:`forward`).
            batch_data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W) at the
                input size.
            train_cfg (dict, optional): unused (mmseg's head signature).

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_mask``, ``loss_dice`` of the last layer and
            ``d{i}.loss_*`` of the intermediate ones (with ``deep_supervision``).
        """
        cls_scores, mask_preds = self(inputs)
        batch_gt_instances = seg_data_to_instance_data(self.ignore_index, batch_data_samples)
        losses_cls, losses_mask, losses_dice = multi_apply(
            self.loss_by_layer, cls_scores, mask_preds,
            batch_gt_instances=batch_gt_instances)
        losses = dict(loss_cls=losses_cls[-1], loss_mask=losses_mask[-1],
                      loss_dice=losses_dice[-1])
        for i, (cls_i, mask_i, dice_i) in enumerate(zip(losses_cls[:-1], losses_mask[:-1],
                                                         losses_dice[:-1])):
            losses.update({f'd{i}.loss_cls': cls_i, f'd{i}.loss_mask': mask_i,
                           f'd{i}.loss_dice': dice_i})
        return losses

    def get_targets_single(self, cls_score: Tensor, mask_pred: Tensor,
                           gt_instances: InstanceData) -> Tuple[Tensor, Tensor, Tensor]:
        """Match the queries of one image to its GT masks.

        Args:
            cls_score (Tensor): (Q, C + 1) class logits.
            mask_pred (Tensor): (Q, h, w) mask logits.
            gt_instances (InstanceData): ``labels`` (G, ) and ``masks`` (G, H, W) in {0, 1}.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``labels`` (Q, ) long, the matched GT's class or
            ``num_classes`` (no object); ``pos_inds`` (P, ) the matched queries, ascending;
            ``mask_targets`` (P, H, W) the GT mask of each matched query.
        """
        gt_labels, gt_masks = gt_instances.labels, gt_instances.masks
        num_queries, num_gts = cls_score.shape[0], gt_labels.shape[0]
        points = torch.rand((1, self.num_points, 2), device=cls_score.device)
        pred_points = point_sample(mask_pred.unsqueeze(1).float(),
                                   points.repeat(num_queries, 1, 1)).squeeze(1)
        gt_points = point_sample(gt_masks.unsqueeze(1).float(),
                                 points.repeat(num_gts, 1, 1)).squeeze(1)
        assign_result = self.assigner.assign(
            pred_instances=InstanceData(scores=cls_score, masks=pred_points),
            gt_instances=InstanceData(labels=gt_labels, masks=gt_points))
        pos_inds = torch.nonzero(assign_result.gt_inds > 0).squeeze(1)
        matched = assign_result.gt_inds[pos_inds] - 1
        labels = gt_labels.new_full((num_queries, ), self.num_classes, dtype=torch.long)
        labels[pos_inds] = gt_labels[matched].long()
        return labels, pos_inds, gt_masks[matched]

    def loss_by_layer(self, cls_scores: Tensor, mask_preds: Tensor,
                      batch_gt_instances: List[InstanceData]) -> Tuple[Tensor, Tensor, Tensor]:
        """The losses of one decoder layer's outputs.

        Args:
            cls_scores (Tensor): (B, Q, C + 1) class logits.
            mask_preds (Tensor): (B, Q, h, w) mask logits.
            batch_gt_instances (list[InstanceData]): the GT masks of each image.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``loss_cls``, ``loss_mask``, ``loss_dice``; the mask
            losses average over the matched masks of all ranks.
        """
        labels, pos_inds, mask_targets = multi_apply(self.get_targets_single, list(cls_scores),
                                                     list(mask_preds), batch_gt_instances)
        labels = torch.stack(labels).flatten()
        cls_scores = cls_scores.flatten(0, 1)
        class_weight = cls_scores.new_tensor(self.class_weight)
        loss_cls = self.loss_cls(cls_scores, labels, torch.ones_like(labels, dtype=torch.float),
                                 avg_factor=class_weight[labels].sum())

        matched_preds = torch.cat([preds[inds] for preds, inds in zip(mask_preds, pos_inds)])
        mask_targets = torch.cat(mask_targets)
        num_masks = max(float(reduce_mean(cls_scores.new_tensor([mask_targets.shape[0]]))), 1.0)
        if mask_targets.shape[0] == 0:  # nothing to match (every pixel ignored)
            zero = mask_preds.sum() * 0
            return loss_cls, zero, zero
        with torch.no_grad():
            points = get_uncertain_point_coords_with_randomness(
                matched_preds.unsqueeze(1).float(), None, self.num_points,
                self.oversample_ratio, self.importance_sample_ratio)
            target_points = point_sample(mask_targets.unsqueeze(1).float(), points).squeeze(1)
        pred_points = point_sample(matched_preds.unsqueeze(1).float(), points).squeeze(1)
        loss_dice = self.loss_dice(pred_points, target_points, avg_factor=num_masks)
        loss_mask = self.loss_mask(pred_points.reshape(-1), target_points.reshape(-1),
                                   avg_factor=num_masks * self.num_points)
        return loss_cls, loss_mask, loss_dice
