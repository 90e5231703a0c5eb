"""``QuerySegmentor``: backbone + neck + a query decoder head, mask classification."""
from typing import Dict

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList
from torch import Tensor


@MODELS.register_module()
class QuerySegmentor(EncoderDecoder):
    """A query-based segmentor: CNN features, a transformer decoder of learned queries, one
    class score and one mask per query (the hybrid CNN + transformer segmenter).

    The flow is mmseg's ``EncoderDecoder`` with a mask-classification head
    (:class:`QueryDecoderHead`)::

        extract_feat (backbone → neck) → decode_head
        loss:    decode_head.loss (Hungarian matching, class + mask + Dice losses)
        predict: decode_head.predict (per-class maps at the input size)
                 → postprocess_result (un-pad, un-flip, resize to ori_shape, argmax)
        tensor:  the last decoder layer's queries at the input size (below)

    ``predict`` gives ``SegDataSample`` s with ``seg_logits`` (C, H, W), the MaskFormer
    combination ``Σ_q softmax(cls_q)[c] · sigmoid(mask_q)``, and ``pred_sem_seg`` (1, H, W),
    its argmax, at ``ori_shape``: mmseg's ``IoUMetric`` and the boundary metrics read them
    unchanged. ``test_cfg.mode='slide'`` runs mmseg's sliding-window inference.

    Args:
        See :class:`mmseg.models.segmentors.EncoderDecoder`; ``decode_head`` is a
        :class:`QueryDecoderHead` config.
    """

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Dict[str, Tensor]:
        """The queries' raw outputs (``mode='tensor'``), as the seed's network returns them.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            data_samples (list[SegDataSample], optional): unused.

        Returns:
            dict[str, Tensor]: ``pred_logits`` (B, Q, num_classes + 1) class logits of the
            last decoder layer (the last class is "no object") and ``pred_masks``
            (B, Q, H, W) its mask logits, up-sampled bilinearly to the input size.
        """
        cls_scores, mask_preds = self.decode_head(self.extract_feat(inputs))
        return dict(pred_logits=cls_scores[-1],
                    pred_masks=self.decode_head.upsample(mask_preds[-1], inputs.shape[-2:]))

