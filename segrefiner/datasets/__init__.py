"""Datasets and data transforms of segrefiner (registered in mmseg's registries)."""
from .big import BIGDataset
from .coco_humans import COCOHumansDataset
from .coco_refine import CocoRefineDataset
from .collate import multi_view_collate
from .composite import CompositeRefineDataset  # noqa: F401
from .ddpm_seg import (ADEBedroom30Dataset, Bedroom28Dataset, CelebA19Dataset, Cat15Dataset,
                       DDPMSegDataset, FFHQ34Dataset, Horse21Dataset, LoadNpyAnnotations)
from .dis import DISDataset
from .generators import generate_synthetic_dataset
from .hr_collection import HRCollectionDataset
from .lvis_refine import LVISRefineDataset
from .memmap_seg import MemmapSegDataset
from .oxford_pets import OxfordPetsDataset
from .p3m10k import P3M10kDataset
from .refine_folder import RefineFolderDataset
from .seg_folder import SegFolderDataset  # noqa: F401
from .supervisely_person import SuperviselyPersonDataset
from .synthetic import SyntheticRefineDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['RefineFolderDataset', 'SyntheticRefineDataset', 'generate_synthetic_dataset',
           'BIGDataset', 'DISDataset', 'HRCollectionDataset', 'multi_view_collate',
           'OxfordPetsDataset', 'COCOHumansDataset', 'CocoRefineDataset', 'LVISRefineDataset',
           'MemmapSegDataset', 'P3M10kDataset', 'SuperviselyPersonDataset']
__all__ += ['ADEBedroom30Dataset', 'Bedroom28Dataset', 'CelebA19Dataset', 'Cat15Dataset',
            'DDPMSegDataset', 'FFHQ34Dataset', 'Horse21Dataset', 'LoadNpyAnnotations']
