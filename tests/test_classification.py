"""Image classification through mmengine: data sets, metric, classifier, configs and the Runner."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import DATASETS, METRICS, MODELS
from mmengine.runner import Runner, load_checkpoint
from mmengine.structures import BaseDataElement
from PIL import Image

CONFIGS = osp.join(osp.dirname(__file__), '..', 'configs', 'classification')
DIGITS = osp.join(CONFIGS, 'deit-tiny_digits.py')
COLOURS = {'zebra': (20, 20, 230), 'apple': (230, 20, 20), 'leaf': (20, 230, 20)}  # RGB


def write_jpeg(path, rgb, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(len(str(path))).integers(-10, 10, (size[1], size[0], 3))
    Image.fromarray(np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)).save(path, 'JPEG')


@pytest.fixture
def imagenet_like(tmp_path):
    """root/train/<class>/<image>, ImageNet's '.JPEG' spelling, a nested folder and a stray file."""
    root = tmp_path / 'imagenet'
    for name, rgb in COLOURS.items():
        for i in range(2):
            write_jpeg(root / 'train' / name / f'{name}_{i}.JPEG', rgb)
    write_jpeg(root / 'train' / 'leaf' / 'more' / 'leaf_9.jpg', COLOURS['leaf'])
    (root / 'train' / 'apple' / 'README.txt').write_text('not an image')
    return root


def eval_transform(size=32):
    return dict(input_size=size, crop_pct=1.0)


def test_folder_dataset_reads_jpegs_with_sorted_class_labels(imagenet_like):
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(imagenet_like),
                             split='train', transform=eval_transform()))
    assert ds.metainfo['classes'] == ('apple', 'leaf', 'zebra')
    assert len(ds) == 7
    for i in range(len(ds)):
        item = ds[i]
        img, sample = item['inputs'], item['data_samples']
        assert img.shape == (3, 32, 32) and img.dtype == torch.uint8
        cls = osp.basename(osp.dirname(sample.img_path.replace('/more', '')))
        assert sample.gt_label.tolist() == [ds.metainfo['classes'].index(cls)]
        assert sample.ori_shape == (30, 40)
        # The decoded pixels are the colour written: its channel dominates.
        assert img.float().mean(dim=(1, 2)).argmax() == int(np.argmax(COLOURS[cls]))


def test_folder_dataset_reads_an_ann_file_as_mmpretrain(imagenet_like):
    val = imagenet_like / 'val'
    write_jpeg(val / 'ILSVRC2012_val_00000001.JPEG', COLOURS['zebra'])
    write_jpeg(val / 'ILSVRC2012_val_00000002.JPEG', COLOURS['apple'])
    (imagenet_like / 'meta').mkdir()
    (imagenet_like / 'meta' / 'val.txt').write_text(
        'ILSVRC2012_val_00000001.JPEG 2\nILSVRC2012_val_00000002.JPEG 0\n')
    (imagenet_like / 'meta' / 'classes.txt').write_text('apple\nleaf\nzebra\n')
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(imagenet_like), split='val',
                             ann_file='meta/val.txt', classes='meta/classes.txt',
                             transform=eval_transform()))
    assert [ds[i]['data_samples'].gt_label.item() for i in range(2)] == [2, 0]
    assert ds.metainfo['classes'] == ('apple', 'leaf', 'zebra')
    assert ds[0]['inputs'].float().mean(dim=(1, 2)).argmax() == 2  # blue: the zebra image


def test_folder_dataset_errors_say_what_is_wrong(tmp_path, imagenet_like):
    with pytest.raises(FileNotFoundError, match='docs/classification.md'):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path), split='train'))
    (imagenet_like / 'train' / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match="'empty'"):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(imagenet_like), split='train'))
    with pytest.raises(ValueError, match='data_preprocessor'):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(imagenet_like),
                            split='train', transform=dict(re_prob=0.25)))


