"""SAM with box prompts against the UNet baseline and the refiners, on the same images.

On the test split of a ResidualRefiner config the script runs the frozen UNet baseline, the
ResidualRefiner, optionally SegRefiner on the baseline's label map, and segment-anything's
``SamPredictor`` prompted with boxes:

* boxes (``--box-source``): ``baseline`` (default) takes one box per connected component
  (8-connectivity, at least ``--min-box-area`` pixels) of the baseline's object pixels
  (``--object-class`` and the border class); ``gt`` takes them from the GT instead (oracle
  boxes, an upper bound for prompting);
* each box gives one mask (``multimask_output=False``); their union is the object;
* SAM's binary mask enters the dataset's label space: object pixels get ``--object-class``,
  and when the dataset has a ``border`` class, the band of half-width ``--border-radius``
  around the mask's contour gets it (the rule of ``AddBorderClass``; by default the radius of
  the test pipeline's border transform, else 2); everything else is background (0).

All methods are scored alike (mIoU, mAcc, aAcc, boundary F1 at ``--bound-th`` pixels,
per-class accuracy, ms per image; SAM's time includes the image encoder, and with
``--box-source baseline`` the baseline too). Outputs in ``--out``: ``sam_compare.md`` (the
table, also printed), ``sam_compare.json``, ``sam_compare.png`` (mIoU and boundary F1 bars)
and ``overlays/<image>.png`` for the first ``--num-overlays`` images (image | GT | each
method, SAM's boxes drawn on its panel), all written atomically.

Usage::

    python tools/analysis_tools/sam_compare.py \\
        configs/residual_refiner/residual-refiner_unet-s5-d16-fcn_4xb4-20k_oxford-pets-256x256.py \\
        work_dirs/residual_refiner_pets/iter_20000.pth \\
        --sam-checkpoint checkpoints/sam_vit_b_01ec64.pth --sam-type vit_b \\
        --out work_dirs/sam_compare
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use('Agg')
import cv2  # noqa: E402
import mmcv  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from segment_anything import SamPredictor, sam_model_registry  # noqa: E402

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from segrefiner.apis import init_refiner  # noqa: E402
from segrefiner.datasets.transforms import add_border_class  # noqa: E402
from segrefiner.utils.io import write_image_atomic  # noqa: E402
from segrefiner.visualization import RefineLocalVisualizer  # noqa: E402
from study import (add_evaluation_arguments, add_segrefiner_arguments,  # noqa: E402
                   build_test_dataset, check_segrefiner_arguments, evaluate_methods,
                   load_study_config, plot_metric_bars, predict_label_map, require_file,
                   require_segrefiner_files, residual_refiner_method, results_table,
                   segmentor_method, segrefiner_method, study_main, write_study)

SAM_TYPES = ('vit_b', 'vit_l', 'vit_h')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='ResidualRefiner config (its test split is used)')
    parser.add_argument('checkpoint', help='ResidualRefiner checkpoint')
    parser.add_argument('--sam-checkpoint', required=True,
                        help='segment-anything checkpoint (e.g. sam_vit_b_01ec64.pth)')
    parser.add_argument('--sam-type', default='vit_b', choices=SAM_TYPES,
                        help='SAM image encoder of the checkpoint')
    parser.add_argument('--box-source', default='baseline', choices=('baseline', 'gt'),
                        help='where the box prompts come from')
    parser.add_argument('--object-class', type=int, default=1,
                        help='label of the object class (pet, person)')
    parser.add_argument('--border-radius', type=int,
                        help='half-width of the border band given to SAM\'s masks')
    parser.add_argument('--min-box-area', type=int, default=16,
                        help='smallest component (pixels) that gets a box')
    parser.add_argument('--num-steps', type=int, help='ResidualRefiner steps')
    parser.add_argument('--t-level', type=int, help='ResidualRefiner starting noise level')
    add_segrefiner_arguments(parser)
    parser.add_argument('--num-overlays', type=int, default=8,
                        help='overlays written for the first N images')
    add_evaluation_arguments(parser, out='work_dirs/sam_compare')
    args = parser.parse_args(argv)
    check_segrefiner_arguments(parser, args)
    return args


def build_sam_predictor(sam_type: str, checkpoint: str, device: str = 'cpu') -> SamPredictor:
    """A ``SamPredictor`` of segment-anything's ``sam_model_registry[sam_type]`` + checkpoint.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        ValueError: the checkpoint is not a SAM checkpoint of that type.
    """
    if sam_type not in SAM_TYPES:
        raise ValueError(f'sam_type must be one of {SAM_TYPES}, got {sam_type!r}')
    require_file(checkpoint, 'SAM checkpoint')
    sam = sam_model_registry[sam_type]()
    try:
        state_dict = torch.load(checkpoint, map_location='cpu', weights_only=True)
    except Exception as error:  # not a torch file, or not plain tensors
        raise ValueError(f'{checkpoint} is not a readable SAM checkpoint: '
                         f'{" ".join(str(error).split())[:200]}') from error
    if not isinstance(state_dict, dict):
        raise ValueError(f'{checkpoint} is not a SAM state dict (got a '
                         f'{type(state_dict).__name__})')
    expected = sam.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mis_shaped = sorted(k for k in set(expected) & set(state_dict)
                        if tuple(expected[k].shape) != tuple(state_dict[k].shape))
    if missing or unexpected or mis_shaped:
        example = (mis_shaped or missing or unexpected)[0]
        raise ValueError(f'{checkpoint} is not a SAM {sam_type} checkpoint: {len(missing)} '
                         f'missing, {len(unexpected)} unexpected and {len(mis_shaped)} '
                         f'mis-shaped parameters (e.g. {example}); check --sam-type')
    sam.load_state_dict(state_dict)
    return SamPredictor(sam.to(device).eval())


def object_boxes(label_map: np.ndarray, classes: Sequence[int], min_area: int) -> np.ndarray:
    """One XYXY box per 8-connected component of the pixels labelled one of ``classes``.

    Args:
        label_map (np.ndarray): (H, W) label map.
        classes (Sequence[int]): labels of the object region.
        min_area (int): components with fewer pixels are dropped.

    Returns:
        np.ndarray: (N, 4) float32 boxes ``x1, y1, x2, y2`` (x2, y2 exclusive).
    """
    mask = np.isin(label_map, list(classes)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = [(x, y, x + w, y + h) for x, y, w, h, area in stats[1:count] if area >= min_area]
    return np.asarray(boxes, np.float32).reshape(-1, 4)


@torch.no_grad()
def sam_label_map(predictor: SamPredictor, image_rgb: np.ndarray, boxes: np.ndarray,
                  object_class: int, border_class: Optional[int],
                  border_radius: int) -> np.ndarray:
    """SAM's masks for ``boxes`` as a label map of the dataset's classes (see module doc).

    Args:
        predictor (SamPredictor): the predictor.
        image_rgb (np.ndarray): (H, W, 3) uint8 RGB image.
        boxes (np.ndarray): (N, 4) XYXY box prompts (N may be 0).
        object_class (int): label of SAM's mask pixels.
        border_class (int, optional): label of the band around the mask's contour.
        border_radius (int): half-width of that band.

    Returns:
        np.ndarray: (H, W) int64 label map (0 background).
    """
    height, width = image_rgb.shape[:2]
    mask = np.zeros((height, width), bool)
    if len(boxes):
        predictor.set_image(image_rgb)
        prompts = predictor.transform.apply_boxes_torch(
            torch.as_tensor(boxes, device=predictor.device), (height, width))
        masks, _, _ = predictor.predict_torch(None, None, boxes=prompts, multimask_output=False)
        mask = masks[:, 0].any(dim=0).cpu().numpy()
    label = np.zeros((height, width), np.uint8)
    label[mask] = object_class
    if border_class is not None and mask.any():
        label = add_border_class(label, mask, border_radius, border_class)
    return label.astype(np.int64)


class SamBoxMethod:
    """The SAM method of the study: box prompts from the baseline's (or the GT's) objects.

    Calling it with a dataset item returns SAM's label map (:func:`sam_label_map`); the boxes
    of the last call stay in ``boxes`` (for the overlays).

    Args:
        predictor (SamPredictor): the predictor.
        baseline (nn.Module): the segmentor whose label map gives the boxes.
        box_source (str): ``'baseline'`` or ``'gt'``.
        object_classes (Sequence[int]): labels of the object region the boxes enclose.
        object_class (int): label of SAM's mask pixels.
        border_class (int, optional): label of the band around SAM's mask.
        border_radius (int): half-width of that band.
        min_box_area (int): smallest component that gets a box.
    """

    def __init__(self, predictor: SamPredictor, baseline: torch.nn.Module, box_source: str,
                 object_classes: Sequence[int], object_class: int,
                 border_class: Optional[int], border_radius: int, min_box_area: int) -> None:
        self.predictor = predictor
        self.baseline = baseline
        self.box_source = box_source
        self.object_classes = list(object_classes)
        self.object_class = object_class
        self.border_class = border_class
        self.border_radius = border_radius
        self.min_box_area = min_box_area
        self.boxes = np.zeros((0, 4), np.float32)

    def __call__(self, data: dict) -> np.ndarray:
        sample = data['data_samples']
        if self.box_source == 'gt':
            source = sample.gt_sem_seg.data[0].numpy()
        else:
            source = predict_label_map(self.baseline, data)
        self.boxes = object_boxes(source, self.object_classes, self.min_box_area)
        image = mmcv.imread(sample.img_path, channel_order='rgb')
        return sam_label_map(self.predictor, image, self.boxes, self.object_class,
                             self.border_class, self.border_radius)


def pipeline_border_radius(cfg: Config) -> Optional[int]:
    """``border_radius`` of the test pipeline's border transform, if it has one."""
    for transform in cfg.test_dataloader.dataset.get('pipeline', []):
        if 'border_radius' in transform:
            return int(transform['border_radius'])
    return None


