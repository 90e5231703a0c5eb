"""tools/dataset_converters/render_composites.py: the bench_real layout, seeded, its errors."""
import cv2
import numpy as np
import pytest

from dataset_converters import render_composites


def test_writes_seeded_image_mask_pairs(tmp_path):
    names = render_composites.render_folder(str(tmp_path / 'a'), 2, (48, 80), seed=7)
    assert names == ['c00', 'c01']
    assert sorted(p.name for p in (tmp_path / 'a').iterdir()) == [
        'c00_image.png', 'c00_mask.png', 'c01_image.png', 'c01_mask.png']
    image = cv2.imread(str(tmp_path / 'a' / 'c01_image.png'), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(tmp_path / 'a' / 'c01_mask.png'), cv2.IMREAD_UNCHANGED)
    assert image.shape == (48, 80, 3) and mask.shape == (48, 80)
    assert set(np.unique(mask)) == {0, 255}
    # the same seed gives the same files, another seed other ones
    assert render_composites.main([str(tmp_path / 'b'), '--num', '2', '--size', '48', '80',
                                   '--seed', '7']) == 0
    again = cv2.imread(str(tmp_path / 'b' / 'c01_image.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(again, image)
    render_composites.render_folder(str(tmp_path / 'c'), 2, (48, 80), seed=8)
    other = cv2.imread(str(tmp_path / 'c' / 'c01_image.png'), cv2.IMREAD_UNCHANGED)
    assert not np.array_equal(other, image)


@pytest.mark.parametrize('num, size, match', [(0, (48, 80), '--num must be >= 1'),
                                              (1, (16, 80), '--size must be H W')])
def test_bad_arguments(tmp_path, num, size, match):
    with pytest.raises(ValueError, match=match):
        render_composites.render_folder(str(tmp_path), num, size, seed=0)
    assert not any(tmp_path.iterdir())