def test_deit_recipe_transform_runs_on_real_jpegs(imagenet_like):
    cfg = Config.fromfile(osp.join(CONFIGS, 'deit-tiny_8xb128_imagenet.py'))
    assert cfg.train_dataloader.dataset.transform.auto_augment == 'rand-m9-mstd0.5-inc1'
    dataset = dict(cfg.train_dataloader.dataset, data_root=str(imagenet_like))
    item = DATASETS.build(dataset)[0]
    assert item['inputs'].shape == (3, 224, 224) and item['inputs'].dtype == torch.uint8


def test_digits_split_is_fixed_stratified_and_disjoint():
    train = DATASETS.build(dict(type='DigitsDataset', split='train'))
    val = DATASETS.build(dict(type='DigitsDataset', split='val'))
    assert (len(train), len(val)) == (1437, 360)
    train_ids = {train.get_data_info(i)['digits_index'] for i in range(len(train))}
    val_ids = [val.get_data_info(i)['digits_index'] for i in range(len(val))]
    assert not train_ids & set(val_ids) and len(train_ids | set(val_ids)) == 1797
    labels = np.bincount([val.get_data_info(i)['gt_label'] for i in range(len(val))])
    assert labels.min() >= 35 and labels.max() <= 37  # 20% of each class's ~180
    again = DATASETS.build(dict(type='DigitsDataset', split='val'))
    assert val_ids == [again.get_data_info(i)['digits_index'] for i in range(len(again))]
    item = DATASETS.build(dict(type='DigitsDataset', split='val', transform=eval_transform()))[0]
    assert item['inputs'].shape == (3, 32, 32)


def test_topk_accuracy_on_known_logits():
    metric = METRICS.build(dict(type='TopKAccuracy', topk=(1, 5)))
    scores = torch.tensor([[.9, .1, 0, 0, 0, 0, 0],      # label 0: top-1
                           [.1, .2, .3, .4, .5, .6, .7],  # label 2: rank 5, in top-5 only
                           [.1, .2, .3, .4, .5, .6, .7],  # label 1: rank 6, in neither
                           [0, 0, 0, 0, 0, 1, 0]])        # label 5: top-1
    samples = [dict(pred_score=s, gt_label=torch.tensor([y])) for s, y in zip(scores, [0, 2, 1, 5])]
    metric.process({}, samples)
    assert metric.evaluate(4) == {'accuracy/top1': 50.0, 'accuracy/top5': 75.0}
    # Fewer than 5 classes: top-5 is clipped to top-3, which every sample passes.
    metric.process({}, [dict(pred_score=torch.tensor([.1, .2, .7]), gt_label=torch.tensor([0]))])
    assert metric.evaluate(1) == {'accuracy/top1': 0.0, 'accuracy/top5': 100.0}


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
def test_imagenet_configs_hold_the_deit_recipe(config, width, lr):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    assert cfg.default_scope == 'mmengine' and cfg.custom_imports.imports == ['vit_scaled']
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert cfg.model.mixup.mixup_alpha == 0.8 and cfg.model.label_smoothing == 0.1
    assert cfg.model.data_preprocessor.random_erasing.probability == 0.25
    model = MODELS.build(cfg.model)
    assert model.head.in_features == width and model.head.out_features == 1000


def digits_cfg(tmp_path, **train_cfg):
    cfg = Config.fromfile(DIGITS)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.update(train_cfg)
    return cfg


@pytest.fixture(scope='module')
def two_iteration_run(tmp_path_factory):
    """The digits config through the Runner for one epoch of 2 iterations, then validation."""
    work_dir = tmp_path_factory.mktemp('digits_2it')
    cfg = digits_cfg(work_dir, max_epochs=1, val_interval=1)
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


def test_runner_checkpoint_loads_back(two_iteration_run):
    runner, ckpt = two_iteration_run
    model = MODELS.build(Config.fromfile(DIGITS).model)
    meta = load_checkpoint(model, str(ckpt))['meta']
    assert meta['dataset_meta']['classes'][0] == '0'
    for name, value in runner.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_digits_default_trains_deit_tiny_like_model_to_95_percent(tmp_path):
    """The acceptance test of the embedded default: real data, the full config, the Runner."""
    cfg = digits_cfg(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert metrics['accuracy/top1'] >= 95.0, metrics
