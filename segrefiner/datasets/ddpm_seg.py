"""The six datasets of ddpm-segmentation in its release layout, and their ``.npy`` label loader.

.. code-block:: none

    datasets/horse_21/real/
    ├── train/  image_0.png  image_0.npy  image_1.png  image_1.npy ...
    └── test/   ...

Every image (``.png``/``.jpg``/``.jpeg``, square) has a label map of the same stem in ``.npy``
(H×W integers: class indices, 255 unlabelled). Class lists (index = label value) and the
training / test counts are ddpm-segmentation's (docs/ddpm_features.md, 'Datasets').
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS, TRANSFORMS
from PIL import Image

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg')
IGNORE_INDEX = 255


def voc_palette(num_classes: int) -> List[List[int]]:
    """PASCAL VOC's bit-interleaved colour map: background black, distinct colours after."""
    palette = []
    for index in range(num_classes):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.append([r, g, b])
    return palette


def check_label_map(path: str, num_classes: int) -> None:
    """Refuse a label map that is not 2-D integers in [0, num_classes) ∪ {255}."""
    try:
        label = np.load(path, mmap_mode='r', allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f'label map {path} is not a readable .npy array: {exc}') from None
    if label.ndim != 2 or not (np.issubdtype(label.dtype, np.integer)
                               or np.issubdtype(label.dtype, np.floating)):
        raise ValueError(f'label map {path} must be a 2-D (H, W) array of class indices, got '
                         f'shape {label.shape} and dtype {label.dtype}')
    values = np.unique(np.asarray(label))
    bad = values[((values < 0) | (values >= num_classes) | (values != np.round(values)))
                 & (values != IGNORE_INDEX)]
    if bad.size:
        raise ValueError(f'label map {path} has values {bad[:10].tolist()} outside the '
                         f'{num_classes} classes [0, {num_classes - 1}] and the ignore label '
                         f'{IGNORE_INDEX}')


@DATASETS.register_module()
class DDPMSegDataset(BaseSegDataset):
    """Images with ``.npy`` label maps of the same stem in one folder (ddpm-segmentation).

    The folder ``data_root/data_prefix['img_path']`` (e.g. ``real/train``) is read at
    construction: every image must have its ``.npy`` (else ``FileNotFoundError`` naming it),
    be square and have a label map of integer classes below ``len(classes)`` or 255
    (else ``ValueError`` naming the file). Files are sorted by name; ``num_images`` takes the
    first ones, as the original's ``training_number``. Subclasses set ``METAINFO``
    (classes, palette) and the split sizes of the experiment files (``SPLIT_SIZES``).

    Args:
        num_images (int, optional): use the first ``num_images`` files (error if fewer).
        **kwargs: :class:`mmseg.datasets.BaseSegDataset`'s arguments.
    """
    METAINFO: dict = dict()  # the subclasses' classes and palette, or the metainfo argument
    SPLIT_SIZES = dict(train=None, test=None)

    def __init__(self, num_images: Optional[int] = None, **kwargs) -> None:
        self.num_images = num_images
        kwargs.setdefault('data_prefix', dict(img_path='real/train'))
        kwargs.setdefault('ignore_index', IGNORE_INDEX)
        super().__init__(img_suffix='', seg_map_suffix='.npy', **kwargs)

    def load_data_list(self) -> List[dict]:
        """The image / label pairs of the folder, checked (see the class docstring)."""
        folder = self.data_prefix['img_path']
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{type(self).__name__}: image folder {folder} not found '
                                    f"(the release layout is <root>/real/{{train,test}}/)")
        images = sorted(f for f in os.listdir(folder)
                        if osp.splitext(f)[1].lower() in IMG_EXTENSIONS)
        if self.num_images is not None:
            if len(images) < self.num_images:
                raise ValueError(f'{folder} has {len(images)} images, num_images asks for '
                                 f'{self.num_images}')
            images = images[:self.num_images]
        if not images:
            raise FileNotFoundError(f'no image ({"/".join(IMG_EXTENSIONS)}) in {folder}')
        if not self.metainfo.get('classes'):
            raise ValueError(f'{type(self).__name__} needs the class names: use a subclass '
                             f'(Horse21Dataset, ...) or metainfo=dict(classes=..., palette=...)')
        num_classes = len(self.metainfo['classes'])
        data_list = []
        for name in images:
            img_path = osp.join(folder, name)
            seg_map_path = osp.join(folder, osp.splitext(name)[0] + '.npy')
            if not osp.isfile(seg_map_path):
                raise FileNotFoundError(f'label map {seg_map_path} of image {img_path} not '
                                        f'found (each image needs a .npy of the same stem)')
            with Image.open(img_path) as image:
                width, height = image.size
            if width != height:
                raise ValueError(f'image {img_path} is {width}x{height}: the datasets of '
                                 f'ddpm-segmentation are square')
            check_label_map(seg_map_path, num_classes)
            data_list.append(dict(img_path=img_path, seg_map_path=seg_map_path,
                                  label_map=self.label_map,
                                  reduce_zero_label=self.reduce_zero_label, seg_fields=[]))
        return data_list