def plot_comparison(results: Dict[str, dict], title: str):
    """Bars of mIoU and boundary F1 per method."""
    return plot_metric_bars(results, title, rotation=15)


def compare(args: argparse.Namespace, predictor: SamPredictor) -> dict:
    """Evaluate the baseline, the refiners and SAM (``predictor``); write the outputs.

    Args:
        args (argparse.Namespace): the parsed arguments (the SAM ones are not used).
        predictor (SamPredictor): the SAM predictor to prompt.

    Returns:
        dict: the results by method.
    """
    require_file(args.config, 'ResidualRefiner config')
    require_file(args.checkpoint, 'ResidualRefiner checkpoint')
    require_segrefiner_files(args)
    cfg = load_study_config(args.config, args.cfg_options, 'sam_compare')
    model = init_refiner(cfg, args.checkpoint, device=args.device)
    num_steps = args.num_steps or model.test_cfg.num_steps
    t_level = args.t_level if args.t_level is not None else model.test_cfg.t_level
    model.merge_test_cfg(dict(num_steps=num_steps, t_level=t_level))
    dataset = build_test_dataset(cfg, args.max_images)
    classes = list(dataset.metainfo['classes'])
    palette = dataset.metainfo['palette']
    border_class = classes.index('border') if 'border' in classes else None
    border_radius = args.border_radius or pipeline_border_radius(cfg) or 2
    if not 0 < args.object_class < len(classes):
        raise ValueError(f'--object-class must be a non-background class of {classes}, got '
                         f'{args.object_class}')

    methods = dict(baseline=segmentor_method(model.baseline),
                   residual=residual_refiner_method(model, num_steps, t_level, args.seed))
    if args.segrefiner_config:
        segrefiner = init_refiner(args.segrefiner_config, args.segrefiner_checkpoint,
                                  device=args.device)
        methods['segrefiner'] = segrefiner_method(model.baseline, segrefiner,
                                                  args.segrefiner_steps, args.seed)
    object_classes = [args.object_class] + ([border_class] if border_class is not None else [])
    sam = SamBoxMethod(predictor, model.baseline, args.box_source, object_classes,
                       args.object_class, border_class, border_radius, args.min_box_area)
    methods[f'sam[{args.box_source} boxes]'] = sam

    visualizer = RefineLocalVisualizer(name='sam_compare_overlays', alpha=0.55)

    def write_overlay(index: int, data: dict, preds: Dict[str, np.ndarray]) -> None:
        if index >= args.num_overlays:
            return
        sample = data['data_samples']
        maps = dict(GT=sample.gt_sem_seg.data[0].numpy(), **preds)
        panel = visualizer.draw_label_panel(
            mmcv.imread(sample.img_path, channel_order='rgb'), maps, palette,
            boxes={f'sam[{args.box_source} boxes]': sam.boxes})
        name = osp.splitext(osp.basename(sample.img_path))[0] + '.png'
        write_image_atomic(osp.join(args.out, 'overlays', name), mmcv.rgb2bgr(panel))

    print(f'{len(dataset)} test images, {len(methods)} methods')
    results = evaluate_methods(dataset, methods, bound_th=args.bound_th, warmup=args.warmup,
                               callback=write_overlay)
    table = results_table(results)
    print('\n' + table)
    figure = plot_comparison(results, f'SAM ({args.box_source} boxes) vs. UNet and refiners')
    write_study(args.out, 'sam_compare', table,
                dict(config=args.config, checkpoint=args.checkpoint, sam_type=args.sam_type,
                     sam_checkpoint=args.sam_checkpoint, box_source=args.box_source,
                     border_radius=border_radius, num_steps=num_steps, t_level=t_level,
                     bound_th=args.bound_th, results=results), figure,
                also_written=[osp.join(args.out, 'overlays') + '/'])
    return results


def run(args: argparse.Namespace) -> dict:
    """Check the inputs, build the SAM predictor and :func:`compare`."""
    require_file(args.config, 'ResidualRefiner config')
    require_file(args.checkpoint, 'ResidualRefiner checkpoint')
    return compare(args, build_sam_predictor(args.sam_type, args.sam_checkpoint, args.device))


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    return study_main(run, parse_args, argv)


if __name__ == '__main__':
    sys.exit(main())
