"""Deformable DETR trained for real on the small synthetic COCO-format set with tools/train.py:
box mAP (pycocotools, IoU .50:.95) well above the untrained model's; tools/test.py on the saved
checkpoint reproduces it; tools/scale.py writes a scaled detector config that trains;
tools/dist_train.sh trains it in two CPU processes; the one-to-many proposals' matching."""
import glob
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from vit_scaled.datasets.synthetic.coco_detection import write_coco_detection

pytestmark = pytest.mark.training

SMALL = 'deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py'
# A lighter draw of the same set (fewer, larger objects on a fainter texture), small enough to
# train in the test suite; the documented run in model_zoo.md uses the config's own set.
IMG = 128
SET = dict(num_train=160, num_val=40, img_size=(IMG, IMG), seed=0, objects=(1, 2),
           size_range=(0.3, 0.6), texture=0.5)
EPOCHS = 8


def child_config(path, base, data_root, epochs, extra=''):
    """A config inheriting ``base`` that reads the set at ``data_root`` for ``epochs`` epochs."""
    with open(path, 'w') as f:
        f.write(f'''_base_ = [{base!r}]
data_root = {data_root + '/'!r}
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(backbone=dict(img_size={IMG}))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=({IMG}, {IMG}), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=({IMG}, {IMG}), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
param_scheduler = [dict(type='MultiStepLR', begin=0, end={epochs}, by_epoch=True,
                        milestones=[{max(1, epochs - 2)}], gamma=0.1)]
default_hooks = dict(checkpoint=dict(interval={epochs}), logger=dict(interval=20))
randomness = dict(seed=0)
{extra}''')
    return str(path)


def last_map(work_dir):
    """The last box mAP the run at ``work_dir`` logged (its own text log: mmengine's visualizer
    is a process-wide instance, so its JSON files follow the first runner of the process)."""
    (log, ) = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    return float(re.findall(r'coco/bbox_mAP: ([\d.]+)', open(log).read())[-1])


@pytest.fixture
def small(configs_dir):
    return osp.join(configs_dir, 'deformable_detr', SMALL)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco_det_small'))
    write_coco_detection(root, **SET)
    return root


def pretrained_child(tmp_path, run_script, small, data_root):
    """The small config's child for the test's draw, its backbone first pretrained on shapes drawn
    like the draw's (another seed) by tools/analysis_tools/pretrain_shapes_backbone.py."""
    checkpoint = tmp_path / 'backbone.pth'
    config = child_config(tmp_path / 'small.py', small, data_root, EPOCHS, f"""
model = dict(backbone=dict(img_size={IMG}, init_cfg=dict(checkpoint={str(checkpoint)!r})))""")
    code, out, err = run_script(
        'tools/analysis_tools/pretrain_shapes_backbone.py', config, checkpoint, '--num', 1000,
        '--steps', 200, '--objects', *SET['objects'], '--size-range', *SET['size_range'],
        '--texture', SET['texture'])
    assert code == 0, err
    return config


