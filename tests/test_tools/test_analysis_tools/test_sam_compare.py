"""tools/analysis_tools/sam_compare.py with a tiny, randomly initialised SAM built from
segment-anything."""
import json
from functools import partial

import cv2
import numpy as np
import pytest
import torch
from segment_anything import SamPredictor
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)

from segrefiner.datasets.transforms import border_band
from semantic_study import REFINER_CONFIG, load_script, read_table, trained_study

EMBED = 32


def tiny_sam() -> Sam:
    """SAM with a one-block 64-pixel ViT (4x4 embeddings) and a one-layer decoder."""
    torch.manual_seed(0)
    return Sam(
        image_encoder=ImageEncoderViT(img_size=64, patch_size=16, embed_dim=32, depth=1,
                                      num_heads=2, out_chans=EMBED,
                                      norm_layer=partial(torch.nn.LayerNorm, eps=1e-6)),
        prompt_encoder=PromptEncoder(embed_dim=EMBED, image_embedding_size=(4, 4),
                                     input_image_size=(64, 64), mask_in_chans=4),
        mask_decoder=MaskDecoder(
            transformer_dim=EMBED,
            transformer=TwoWayTransformer(depth=1, embedding_dim=EMBED, mlp_dim=32,
                                          num_heads=2),
            num_multimask_outputs=3, iou_head_depth=1, iou_head_hidden_dim=16)).eval()


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    return trained_study(tmp_path_factory)


@pytest.fixture(scope='module')
def script():
    return load_script('sam_compare')


@pytest.mark.parametrize('box_source', ['baseline', 'gt'])
def test_compare_writes_table_and_overlays(study, script, tmp_path, box_source):
    out = tmp_path / 'out'
    args = script.parse_args([
        str(REFINER_CONFIG), str(study['refiner']), '--sam-checkpoint', 'unused.pth',
        '--box-source', box_source, '--num-overlays', '2', '--min-box-area', '4',
        '--segrefiner-config', str(study['segrefiner_config']), '--segrefiner-checkpoint',
        str(study['segrefiner_checkpoint']), '--segrefiner-steps', '2', '--out', str(out),
        '--cfg-options', *study['options']
    ])
    results = script.compare(args, SamPredictor(tiny_sam()))
    sam_name = f'sam[{box_source} boxes]'
    assert list(results) == ['baseline', 'residual', 'segrefiner', sam_name]
    assert list(read_table(out / 'sam_compare.md')) == list(results)
    summary = json.loads((out / 'sam_compare.json').read_text())
    assert summary['border_radius'] == 1  # from the test pipeline's AddBorderClass
    overlays = sorted(p.name for p in (out / 'overlays').iterdir())
    assert overlays == ['val_00000.png', 'val_00001.png']
    panel = cv2.imread(str(out / 'overlays' / overlays[0]))
    assert panel.shape == (48 + 20, 6 * 48, 3)  # image, GT and four methods
    assert cv2.imread(str(out / 'sam_compare.png')) is not None


def test_sam_label_map_and_boxes(script, monkeypatch):
    label = np.zeros((64, 64), np.int64)
    label[5:20, 8:30] = 1
    label[40:60, 40:44] = 2
    label[0, 63] = 1  # below min_area
    boxes = script.object_boxes(label, [1, 2], min_area=4)
    np.testing.assert_array_equal(boxes, [[8, 5, 30, 20], [40, 40, 44, 60]])

    predictor = SamPredictor(tiny_sam())
    prompts = []

    def predict_torch(point_coords, point_labels, boxes=None, multimask_output=True):
        """One mask per box: the box itself."""
        prompts.append(boxes)
        masks = torch.zeros(len(boxes), 1, 64, 64, dtype=torch.bool)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, int)):
            masks[i, 0, y1:y2, x1:x2] = True
        return masks, torch.ones(len(boxes), 1), None

    monkeypatch.setattr(predictor, 'predict_torch', predict_torch)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = script.sam_label_map(predictor, image, boxes, 1, 2, 1)
    # the image is already at SAM's input size, so the prompts are the boxes themselves
    np.testing.assert_array_equal(prompts[0].numpy(), boxes)
    union = np.zeros((64, 64), bool)
    union[5:20, 8:30] = union[40:60, 40:44] = True
    expected = np.where(union, 1, 0)
    expected[border_band(union, 1)] = 2
    np.testing.assert_array_equal(out, expected)
    assert not script.sam_label_map(predictor, image, boxes[:0], 1, 2, 1).any()
    assert len(prompts) == 1  # no boxes: SAM is not run


def test_sam_checkpoint_errors(study, script, tmp_path, capsys):
    argv = [str(REFINER_CONFIG), str(study['refiner']), '--sam-checkpoint',
            str(tmp_path / 'sam_missing.pth')]
    assert script.main(argv) == 1
    assert 'SAM checkpoint not found: ' in capsys.readouterr().err
    bad = tmp_path / 'not_sam.pth'
    torch.save(tiny_sam().state_dict(), bad)
    with pytest.raises(ValueError, match=r'not_sam\.pth is not a SAM vit_b checkpoint: \d+ '
                       r'missing, 0 unexpected and \d+ mis-shaped parameters .*--sam-type'):
        script.build_sam_predictor('vit_b', str(bad))
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match=r'not_sam\.pth is not a readable SAM checkpoint'):
        script.build_sam_predictor('vit_b', str(bad))
    with pytest.raises(SystemExit):
        script.parse_args([str(REFINER_CONFIG), 'x.pth', '--sam-checkpoint', 'y.pth',
                           '--sam-type', 'vit_x'])
