"""Classification data sets through mmengine's registry: ImageNet-style folders (real JPEGs written
here) and the embedded digits set."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS
from PIL import Image

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


def test_deit_recipe_transform_runs_on_real_jpegs(imagenet_like, configs_dir):
    cfg = Config.fromfile(osp.join(configs_dir, 'classification', 'deit-tiny_8xb128_imagenet.py'))
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
