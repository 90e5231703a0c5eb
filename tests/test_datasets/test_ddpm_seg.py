"""The ddpm-segmentation datasets: the release layout, class lists and counts, clear errors."""
import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from segrefiner.datasets.ddpm_seg import LoadNpyAnnotations, voc_palette


def write_pair(folder, stem, size=(16, 16), labels=(0, 1), ext='.png'):
    """An image and its .npy label map (values cycling through ``labels``)."""
    folder.mkdir(parents=True, exist_ok=True)
    height, width = size
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (height, width, 3), np.uint8)).save(
        folder / f'{stem}{ext}')
    label = np.resize(np.array(labels, np.uint8), (height, width))
    np.save(folder / f'{stem}.npy', label)


def _build(root, **kwargs):
    return DATASETS.build(dict(type='Horse21Dataset', data_root=str(root),
                               data_prefix=dict(img_path='real/train'), pipeline=[], **kwargs))


def test_release_layout_sorted_and_num_images(tmp_path):
    train = tmp_path / 'real' / 'train'
    for i, ext in enumerate(('.png', '.jpg', '.png')):
        write_pair(train, f'image_{i}', labels=(0, 20, 255), ext=ext)
    (train / 'notes.txt').write_text('not an image')
    dataset = _build(tmp_path)
    assert len(dataset) == 3
    assert [d['img_path'].rsplit('/', 1)[1] for d in dataset] == [
        'image_0.png', 'image_1.jpg', 'image_2.png']
    assert dataset[0]['seg_map_path'].endswith('image_0.npy')
    assert len(_build(tmp_path, num_images=2)) == 2
    with pytest.raises(ValueError, match='has 3 images, num_images asks for 30'):
        _build(tmp_path, num_images=30)
    results = LoadNpyAnnotations()(dict(seg_map_path=dataset[2]['seg_map_path']))
    assert results['gt_seg_map'].dtype == np.uint8 and results['seg_fields'] == ['gt_seg_map']
    assert set(np.unique(results['gt_seg_map'])) == {0, 20, 255}


def test_missing_npy_non_square_and_bad_labels_are_named(tmp_path):
    train = tmp_path / 'real' / 'train'
    write_pair(train, 'good')
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(train / 'lonely.png')
    with pytest.raises(FileNotFoundError, match=r'lonely\.npy'):
        _build(tmp_path)
    (train / 'lonely.png').unlink()
    write_pair(train, 'wide', size=(16, 20))
    with pytest.raises(ValueError, match=r'wide\.png is 20x16.*square'):
        _build(tmp_path)
    (train / 'wide.png').unlink()
    (train / 'wide.npy').unlink()
    write_pair(train, 'bad', labels=(0, 21, 255))  # Horse-21: labels 0..20 or 255
    with pytest.raises(ValueError, match=r'bad\.npy has values \[21\]'):
        _build(tmp_path)
    np.save(train / 'bad.npy', np.zeros((2, 16, 16), np.uint8))
    with pytest.raises(ValueError, match=r'bad\.npy must be a 2-D'):
        _build(tmp_path)
    with pytest.raises(FileNotFoundError, match='real/test'):
        DATASETS.build(dict(type='Horse21Dataset', data_root=str(tmp_path),
                            data_prefix=dict(img_path='real/test'), pipeline=[]))


def test_class_lists_palettes_and_split_sizes(tmp_path):
    expected = {'Horse21Dataset': (21, 30), 'Cat15Dataset': (15, 30),
                'CelebA19Dataset': (19, 20), 'Bedroom28Dataset': (29, 40),
                'FFHQ34Dataset': (34, 20), 'ADEBedroom30Dataset': (30, 50)}
    for name, (classes, train) in expected.items():
        cls = DATASETS.get(name)
        assert len(cls.METAINFO['classes']) == classes, name
        assert len(cls.METAINFO['palette']) == classes
        assert cls.SPLIT_SIZES['train'] == train
    assert DATASETS.get('Horse21Dataset').METAINFO['classes'][-1] == 'leg protection'
    assert DATASETS.get('ADEBedroom30Dataset').METAINFO['classes'][0] == 'wall'
    palette = voc_palette(4)
    assert palette == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    # the generic class needs the class names
    write_pair(tmp_path / 'real' / 'train', 'a')
    with pytest.raises(ValueError, match='needs the class names'):
        DATASETS.build(dict(type='DDPMSegDataset', data_root=str(tmp_path), pipeline=[]))
    dataset = DATASETS.build(dict(type='DDPMSegDataset', data_root=str(tmp_path), pipeline=[],
                                  metainfo=dict(classes=('bg', 'fg'), palette=voc_palette(2))))
    assert len(dataset) == 1
