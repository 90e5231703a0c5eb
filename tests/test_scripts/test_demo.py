"""scripts/demo.py end to end with a tiny budget: data, training, refinement, report."""
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_reports(tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'data'
    proc = subprocess.run(
        [sys.executable, 'scripts/demo.py', '--iters', '2', '--num-train', '4', '--num-val', '2',
         '--size', '64', '64', '--work-dir', str(work), '--data-root', str(data)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for label in ('pooled IoU (%)', 'mBA (%)', 'boundary F (%)'):
        row = re.search(re.escape(label) + r'\s+([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)', out)
        assert row, out[-2000:]
        coarse, refined, gain = map(float, row.groups())
        assert abs(refined - coarse - gain) < 0.011
    names = sorted(p.name for p in (data / 'val' / 'images').iterdir())
    assert len(names) == 2
    refined = sorted(p.name for p in (work / 'refined').iterdir())
    assert refined == sorted(n.rsplit('.', 1)[0] + '.png' for n in names)
    panel = cv2.imread(str(work / 'overlays' / refined[0]))
    assert panel.shape == (64 + 20, 4 * 64, 3)
    assert (work / 'train' / 'iter_2.pth').is_file()