@TRANSFORMS.register_module()
class LoadNpyAnnotations(BaseTransform):
    """Load ``results['seg_map_path']`` (a 2-D ``.npy``) as ``gt_seg_map`` (H, W) uint8.

    Added Keys: ``gt_seg_map``; ``seg_fields`` gets ``'gt_seg_map'``.
    """

    def transform(self, results: dict) -> dict:
        label = np.load(results['seg_map_path'], allow_pickle=False)
        results['gt_seg_map'] = label.astype(np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results


def _dataset(name: str, classes: Sequence[str], train: int, test: int) -> type:
    cls = type(name, (DDPMSegDataset, ), dict(
        METAINFO=dict(classes=tuple(classes), palette=voc_palette(len(classes))),
        SPLIT_SIZES=dict(train=train, test=test),
        __doc__=f'ddpm-segmentation\'s {name[:-len("Dataset")]}: {len(classes)} classes, '
        f'{train} training and {test} test images.'))
    return DATASETS.register_module(module=cls)


HORSE_21 = ('background', 'person', 'back', 'barrel', 'bridle', 'chest', 'ear', 'eye',
            'forelock', 'head', 'hoof', 'leg', 'mane', 'muzzle', 'neck', 'nostril', 'tail',
            'thigh', 'saddle', 'shoulder', 'leg protection')
CAT_15 = ('background', 'back', 'belly', 'chest', 'leg', 'paw', 'head', 'ear', 'eye', 'mouth',
          'tongue', 'nose', 'tail', 'whiskers', 'neck')
CELEBA_19 = ('background', 'cloth', 'ear_r', 'eye_g', 'hair', 'hat', 'l_brow', 'l_ear', 'l_eye',
             'l_lip', 'mouth', 'neck', 'neck_l', 'nose', 'r_brow', 'r_ear', 'r_eye', 'skin',
             'u_lip')
BEDROOM_28 = ('background', 'bed', 'bed***footboard', 'bed***headboard', 'bed***side rail',
              'carpet', 'ceiling', 'chandelier / ceiling fan blade', 'curtain', 'cushion',
              'floor', 'table/nightstand/dresser', 'table/nightstand/dresser***top',
              'picture / mirrow', 'pillow', 'lamp***column', 'lamp***shade', 'wall', 'window',
              'curtain rod', 'window***frame', 'chair', 'picture / mirror***frame', 'plinth',
              'door / door frame', 'pouf', 'wardrobe', 'plant', 'table staff')
FFHQ_34 = ('background', 'head', 'head***cheek', 'head***chin', 'head***ear',
           'head***ear***helix', 'head***ear***lobule', 'head***eye***bottom lid',
           'head***eye***eyelashes', 'head***eye***iris', 'head***eye***pupil',
           'head***eye***sclera', 'head***eye***tear duct', 'head***eye***top lid',
           'head***eyebrow', 'head***forehead', 'head***frown', 'head***hair',
           'head***hair***sideburns', 'head***jaw', 'head***moustache',
           'head***mouth***inferior lip', 'head***mouth***oral commissure',
           'head***mouth***superior lip', 'head***mouth***teeth', 'head***neck', 'head***nose',
           'head***nose***ala of nose', 'head***nose***bridge', 'head***nose***nose tip',
           'head***nose***nostril', 'head***philtrum', 'head***temple', 'head***wrinkles')
ADE_BEDROOM_30 = ('wall', 'bed', 'floor', 'table', 'lamp', 'ceiling', 'painting', 'windowpane',
                  'pillow', 'curtain', 'cushion', 'door', 'chair', 'cabinet', 'chest', 'mirror',
                  'rug', 'armchair', 'book', 'sconce', 'plant', 'wardrobe', 'clock', 'light',
                  'flower', 'vase', 'fan', 'box', 'shelf', 'television')

Horse21Dataset = _dataset('Horse21Dataset', HORSE_21, train=30, test=20)
Cat15Dataset = _dataset('Cat15Dataset', CAT_15, train=30, test=20)
CelebA19Dataset = _dataset('CelebA19Dataset', CELEBA_19, train=20, test=500)
Bedroom28Dataset = _dataset('Bedroom28Dataset', BEDROOM_28, train=40, test=20)
FFHQ34Dataset = _dataset('FFHQ34Dataset', FFHQ_34, train=20, test=20)
ADEBedroom30Dataset = _dataset('ADEBedroom30Dataset', ADE_BEDROOM_30, train=50, test=650)
