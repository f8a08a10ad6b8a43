"""Image classification through mmengine: the classifier, the configs and the Runner."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner, load_checkpoint
from mmengine.structures import BaseDataElement


def eval_transform(size=32):
    return dict(input_size=size, crop_pct=1.0)


def tiny_classifier(**kwargs):
    return MODELS.build(dict(
        type='ViTClassifier', num_classes=10,
        backbone=dict(type='DeiTScaled', arch=dict(depth=1, num_heads=2, head_dim=8, mlp_ratio=2.),
                      img_size=16, patch_size=4),
        data_preprocessor=dict(type='ViTDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
                               random_erasing=dict(probability=1.0, mode='pixel')),
        **kwargs))


@pytest.mark.parametrize('collate', [pseudo_collate, default_collate])
def test_classifier_modes_with_both_collates(collate):
    ds = DATASETS.build(dict(type='DigitsDataset', split='val', transform=eval_transform(16)))
    batch = collate([ds[i] for i in range(4)])
    model = tiny_classifier(mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0))

    data = model.data_preprocessor(batch, training=False)
    assert data['inputs'].shape == (4, 3, 16, 16) and data['inputs'].dtype == torch.float32
    erased = model.data_preprocessor(batch, training=True)['inputs']
    assert not torch.equal(erased, data['inputs'])  # erasing in training only (probability 1)

    assert model(data['inputs']).shape == (4, 10)
    loss = model(**model.data_preprocessor(batch, training=True), mode='loss')['loss']
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    preds = model(**data, mode='predict')
    assert all(torch.allclose(p.pred_score.sum(), torch.tensor(1.)) for p in preds)
    assert all(p.pred_label.item() == p.pred_score.argmax().item() for p in preds)
    with pytest.raises(ValueError, match='mode'):
        model(data['inputs'], mode='bogus')


def test_classifier_losses_follow_the_recipe():
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
    assert isinstance(tiny_classifier().criterion, LabelSmoothingCrossEntropy)
    mixed = tiny_classifier(mixup=dict(mixup_alpha=0.8))
    assert isinstance(mixed.criterion, SoftTargetCrossEntropy)
    preds = tiny_classifier()(torch.zeros(2, 3, 16, 16), mode='predict')
    assert isinstance(preds[0], BaseDataElement)


def test_classifier_takes_pit_and_reads_its_last_stage_width():
    model = MODELS.build(dict(
        type='ViTClassifier', num_classes=7,
        backbone=dict(type='PiTScaled', img_size=32,
                      arch=dict(depths=(1, 1, 1), base_heads=1, head_dim=8, mlp_ratio=2.,
                                patch_size=4, stride=2))))
    assert model.head.in_features == 4 * 8  # heads h-2h-4h of dim 8
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize('config, width, lr', [('deit-tiny_8xb128_imagenet.py', 192, 1e-3),
                                               ('deit-small_8xb128_imagenet.py', 384, 1e-3),
                                               ('pit-ti_8xb128_imagenet.py', 256, 1e-3),
                                               ('pit-xs_8xb128_imagenet.py', 384, 1e-3)])
def test_imagenet_configs_hold_the_deit_recipe(config, width, lr, configs_dir):
    cfg = Config.fromfile(osp.join(configs_dir, 'classification', config))
    assert cfg.default_scope == 'mmengine' and cfg.custom_imports.imports == ['vit_scaled']
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert cfg.model.mixup.mixup_alpha == 0.8 and cfg.model.label_smoothing == 0.1
    assert cfg.model.data_preprocessor.random_erasing.probability == 0.25
    model = MODELS.build(cfg.model)
    assert model.head.in_features == width and model.head.out_features == 1000


def digits_cfg(path, tmp_path, **train_cfg):
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.update(train_cfg)
    return cfg


@pytest.fixture(scope='module')
def two_iteration_run(tmp_path_factory, digits_config):
    """The digits config through the Runner for one epoch of 2 iterations, then validation."""
    work_dir = tmp_path_factory.mktemp('digits_2it')
    cfg = digits_cfg(digits_config, work_dir, max_epochs=1, val_interval=1)
    cfg.train_dataloader.dataset.indices = 2 * cfg.train_dataloader.batch_size
    cfg.val_dataloader.dataset.indices = 32
    cfg.default_hooks.checkpoint.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, work_dir / 'epoch_1.pth'


def test_runner_trains_two_iterations_and_writes_a_checkpoint(two_iteration_run):
    runner, ckpt = two_iteration_run
    assert runner.iter == 2 and runner.epoch == 1
    assert ckpt.exists()
    metrics = runner.val_loop.run()
    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}
    assert 0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100


def test_runner_checkpoint_loads_back(two_iteration_run, digits_config):
    runner, ckpt = two_iteration_run
    model = MODELS.build(Config.fromfile(digits_config).model)
    meta = load_checkpoint(model, str(ckpt))['meta']
    assert meta['dataset_meta']['classes'][0] == '0'
    for name, value in runner.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


@pytest.mark.training
def test_digits_default_trains_deit_tiny_like_model_to_95_percent(tmp_path, digits_config):
    """The acceptance test of the embedded default: real data, the full config, the Runner."""
    cfg = digits_cfg(digits_config, tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert metrics['accuracy/top1'] >= 95.0, metrics
