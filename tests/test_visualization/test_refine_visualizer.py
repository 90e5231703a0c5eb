"""RefineLocalVisualizer: image | coarse | refined | GT panels through mmseg's visualizer."""
import cv2
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample

from segrefiner.engine.hooks import RefinedMaskWriterHook
from segrefiner.visualization import RefineLocalVisualizer, draw_refine_panel

H, W = 30, 40


def masks():
    coarse = np.zeros((H, W), bool)
    coarse[5:20, 8:30] = True
    refined = np.zeros((H, W), bool)
    refined[6:22, 10:32] = True
    return coarse, refined


def sample(img_path, out_name=None, gt=True):
    coarse, refined = masks()
    data_sample = SegDataSample(metainfo=dict(img_path=str(img_path), out_name=out_name))
    data_sample.pred_sem_seg = PixelData(data=torch.from_numpy(refined)[None].long())
    data_sample.coarse_sem_seg = PixelData(data=torch.from_numpy(coarse)[None].long())
    if gt:
        data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(refined)[None].long())
    return data_sample


def test_registered_and_panel_layout():
    vis = VISUALIZERS.build(dict(type='RefineLocalVisualizer', name='test_refine_vis_layout'))
    assert isinstance(vis, RefineLocalVisualizer)
    image = np.full((H, W, 3), 128, np.uint8)
    coarse, refined = masks()
    panel = vis.draw_refine_panel(image, coarse, refined, refined)
    assert panel.shape == (20 + H, 4 * W, 3) and panel.dtype == np.uint8
    assert panel[:3].min() == 255  # white caption strip
    # the image panel is the image; the refined panel is tinted green inside the mask
    assert (panel[20 + 2:20 + H - 2, 2:W - 2] == 128).all()
    inside = panel[20 + 14, 2 * W + 20]
    assert inside[1] > inside[0] and inside[1] > inside[2]
    assert vis.draw_refine_panel(image, coarse, refined).shape == (20 + H, 3 * W, 3)
    bgr = draw_refine_panel(image, coarse, refined, refined)
    assert bgr.shape == (20 + H, 4 * W, 3)


def test_out_dir_writes_by_output_name(tmp_path):
    img_path = tmp_path / 'img.jpg'
    cv2.imwrite(str(img_path), np.full((H, W, 3), 90, np.uint8))
    vis = RefineLocalVisualizer(name='test_refine_vis_out', out_dir=str(tmp_path / 'shows'))
    image = np.full((H, W, 3), 90, np.uint8)
    vis.add_datasample('x', image, sample(img_path, out_name='SET/a.png'))
    vis.add_datasample('y', image, sample(img_path, gt=False))
    assert cv2.imread(str(tmp_path / 'shows' / 'SET' / 'a.png')).shape == (20 + H, 4 * W, 3)
    assert cv2.imread(str(tmp_path / 'shows' / 'img.png')).shape == (20 + H, 3 * W, 3)


def test_writer_hook_masks_and_overlays(tmp_path):
    img_path = tmp_path / 'img.jpg'
    cv2.imwrite(str(img_path), np.full((H, W, 3), 90, np.uint8))
    hook = RefinedMaskWriterHook(out_dir=str(tmp_path / 'out'),
                                 overlay_dir=str(tmp_path / 'overlays'))
    hook.after_test_iter(None, 0, outputs=[sample(img_path)])
    mask = cv2.imread(str(tmp_path / 'out' / 'img.png'), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (H, W) and set(np.unique(mask)) == {0, 255}
    assert np.array_equal(mask > 0, masks()[1])
    assert cv2.imread(str(tmp_path / 'overlays' / 'img.png')).shape == (20 + H, 4 * W, 3)


def test_label_panel_colours_classes_and_boxes():
    vis = RefineLocalVisualizer(name='test_label_panel', alpha=1.0)
    image = np.zeros((H, W, 3), np.uint8)
    labels = np.zeros((H, W), np.int64)
    labels[5:15, 5:15] = 1
    labels[20:, 30:] = 255
    palette = [(0, 0, 0), (255, 0, 0)]
    panel = vis.draw_label_panel(image, dict(GT=labels, pred=labels), palette,
                                 boxes=dict(pred=np.array([[2, 2, 25, 25]])))
    assert panel.shape == (20 + H, 3 * W, 3)
    assert (panel[20:, :W] == 0).all()  # the image panel is the image
    assert tuple(panel[20 + 10, W + 10]) == (255, 0, 0)  # class 1 in its palette colour
    assert tuple(panel[20 + 25, W + 35]) == (128, 128, 128)  # ignored pixels in grey
    # the box is outlined on the 'pred' panel only
    assert panel[20 + 2, 2 * W + 12].tolist() == [255, 255, 0]
    assert panel[20 + 2, W + 12].tolist() != [255, 255, 0]
