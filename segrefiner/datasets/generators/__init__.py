"""Generators of synthetic data: scenes, coarse masks and the files of a benchmark split."""
from .scenes import make_coarse_mask, make_sample, render_scene
from .writer import generate_synthetic_dataset, generate_synthetic_split

__all__ = ['render_scene', 'make_coarse_mask', 'make_sample', 'generate_synthetic_dataset',
           'generate_synthetic_split']
