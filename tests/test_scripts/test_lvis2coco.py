"""scripts/lvis2coco.py: LVIS v1 val restricted to COCO val2017 images and the 80 categories."""
import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instance_layouts import annotation, make_objects
from segrefiner.evaluation.instance import load_lvis_gt

ROOT = Path(__file__).resolve().parents[2]
#: The LVIS API's own COCO → synset table (lvis-api ``data/coco_to_synset.json``, copied).
LVIS_API_TABLE = ROOT / 'tests' / 'data' / 'lvis' / 'coco_to_synset.json'


@pytest.fixture(scope='module')
def script():
    spec = importlib.util.spec_from_file_location('lvis2coco', ROOT / 'scripts' / 'lvis2coco.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lvis_and_coco(script, rng_seed=0):
    """LVIS v1 val (80 COCO synsets under LVIS ids + 2 LVIS-only categories; images 1, 2 in
    COCO val2017, image 3 from COCO train2017) and COCO val2017 instances (images 1, 2, 4)."""
    rng = np.random.default_rng(rng_seed)
    table = script.COCO_SYNSETS
    lvis_cats = [dict(id=100 + k, name=synset.split('.')[0], synset=synset, synonyms=[],
                      frequency='fcr'[k % 3], image_count=1, instance_count=1,
                      **{'def': 'x'}) for k, (_, _, synset) in enumerate(table)]
    lvis_cats += [dict(id=1, name='aerosol_can', synset='aerosol_can.n.01', synonyms=[],
                       frequency='c', image_count=1, instance_count=1, **{'def': 'x'}),
                  dict(id=2, name='antenna', synset='antenna.n.01', synonyms=[],
                       frequency='f', image_count=1, instance_count=1, **{'def': 'x'})]
    person, car, dog = 100, 102, 116  # LVIS ids of COCO 1 (person), 3 (car), 18 (dog)
    images, annotations = [], []
    for image_id, split in ((1, 'val'), (2, 'val'), (3, 'train')):
        url = f'http://images.cocodataset.org/{split}2017/{image_id:012d}.jpg'
        images.append(dict(id=image_id, coco_url=url, height=60, width=80, license=1,
                           flickr_url=url, date_captured='2013-11-14 16:28:13',
                           neg_category_ids=[dog, 1], not_exhaustive_category_ids=[2, car]))
        for cat_id, polygons in zip((person, car, 1), make_objects((60, 80), 3, rng, (8, 14))):
            annotations.append(annotation(len(annotations) + 1, image_id, cat_id, polygons,
                                          60, 80))
    lvis = dict(info=dict(year=2020), licenses=[dict(id=1, name='x')], images=images,
                annotations=annotations, categories=lvis_cats)
    coco = dict(images=[dict(id=i, file_name=f'{i:012d}.jpg', height=60, width=80)
                        for i in (1, 2, 4)],
                annotations=[],
                categories=[dict(id=coco_id, name=name, supercategory='x')
                            for coco_id, name, _ in table])
    return lvis, coco


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return str(path)


def test_cocofied_gt(script, tmp_path, capsys):
    lvis, coco = lvis_and_coco(script)
    out = tmp_path / 'out' / 'cocofied.json'
    assert script.main(['--lvis', write(tmp_path / 'lvis.json', lvis), '--coco',
                        write(tmp_path / 'coco.json', coco), '--output', str(out)]) == 0
    assert 'wrote' in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert [i['id'] for i in result['images']] == [1, 2]
    for image in result['images']:
        assert image['neg_category_ids'] == [18]            # LVIS dog -> COCO 18; 1 dropped
        assert image['not_exhaustive_category_ids'] == [3]  # LVIS car -> COCO 3; 2 dropped
        assert image['coco_url'].endswith(f'val2017/{image["id"]:012d}.jpg')
    # person and car of images 1 and 2, with COCO ids; aerosol cans and image 3 dropped
    assert sorted((a['image_id'], a['category_id']) for a in result['annotations']) == \
        [(1, 1), (1, 3), (2, 1), (2, 3)]
    kept = {(a['image_id'], a['id']): a for a in lvis['annotations']}
    for ann in result['annotations']:
        assert ann['segmentation'] == kept[ann['image_id'], ann['id']]['segmentation']
    assert len(result['categories']) == 80
    cat = {c['id']: c for c in result['categories']}
    assert cat[21]['name'] == 'cow' and cat[21]['synset'] == 'beef.n.01'
    assert cat[21]['lvis_name'] == 'beef' and cat[21]['frequency'] in 'rcf'
    assert result['info'] == lvis['info'] and result['licenses'] == lvis['licenses']
    # the output is an LVIS GT that eval_json's evaluator accepts
    assert len(load_lvis_gt(str(out)).get_img_ids()) == 2


def test_inconsistent_inputs_exit_2(script, tmp_path, capsys):
    lvis, coco = lvis_and_coco(script)
    broken = copy.deepcopy(lvis)
    broken['categories'] = [c for c in broken['categories'] if c['synset'] != 'beef.n.01']
    args = ['--coco', write(tmp_path / 'coco.json', coco), '--output', str(tmp_path / 'o.json')]
    assert script.main(['--lvis', write(tmp_path / 'l1.json', broken)] + args) == 2
    assert "no LVIS category with synset 'beef.n.01' (COCO 'cow')" in capsys.readouterr().err
    renamed = copy.deepcopy(coco)
    renamed['categories'][0]['name'] = 'human'
    assert script.main(['--lvis', write(tmp_path / 'l2.json', lvis), '--coco',
                        write(tmp_path / 'c2.json', renamed), '--output',
                        str(tmp_path / 'o.json')]) == 2
    assert "category id 1 should be 'person', found 'human'" in capsys.readouterr().err
    assert script.main(['--lvis', str(tmp_path / 'missing.json')] + args) == 2
    assert 'LVIS annotation file not found' in capsys.readouterr().err
    assert not (tmp_path / 'o.json').exists()


def test_synset_table_is_the_lvis_apis(script):
    """Every (COCO id, COCO name, synset) of the table is the LVIS API's, e.g. 'stop sign' is
    ``stop_sign.n.01`` (LVIS id 1019), not ``street_sign.n.01``."""
    reference = json.loads(LVIS_API_TABLE.read_text())
    assert len(reference) == 80
    expected = sorted((entry['coco_cat_id'], name, entry['synset'])
                      for name, entry in reference.items())
    table = sorted(script.COCO_SYNSETS)
    assert len(table) == len(set(table)) == 80
    for mine, theirs in zip(table, expected):
        assert mine == theirs
    assert dict((n, s) for _, n, s in table)['stop sign'] == 'stop_sign.n.01'


def test_cli_defaults_point_to_data(script):
    parser = script.build_parser()
    args = parser.parse_args([])
    assert args.output == 'data/lvis/annotations/lvis_v1_val_cocofied.json'
    # the default GT of eval_json.py is the file lvis2coco.py writes
    proc = subprocess.run([sys.executable, 'scripts/eval_json.py', '--help'], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert 'data/lvis/annotations/lvis_v1_val_cocofied.json' in proc.stdout
