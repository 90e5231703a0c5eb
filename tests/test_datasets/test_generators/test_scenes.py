"""segrefiner.datasets.generators.scenes: the synthetic scenes and their coarse masks."""
import cv2
import numpy as np
import pytest

from segrefiner.datasets.generators import scenes
from segrefiner.datasets.transforms import mask_iou


def test_scenes_have_the_intended_difficulties():
    """Over a batch of scenes: several objects, holes, thin parts, all coarse kinds,
    realistic coarse IoUs, and objects that stand out from their surroundings."""
    infos, contrasts, textures, thin, holes = [], [], [], 0, 0
    for index in range(24):
        img, gt, coarse, info = scenes.make_sample(np.random.default_rng([5, 0, index]),
                                                   (96, 96))
        infos.append(info)
        assert gt.dtype == coarse.dtype == np.uint8 and coarse.any()
        assert info['coarse_iou'] == pytest.approx(mask_iou(gt, coarse), abs=1e-4)
        # thin parts: foreground that a 5x5 opening removes
        opened = cv2.morphologyEx(gt, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        thin += int((gt > opened).sum() > 10)
        # holes: background components enclosed by the GT
        _, hierarchy = cv2.findContours(gt, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        holes += int(hierarchy is not None and (hierarchy[0][:, 3] >= 0).any())
        # the GT outline is a visible edge: image gradients there are well above typical
        pixels = img.astype(np.float32)
        magnitude = np.hypot(cv2.Sobel(pixels, cv2.CV_32F, 1, 0),
                             cv2.Sobel(pixels, cv2.CV_32F, 0, 1)).max(2)
        outline = cv2.morphologyEx(gt, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        contrasts.append(np.median(magnitude[outline.astype(bool)]) / np.median(magnitude))
        # objects are textured, not flat colour
        textures.append(img[cv2.erode(gt, np.ones((5, 5), np.uint8)).astype(bool)].std(0).max())
    assert sum(i['num_objects'] > 1 for i in infos) >= 5
    assert thin >= 12 and holes >= 6 and sum(i['rods'] > 0 for i in infos) >= 8
    assert {i['coarse_kind'] for i in infos} == set(scenes.COARSE_KINDS)
    ious = np.array([i['coarse_iou'] for i in infos])
    low, high = scenes.COARSE_IOU_RANGE
    assert np.mean((ious >= low) & (ious <= high)) >= 0.9
    assert min(contrasts) > 1.5 and np.median(contrasts) > 4
    assert np.median(textures) > 10 and np.mean(np.array(textures) > 5) >= 0.8
