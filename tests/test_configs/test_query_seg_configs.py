"""configs/query_seg: the seed's P3M-10k + Supervisely training, the CPU config (2 iterations
through tools/train.py) and the single-image overfit sanity run, trained with a reduced model
until the image's foreground IoU is >= 0.9 (then cut out with tools/segment_class.py).

(``tests/test_config.py`` builds every config's model; this file checks the values.)
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from query_seg_utils import QUERY_CONFIGS, blob_sample, tiny_query_model, write_pair
from segrefiner.apis import init_refiner
from segrefiner.apis.query_seg import query_outputs
from segrefiner.datasets.generators import generate_synthetic_dataset
from test_tools.train_utils import load_tool, train

FOLDER = Path(QUERY_CONFIGS)


def find(pattern: str) -> Path:
    matches = sorted(FOLDER.glob(pattern))
    assert len(matches) == 1, f'{pattern}: {matches}'
    return matches[0]


P3M, CPU, OVERFIT = find('*p3m*'), find('*cpu*'), find('*overfit*')


def test_the_expected_configs_exist():
    assert len(list(FOLDER.glob('*.py'))) == 3


def test_p3m_training_is_the_seeds():
    cfg = Config.fromfile(str(P3M))
    assert cfg.model.type == 'QuerySegmentor' and cfg.model.backbone.type == 'mmdet.Darknet'
    assert cfg.model.backbone.depth == 53 and cfg.model.backbone.out_indices == (3, 4, 5)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_dataloader.batch_size == 20 and '8xb20' in P3M.name
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop' and cfg.train_cfg.max_epochs == 50
    assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
    assert cfg.train_dataloader.dataset.type == 'MemmapSegDataset'
    assert cfg.train_dataloader.dataset.header == 'train_640_fp16.json'
    assert cfg.val_dataloader.dataset.header == 'val_640_fp16.json'
    assert tuple(cfg.memmap_size) == (640, 640)
    train = cfg.memmap_sources.train
    assert train.type == 'ConcatDataset'
    assert [d.type for d in train.datasets] == ['P3M10kDataset', 'SuperviselyPersonDataset']
    assert cfg.memmap_sources.val.split == 'P3M-500-P'
    assert cfg.test_dataloader.dataset.split == 'P3M-500-P'
    for source in (*train.datasets, cfg.memmap_sources.val):
        assert source.pipeline[-1] == dict(type='Resize', scale=(640, 640), keep_ratio=False)
    head = cfg.model.decode_head
    assert (head.num_queries, head.embed_dims, head.transformer_decoder.num_layers) == (100, 384, 6)
    assert head.loss_cls.class_weight == [1.0, 1.0, 0.1]  # no object at 0.1


@pytest.fixture(scope='module')
def trained_overfit(tmp_path_factory):
    """The overfit config with the reduced model, 250 iterations at lr 3e-3, on a hand-made
    128x128 image: (config, checkpoint, work dir, image path, mask)."""
    tmp = tmp_path_factory.mktemp('query_overfit')
    image, mask = blob_sample(128)
    img_path = str(tmp / 'data' / 'train' / 'images' / 'portrait.jpg')
    write_pair(img_path, str(tmp / 'data' / 'train' / 'masks' / 'portrait.png'), image, mask)
    cfg = Config.fromfile(str(OVERFIT))
    tiny_query_model(cfg.model)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.update(data_root=str(tmp / 'data'), indices=[0])
    cfg.optim_wrapper.optimizer.lr = 3e-3
    cfg.train_cfg.update(max_iters=250, val_interval=250)
    cfg.default_hooks.checkpoint.interval = 250
    config = tmp / 'overfit_tiny.py'
    cfg.dump(str(config))
    work_dir = tmp / 'work'
    train(config, work_dir)
    return config, work_dir / 'iter_250.pth', work_dir, img_path, mask > 0


def test_overfit_reaches_iou_09_and_the_loss_decreases(trained_overfit):
    config, checkpoint, work_dir, img_path, gt = trained_overfit
    model = init_refiner(str(config), str(checkpoint))
    logits, masks = query_outputs(model, img_path)
    pred = model.decode_head.combine(logits[None], masks[None])[0].argmax(0).numpy() == 1
    assert (pred & gt).sum() / (pred | gt).sum() >= 0.9
    scalars = [json.loads(line) for line in
               next(work_dir.rglob('scalars.json')).read_text().splitlines()]
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert len(losses) >= 25 and np.mean(losses[-3:]) < 0.3 * np.mean(losses[:2])


def test_segment_class_cli_on_the_overfit_model(trained_overfit, tmp_path, capsys):
    config, checkpoint, _, img_path, gt = trained_overfit
    tool = load_tool('segment_class')
    out, mask_out = tmp_path / 'person.png', tmp_path / 'mask.png'
    assert tool.main([str(config), str(checkpoint), img_path, '--out', str(out), '--class-id',
                      '1', '--score-thr', '0.5', '--mask-out', str(mask_out)]) == 0
    mask = cv2.imread(str(mask_out), cv2.IMREAD_GRAYSCALE) == 255
    cutout, image = cv2.imread(str(out)), cv2.imread(img_path)
    assert (mask & gt).sum() / (mask | gt).sum() >= 0.9
    assert cutout[~mask].max() == 0 and np.array_equal(cutout[mask], image[mask])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mask.png', 'person.png']
    missing = str(tmp_path / 'missing.jpg')
    assert tool.main([str(config), str(checkpoint), missing, '--out', str(out),
                      '--class-id', '1']) == 1
    assert f'image file not found: {missing}' in capsys.readouterr().err
    assert tool.main([str(config), str(checkpoint), img_path, '--out', str(out),
                      '--class-id', '2']) == 2


def test_cpu_config_trains_two_iterations(tmp_path):
    """The CPU config's data, pipelines, metrics and best-checkpoint hook through
    tools/train.py (reduced model, 4 + 2 tiny scenes)."""
    data = tmp_path / 'data'
    generate_synthetic_dataset(str(data), num_train=4, num_val=2, size=(48, 64), seed=1,
                               progress=False)
    cfg = Config.fromfile(str(CPU))
    assert cfg.env_cfg.dist_cfg.backend == 'gloo' and cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_dataloader.dataset.type == 'SegFolderDataset'
    tiny_query_model(cfg.model)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = str(data)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 2
    config = tmp_path / 'cpu_tiny.py'
    cfg.dump(str(config))
    train(config, tmp_path / 'work')
    assert list((tmp_path / 'work').glob('best_mIoU_iter_2.pth'))
