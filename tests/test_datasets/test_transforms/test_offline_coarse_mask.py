import numpy as np
import pytest

from segrefiner.datasets.transforms import LoadOfflineCoarseMask
from ..utils import write_png


@pytest.fixture
def files(tmp_path):
    coarse = np.zeros((20, 30), np.uint8)
    coarse[5:10, 5:20] = 1
    expand = np.zeros((20, 30), np.uint8)
    expand[2:15, 2:25] = 1
    write_png(str(tmp_path / 'coarse.png'), coarse * 255)
    write_png(str(tmp_path / 'expand.png'), expand * 255)
    return dict(coarse_path=str(tmp_path / 'coarse.png'),
                expand_path=str(tmp_path / 'expand.png')), coarse, expand


def test_chooses_expand_with_probability(files):
    paths, coarse, expand = files
    out = LoadOfflineCoarseMask(expand_prob=1)(dict(paths))
    assert np.array_equal(out['coarse_seg_map'], expand) and out['coarse_path'] == paths[
        'expand_path']
    assert 'coarse_seg_map' in out['seg_fields']
    out = LoadOfflineCoarseMask(expand_prob=0)(dict(paths))
    assert np.array_equal(out['coarse_seg_map'], coarse)
    np.random.seed(0)
    picks = [LoadOfflineCoarseMask()(dict(paths))['coarse_seg_map'].sum() == expand.sum()
             for _ in range(200)]
    assert 0.4 < np.mean(picks) < 0.6


def test_errors_name_the_problem(files, tmp_path):
    paths, _, _ = files
    with pytest.raises(KeyError, match='expand_path'):
        LoadOfflineCoarseMask(expand_prob=1)(dict(coarse_path=paths['coarse_path'],
                                                  img_path='x.jpg'))
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadOfflineCoarseMask(expand_prob=1)(dict(paths, expand_path=str(tmp_path / 'nope.png')))
    with pytest.raises(ValueError, match='size'):
        LoadOfflineCoarseMask(expand_prob=0)(dict(paths, img=np.zeros((5, 5, 3), np.uint8)))
    with pytest.raises(ValueError, match='expand_prob'):
        LoadOfflineCoarseMask(expand_prob=2)
