# HR-SegRefiner on BIG (DeepLabV3+ coarse masks; change data_prefix.coarse_path for others).
#   python tools/test.py configs/segrefiner/segrefiner_big.py CKPT --out work_dirs/big_deeplab
#   python scripts/eval_miou.py --gt data/big/test --coarse data/big/coarse/deeplab \
#       --refine work_dirs/big_deeplab
_base_ = ['./segrefiner_hr.py', '../_base_/datasets/big.py']
