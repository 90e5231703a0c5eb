# Query-based segmenter (docs/query_seg.md): mmdet's DarkNet-53 (c3 256 @ H/8, c4 512 @ H/16,
# c5 1024 @ H/32) → mmdet's YOLOV3Neck (up-sample + concatenate c5 → c4 → c3 into p5, p4, p3,
# 256 channels each) → QueryDecoderHead on p3: 2x2 stride-2 patchify to 384-dim tokens, 100
# learned queries through a 6-layer, 6-head transformer decoder, a class head over
# num_classes + 1 classes (the last "no object") and mask embeddings dotted with per-pixel
# features. Hungarian matching (class, mask-BCE and Dice costs on 112^2 random points), CE on
# classes with the no-object class at 0.1, BCE + Dice on uncertain points, on every decoder layer.
# Images are scaled to [0, 1] as the seed's (mean 0, std 255, RGB); sides multiples of 32.
num_classes = 2  # ('background', 'person'): every class present becomes a GT mask
embed_dims = 384
num_heads = 6
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[0.0, 0.0, 0.0],
    std=[255.0, 255.0, 255.0],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='QuerySegmentor',
    data_preprocessor=data_preprocessor,
    # ImageNet weights: init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://darknet53')
    # (a download); the seed trains from scratch
    backbone=dict(type='mmdet.Darknet', depth=53, out_indices=(3, 4, 5), init_cfg=None),
    neck=dict(type='mmdet.YOLOV3Neck', num_scales=3, in_channels=[1024, 512, 256],
              out_channels=[256, 256, 256]),  # outputs (p5, p4, p3)
    decode_head=dict(
        type='QueryDecoderHead',
        in_channels=256,
        in_index=-1,  # p3, stride 8
        num_classes=num_classes,
        num_queries=100,
        embed_dims=embed_dims,
        patch_size=2,
        transformer_decoder=dict(
            num_layers=6,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=embed_dims, num_heads=num_heads, dropout=0.0,
                                   batch_first=True),
                cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=num_heads, dropout=0.0,
                                    batch_first=True),
                ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=2048, ffn_drop=0.0))),
        positional_encoding=dict(normalize=True),
        deep_supervision=True,
        num_points=12544,
        oversample_ratio=3.0,
        importance_sample_ratio=0.75,
        assigner=dict(
            type='mmdet.HungarianAssigner',
            match_costs=[
                dict(type='mmdet.ClassificationCost', weight=2.0),
                dict(type='mmdet.CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='mmdet.DiceCost', weight=5.0, pred_act=True, eps=1.0)
            ]),
        loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                      reduction='mean', class_weight=[1.0] * num_classes + [0.1]),
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                       loss_weight=5.0),
        loss_dice=dict(type='mmdet.DiceLoss', use_sigmoid=True, activate=True,
                       reduction='mean', naive_dice=True, eps=1.0, loss_weight=5.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
