"""Seeds both ways: the same seed repeats training and refinement exactly, another one does not.

Training runs tools/train.py on the project's random training pipeline (online coarse masks,
random crop margin, random flip) with ``randomness=dict(seed=s, deterministic=True)``. The runs
with another seed start from the same weights (``load_from``), so they differ by what the seed
drives during training (the sampler's order, the transforms, the head's t and corruption), not
only by the initialisation.
"""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from segrefiner.apis import init_refiner, refine
from segrefiner.datasets import generate_synthetic_dataset
from tiny_models import tiny_refiner_cfg
from train_utils import max_difference, train, weights, write_config

ITERS = 2


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Work dirs of: seed 0 from scratch (twice), seed 1 from seed 0's initial weights."""
    folder = tmp_path_factory.mktemp('seeds')
    data = folder / 'data'
    generate_synthetic_dataset(str(data), num_train=4, num_val=1, size=(48, 64), seed=2,
                               progress=False)
    work = {}
    for name, seed in (('a', 0), ('b', 0)):
        config = write_config(folder / f'{name}.py', data, iters=ITERS, seed=seed,
                              custom_hooks=['SaveInitialWeightsHook'])
        train(config, folder / name)
        work[name] = folder / name
    config = write_config(folder / 'c.py', data, iters=ITERS, seed=1,
                          custom_hooks=['SaveInitialWeightsHook'])
    train(config, folder / 'c', cfg_options=[f'load_from={work["a"] / "init.pth"}'])
    work['c'] = folder / 'c'
    return work


def test_training_with_the_same_seed_repeats_exactly(runs):
    a, b = (weights(runs[name] / f'iter_{ITERS}.pth') for name in 'ab')
    assert max_difference(weights(runs['a'] / 'init.pth'), weights(runs['b'] / 'init.pth')) == 0
    assert max_difference(a, b) == 0
    assert max_difference(weights(runs['a'] / 'init.pth'), a) > 1e-4  # training moved them


def test_training_with_another_seed_differs(runs):
    init = weights(runs['a'] / 'init.pth')
    assert max_difference(init, weights(runs['c'] / 'init.pth')) == 0  # same start
    a, c = (weights(runs[name] / f'iter_{ITERS}.pth') for name in 'ac')
    assert max_difference(a, c) > 1e-4


@pytest.fixture
def one_thread():
    """torch on one thread (its default pool is many times slower on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def refiner():
    torch.manual_seed(0)
    return init_refiner(Config(dict(model=tiny_refiner_cfg(), default_scope='mmseg')))


@pytest.fixture(scope='module')
def scene():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[20:42, 25:60] = True
    return image, mask


def test_refine_repeats_for_a_seed_and_differs_across_seeds(refiner, scene, one_thread):
    image, mask = scene
    torch.manual_seed(1)  # the global generator plays no part in a seeded refinement
    first = refine(refiner, image, mask, steps=6, seed=3, return_prob=True)
    torch.manual_seed(2)
    np.testing.assert_array_equal(first, refine(refiner, image, mask, steps=6, seed=3,
                                                return_prob=True))
    other = refine(refiner, image, mask, steps=6, seed=4, return_prob=True)
    assert np.abs(first - other).max() > 1e-3


def test_refine_without_random_draws_ignores_the_seed(refiner, scene, one_thread):
    # one step is the last step: the reverse process draws nothing
    image, mask = scene
    one = refine(refiner, image, mask, steps=1, seed=3, return_prob=True)
    np.testing.assert_array_equal(one, refine(refiner, image, mask, steps=1, seed=4,
                                              return_prob=True))
