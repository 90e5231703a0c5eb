from .overlay import draw_refine_panel, overlay_mask
from .refine_visualizer import RefineLocalVisualizer, output_name, sample_mask

__all__ = ['RefineLocalVisualizer', 'draw_refine_panel', 'output_name', 'overlay_mask',
           'sample_mask']
