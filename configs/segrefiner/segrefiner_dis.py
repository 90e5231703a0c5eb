# HR-SegRefiner on DIS-5K (ISNet coarse masks; change coarse_root for others).
#   python tools/test.py configs/segrefiner/segrefiner_dis.py CKPT --out work_dirs/dis_isnet
#   python scripts/eval_miou_dis.py --gt data/dis/DIS-TE1/gt \
#       --coarse data/dis/coarse/isnet/DIS-TE1 --refine work_dirs/dis_isnet/DIS-TE1
_base_ = ['./segrefiner_hr.py', '../_base_/datasets/dis.py']
