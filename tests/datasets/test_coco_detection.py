"""The small COCO-format detection set: real JPEGs and instances_*.json that mmdet's CocoDataset
and pycocotools read, seeded and reproducible."""
import json
import os.path as osp

import numpy as np
import pytest

from vit_scaled.datasets.synthetic.coco_detection import CLASSES, write_coco_detection

SMALL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                 'deformable_detr', 'deformable-detr-refine-twostage_deit-tiny_1xb8-24e_small.py')


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco_det'))
    counts = write_coco_detection(root, num_train=24, num_val=6, img_size=(96, 128), seed=3)
    return root, counts


def _load(root, split):
    with open(osp.join(root, 'annotations', f'instances_{split}.json')) as f:
        return json.load(f)


def test_same_seed_writes_the_same_files_and_another_seed_does_not(small_set, tmp_path):
    root, counts = small_set
    again = write_coco_detection(str(tmp_path / 'a'), num_train=24, num_val=6, img_size=(96, 128), seed=3)
    other = write_coco_detection(str(tmp_path / 'b'), num_train=24, num_val=6, img_size=(96, 128), seed=4)
    assert again == counts
    assert _load(str(tmp_path / 'a'), 'train')['annotations'] == _load(root, 'train')['annotations']
    for name in ('train/000001.jpg', 'val/000006.jpg'):
        with open(osp.join(root, name), 'rb') as f, open(tmp_path / 'a' / name, 'rb') as g:
            assert f.read() == g.read()
    assert _load(str(tmp_path / 'b'), 'train')['annotations'] != _load(root, 'train')['annotations']


def test_objects_vary_and_boxes_describe_their_visible_masks(small_set):
    from pycocotools import mask as mask_util
    root, counts = small_set
    coco = _load(root, 'train')
    anns = coco['annotations']
    per_image = np.bincount([a['image_id'] for a in anns])[1:]
    assert per_image.min() >= 1 and per_image.max() >= 3          # several per image
    assert {a['category_id'] for a in anns} == {1, 2, 3}
    assert [c['name'] for c in coco['categories']] == list(CLASSES)
    areas = np.array([a['area'] for a in anns])
    assert areas.max() > 4 * areas.min()                            # varied sizes
    overlaps = 0
    for a in anns:
        m = mask_util.decode(a['segmentation'])
        ys, xs = np.nonzero(m)
        assert a['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert a['area'] == m.sum() and a['iscrowd'] == 0
    for img in coco['images']:
        boxes = [a['bbox'] for a in anns if a['image_id'] == img['id']]
        overlaps += any(_iou(p, q) > 0 for i, p in enumerate(boxes) for q in boxes[i + 1:])
    assert overlaps >= 2                                            # objects occlude each other
    assert counts == dict(train_images=24, train_objects=len(anns), val_images=6,
                          val_objects=len(_load(root, 'val')['annotations']))


def _iou(a, b):
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def test_mmdet_coco_dataset_and_the_small_config_pipeline_read_it(small_set):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    root, counts = small_set
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(SMALL)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=root))
    assert len(dataset) == 24 and dataset.metainfo['classes'] == CLASSES
    item = dataset[0]
    inputs, sample = item['inputs'], item['data_samples']
    assert inputs.dtype.is_floating_point is False and inputs.shape[0] == 3
    assert max(inputs.shape[1:]) == 160                               # the config's resize
    boxes, labels = sample.gt_instances.bboxes.tensor, sample.gt_instances.labels
    assert len(boxes) >= 1 and labels.max() < len(CLASSES)
    h, w = sample.img_shape
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=root))
    assert len(val) == 6 and osp.isfile(val[0]['data_samples'].img_path)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_train=0), 'num_train=0 is invalid'),
    (dict(img_size=(16, 16)), r'img_size=\(16, 16\) is invalid'),
    (dict(objects=(3, 1)), r'objects=\(3, 1\) is invalid'),
    (dict(size_range=(0.5, 2.0)), 'size_range=.* is invalid'),
])
def test_bad_options_name_the_field(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_coco_detection(str(tmp_path), **kwargs)


def test_the_tool_writes_the_set_and_rejects_bad_input(tmp_path, run_script):
    tool = 'tools/dataset_converters/make_coco_detection.py'
    code, out, _ = run_script(tool, tmp_path / 'set', '--num-train', 3, '--num-val', 2,
                              '--img-size', 64, '--seed', 1)
    assert code == 0 and 'train_images 3' in out
    assert len(_load(str(tmp_path / 'set'), 'val')['images']) == 2
    assert osp.isfile(tmp_path / 'set' / 'val' / '000002.jpg')
    code, _, err = run_script(tool, tmp_path / 'bad', '--num-train', 0)
    assert code == 2 and err.strip() == 'error: num_train=0 is invalid: expected a positive integer'
