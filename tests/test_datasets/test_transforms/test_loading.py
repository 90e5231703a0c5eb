import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

from segrefiner.datasets.transforms import (LoadBinaryAnnotations, LoadCoarseMask,
                                            LoadRefineImageFromFile, read_binary_mask)
from ..utils import write_png, write_sample


@pytest.fixture
def sample(tmp_path):
    arrays = write_sample(str(tmp_path), 'a', shape=(30, 40))
    results = dict(
        img_path=str(tmp_path / 'images' / 'a.jpg'),
        seg_map_path=str(tmp_path / 'masks' / 'a.png'),
        coarse_path=str(tmp_path / 'coarse' / 'a.png'),
        seg_fields=[])
    return results, arrays


def test_registered():
    for name in ('LoadRefineImageFromFile', 'LoadBinaryAnnotations', 'LoadCoarseMask'):
        assert TRANSFORMS.get(name) is not None


def test_load_image(sample):
    results, arrays = sample
    out = LoadRefineImageFromFile()(results)
    assert out['img'].dtype == np.uint8 and out['img'].shape == (30, 40, 3)
    np.testing.assert_array_equal(out['img'], arrays['img'])
    assert out['img_shape'] == out['ori_shape'] == (30, 40)


def test_load_image_rejects_file_client_args():
    with pytest.raises(ValueError, match='backend_args'):
        LoadRefineImageFromFile(file_client_args=dict(backend='disk'))


def test_load_image_missing(tmp_path):
    path = str(tmp_path / 'nothing.jpg')
    with pytest.raises(FileNotFoundError, match='nothing.jpg'):
        LoadRefineImageFromFile()(dict(img_path=path))
    assert LoadRefineImageFromFile(ignore_empty=True)(dict(img_path=path)) is None


@pytest.mark.parametrize('content', [b'', b'this is not a jpeg' * 20])
def test_load_image_corrupt(tmp_path, content):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r'broken\.jpg is not a readable image'):
        LoadRefineImageFromFile()(dict(img_path=str(path)))
    assert LoadRefineImageFromFile(ignore_empty=True)(dict(img_path=str(path))) is None


def test_load_gt_and_coarse(sample):
    results, arrays = sample
    results = LoadRefineImageFromFile()(results)
    results = LoadBinaryAnnotations()(results)
    results = LoadCoarseMask()(results)
    for key, expected in (('gt_seg_map', arrays['gt']), ('coarse_seg_map', arrays['coarse'])):
        assert results[key].dtype == np.uint8 and results[key].shape == (30, 40)
        assert set(np.unique(results[key])) == {0, 1}
        np.testing.assert_array_equal(results[key], expected)
    assert results['seg_fields'] == ['gt_seg_map', 'coarse_seg_map']
    # loading again does not list a field twice
    results = LoadCoarseMask()(results)
    assert results['seg_fields'] == ['gt_seg_map', 'coarse_seg_map']


def test_binarisation_rule(tmp_path):
    # 0/1 masks: value 1 is foreground
    write_png(str(tmp_path / '01.png'), np.array([[0, 1], [1, 0]], np.uint8))
    np.testing.assert_array_equal(read_binary_mask(str(tmp_path / '01.png')), [[0, 1], [1, 0]])
    # 0..255 masks: >= 128 is foreground (soft edges of anti-aliased GT files)
    write_png(str(tmp_path / 'soft.png'), np.array([[0, 127], [128, 255]], np.uint8))
    np.testing.assert_array_equal(read_binary_mask(str(tmp_path / 'soft.png')), [[0, 0], [1, 1]])
    # colour masks use the brightest channel
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0, 2] = 255
    write_png(str(tmp_path / 'rgb.png'), colour)
    np.testing.assert_array_equal(read_binary_mask(str(tmp_path / 'rgb.png')), [[1, 0], [0, 0]])


@pytest.mark.parametrize('transform,key,role', [(LoadBinaryAnnotations, 'seg_map_path', 'GT'),
                                                (LoadCoarseMask, 'coarse_path', 'coarse')])
def test_mask_missing_or_corrupt(sample, tmp_path, transform, key, role):
    results, _ = sample
    results = LoadRefineImageFromFile()(results)
    results[key] = str(tmp_path / 'missing.png')
    with pytest.raises(FileNotFoundError, match=f'{role}.*missing.png'):
        transform()(dict(results))
    (tmp_path / 'corrupt.png').write_bytes(b'\x89PNG garbage')
    results[key] = str(tmp_path / 'corrupt.png')
    with pytest.raises(ValueError, match=r'corrupt\.png is not a readable image'):
        transform()(dict(results))
    del results[key]
    with pytest.raises(KeyError, match=key):
        transform()(results)


@pytest.mark.parametrize('transform,key', [(LoadBinaryAnnotations, 'seg_map_path'),
                                           (LoadCoarseMask, 'coarse_path')])
def test_mask_size_mismatch(sample, tmp_path, transform, key):
    results, _ = sample
    results = LoadRefineImageFromFile()(results)
    write_png(str(tmp_path / 'small.png'), np.zeros((20, 40), np.uint8))
    results[key] = str(tmp_path / 'small.png')
    with pytest.raises(ValueError) as info:
        transform()(results)
    message = str(info.value)
    assert 'small.png' in message and osp.basename(results['img_path']) in message
    assert '(20, 40)' in message and '(30, 40)' in message


def test_mask_without_image_is_not_checked(tmp_path):
    write_png(str(tmp_path / 'm.png'), np.full((5, 7), 255, np.uint8))
    out = LoadCoarseMask()(dict(coarse_path=str(tmp_path / 'm.png')))
    assert out['coarse_seg_map'].shape == (5, 7) and out['coarse_seg_map'].all()


def test_cv2_backend_matches_pillow(sample):
    results, arrays = sample
    cv2_mask = read_binary_mask(results['seg_map_path'], imdecode_backend='cv2')
    np.testing.assert_array_equal(cv2_mask, arrays['gt'])
    assert cv2.imread(results['seg_map_path'], cv2.IMREAD_UNCHANGED).max() == 255