@pytest.fixture
def both_cores():
    """The suite runs one test at a time on one thread; this one training uses both cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(max(threads, min(2, os.cpu_count() or 1)))
    yield
    torch.set_num_threads(threads)


def test_train_reaches_map_and_test_reproduces_it(tmp_path, data_root, run_script, small,
                                                  both_cores):
    from mmengine.config import Config
    from mmengine.runner import Runner
    config = pretrained_child(tmp_path, run_script, small, data_root)

    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'untrained')
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    untrained = runner.val()['coco/bbox_mAP']

    code, _, err = run_script('tools/train.py', config, '--work-dir', tmp_path / 'train')
    assert code == 0, err
    trained = last_map(tmp_path / 'train')
    assert trained >= 0.2 and trained > 5 * untrained, (trained, untrained)

    checkpoint = tmp_path / 'train' / f'epoch_{EPOCHS}.pth'
    code, _, err = run_script('tools/test.py', config, checkpoint, '--work-dir', tmp_path / 'test')
    assert code == 0, err
    assert last_map(tmp_path / 'test') == trained


def test_scale_writes_a_detector_config_that_trains(tmp_path, data_root, run_script, small):
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope
    out = tmp_path / 'scaled.py'
    code, stdout, err = run_script('tools/scale.py', small, '--strategy',
                                   'configs/scaling/deit_digits_flops.yaml',
                                   '--budget', 'flops=0.5x', '--out', out)
    assert code == 0, err
    cfg = Config.fromfile(child_config(tmp_path / 'scaled_small.py', str(out), data_root, 1))
    base = Config.fromfile(small)
    assert cfg.model.backbone.arch != base.model.backbone.arch        # a new shape
    init_default_scope('mmdet')
    import vit_scaled.models.detectors  # noqa: F401
    model = MODELS.build(cfg.model)   # validates neck channels and levels against the new backbone
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(4)])
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))
    losses = model.train_step(batch, wrapper)
    assert math.isfinite(float(losses['loss']))


@pytest.mark.parametrize('repeats', [1, 3])
def test_proposals_matched_one_to_many(small, repeats):
    """OneToManyProposalDETRHead: each object is matched to ``proposal_repeats`` of the
    encoder's proposals (the nearest ones), not one; 1 is mmdet's one-to-one matching."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData
    init_default_scope('mmdet')
    import vit_scaled.models.detectors  # noqa: F401
    cfg = Config.fromfile(small)
    cfg.model.bbox_head.update(type='OneToManyProposalDETRHead', proposal_repeats=repeats)
    head = MODELS.build(cfg.model).bbox_head
    gt = InstanceData(bboxes=torch.tensor([[16., 16., 64., 64.], [96., 80., 150., 140.]]),
                      labels=torch.tensor([2, 1]))
    centres = [(40, 40, 48, 60), (123, 110, 54, 60)]      # cx, cy, w, h of each object
    boxes = torch.tensor([[0.05 + 0.04 * i, 0.9, 0.05, 0.05] for i in range(20)])  # far away
    for obj, (cx, cy, w, h) in enumerate(centres):
        for j in range(3):                                  # three near each object
            boxes[10 * obj + j] = torch.tensor([cx + 2 * j, cy - j, w - j, h + j]) / 160
    scores = torch.zeros(20, 3)
    labels = head.get_targets([scores], [boxes], head.proposal_gt_instances([gt]),
                              [dict(img_shape=(160, 160))])[0][0]
    positives = sorted(torch.nonzero(labels == 0).flatten().tolist())
    if repeats == 1:
        assert len(positives) == 2 and {p // 10 for p in positives} == {0, 1}
    else:
        assert positives == [0, 1, 2, 10, 11, 12]
    assert (labels[[i for i in range(20) if i not in positives]] == 3).all()  # background


def test_proposal_repeats_validated():
    from vit_scaled.models.detectors import OneToManyProposalDETRHead
    with pytest.raises(ValueError, match='proposal_repeats=0'):
        OneToManyProposalDETRHead(num_classes=3, proposal_repeats=0)



def test_one_to_many_changes_only_the_proposals_losses(tmp_path, data_root, small):
    """On a real batch, proposal_repeats changes the encoder proposals' losses and leaves the
    decoder's (matched one-to-one) as mmdet computes them."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    import vit_scaled.models.detectors  # noqa: F401
    cfg = Config.fromfile(child_config(tmp_path / 'small.py', small, data_root, 1))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(2)])
    losses = {}
    for repeats in (1, 4):
        torch.manual_seed(0)
        model_cfg = cfg.model.copy()
        model_cfg.bbox_head = dict(cfg.model.bbox_head, type='OneToManyProposalDETRHead',
                                   proposal_repeats=repeats)
        model_cfg.backbone = dict(cfg.model.backbone, init_cfg=None)
        model = MODELS.build(model_cfg)
        model.init_weights()
        data = model.data_preprocessor(batch, True)
        with torch.no_grad():
            losses[repeats] = model.loss(data['inputs'], data['data_samples'])
    for k, v in losses[1].items():
        if k.startswith('enc_'):
            assert not torch.isclose(v, losses[4][k]), k
        else:
            assert torch.isclose(v, losses[4][k]), k


@pytest.mark.skipif(not hasattr(torch.distributed, 'is_gloo_available')
                    or not torch.distributed.is_gloo_available(), reason='needs gloo')
def test_dist_train_two_cpu_processes(tmp_path, root, data_root, small, run_script):
    """tools/dist_train.sh trains the small detector in two CPU processes (gloo) for an epoch,
    each on half the set, and scores it with CocoMetric gathered from both;
    tools/test.py on the checkpoint it wrote gives that figure in one process."""
    config = child_config(tmp_path / 'small.py', small, data_root, 1, f"""
model = dict(backbone=dict(img_size={IMG}, init_cfg=None))   # from random weights here""")
    proc = subprocess.run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
                           str(tmp_path / 'dist')],
                          cwd=root, capture_output=True, text=True, timeout=900,
                          env={**os.environ, 'PYTHON': sys.executable, 'PORT': '29643',
                               'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (log, ) = glob.glob(osp.join(str(tmp_path / 'dist'), '*', '*.log'))
    log = open(log).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    # 160 images in batches of 8 over 2 processes: 10 iterations each
    assert 'Epoch(train) [1][10/10]' in log
    checkpoint = osp.join(str(tmp_path / 'dist'), 'epoch_1.pth')
    assert math.isfinite(last_map(tmp_path / 'dist'))
    code, _, err = run_script('tools/test.py', config, checkpoint, '--work-dir', tmp_path / 'test')
    assert code == 0, err
    # Two ranks batch other images together than one process does, and the detector after ten
    # steps scores its boxes nearly alike, so float rounding can reorder a few: 0.001 apart at most.
    assert abs(last_map(tmp_path / 'test') - last_map(tmp_path / 'dist')) <= 0.0015
