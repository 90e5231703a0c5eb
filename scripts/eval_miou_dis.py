"""Evaluate refined DIS-5K masks: ``eval_miou.py`` with the DIS layout (same names in all folders).

Pooled IoU, mBA and boundary F for the coarse and the refined masks, plus the deltas; run once
per DIS test set. All options are those of ``scripts/eval_miou.py``; only ``--layout`` defaults
to ``dis``.

Usage::

    python scripts/eval_miou_dis.py --gt data/dis/DIS-VD/gt \\
        --coarse data/dis/coarse/isnet/DIS-VD --refine work_dirs/dis_isnet/DIS-VD
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from eval_miou import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(default_layout='dis', prog='eval_miou_dis.py',
                  description=__doc__.split('\n')[0]))
