"""Write the refined instances of ``runner.test()`` as a COCO results JSON."""
import logging
from typing import List, Optional, Sequence

from mmengine.dist import collect_results, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS

from ...evaluation.instance.coco_results import dump_results, instances_to_results


@HOOKS.register_module()
class InstanceResultsWriterHook(Hook):
    """Collect each test sample's ``pred_instances`` and write ``{out_prefix}.segm.json``.

    The file is in the COCO results format (one dict per instance: ``image_id``,
    ``category_id``, ``bbox`` [x, y, w, h], ``score``, ``segmentation`` as compressed RLE), so
    pycocotools' ``COCO.loadRes``, ``lvis.LVISResults`` and ``scripts/eval_json.py`` read it.
    Category ids come from the test dataset's ``metainfo['cat_ids']`` (one per label).

    Results of all ranks are gathered (mmengine's ``collect_results``) and rank 0 writes the
    file atomically (temporary file + rename), so an interrupted run never leaves a truncated
    JSON. With ``progress=True`` rank 0 shows a progress bar over the test images. The masks are
    encoded with mmdet's ``encode_mask_results`` (pycocotools), as mmdet's ``CocoMetric`` does.

    Why a hook and not mmdet's ``CocoMetric(format_only=True)``: that metric takes the place of
    (or sits beside) the test evaluator and maps labels to category ids through the COCO GT
    (``ann_file`` or GT instances in the samples), whereas refining without GT
    (``test_evaluator=[]``) must still write the file; and it writes ``{prefix}.bbox.json`` as
    well as ``{prefix}.segm.json``, with ``mmengine.dump`` rather than atomically.

    Args:
        out_prefix (str): output path without the ``.segm.json`` suffix.
        progress (bool): show a progress bar. Defaults to True.
    """

    priority = 'LOW'

    def __init__(self, out_prefix: str, progress: bool = True) -> None:
        if not out_prefix:
            raise ValueError('InstanceResultsWriterHook needs a non-empty out_prefix')
        self.out_prefix = out_prefix
        self.progress = progress
        self._results: List[List[dict]] = []
        self._cat_ids: Sequence[int] = ()
        self._size = 0
        self._bar: Optional[ProgressBar] = None

    @property
    def out_file(self) -> str:
        """The JSON path, ``{out_prefix}.segm.json``."""
        return f'{self.out_prefix}.segm.json'

    def before_test_epoch(self, runner) -> None:
        dataset = runner.test_dataloader.dataset
        cat_ids = dataset.metainfo.get('cat_ids')
        if cat_ids is None:
            raise KeyError(f'InstanceResultsWriterHook needs the test dataset\'s '
                           f'metainfo["cat_ids"]; {type(dataset).__name__} has none (use '
                           'CocoRefineDataset)')
        self._cat_ids = cat_ids
        self._size = len(dataset)
        self._results = []
        rank, _ = get_dist_info()
        self._bar = ProgressBar(self._size) if self.progress and rank == 0 else None

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or []:
            if 'pred_instances' not in sample:
                raise KeyError('InstanceResultsWriterHook needs pred_instances; run the Refiner '
                               'with test_cfg.mode="instance"')
            self._results.append(instances_to_results(sample.pred_instances,
                                                      sample.metainfo['img_id'], self._cat_ids))
        if self._bar is not None:
            _, world_size = get_dist_info()
            step = min(len(outputs or []) * world_size, self._size - self._bar.completed)
            if step > 0:
                self._bar.update(step)
            if self._bar.completed >= self._size:
                self._bar.file.write('\n')
                self._bar = None

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        per_image = collect_results(self._results, self._size, device='cpu')
        self._results = []
        self._bar = None
        if get_dist_info()[0] != 0:
            return
        detections = [det for image in per_image for det in image]
        dump_results(detections, self.out_file)
        print_log(f'wrote {len(detections)} refined instances of {len(per_image)} images to '
                  f'{self.out_file}', logger='current', level=logging.INFO)
