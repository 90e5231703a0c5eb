from .overlay import draw_refine_panel, overlay_mask

__all__ = ['draw_refine_panel', 'overlay_mask']
