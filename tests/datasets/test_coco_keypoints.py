"""The synthetic COCO-keypoint set: written reproducibly, read by mmpose's CocoDataset through its
top-down pipeline, and scored by mmpose's CocoMetric (xtcocotools' OKS AP)."""
import filecmp
import json
import os
import os.path as osp
import re

import numpy as np
import pytest

from vit_scaled.datasets.synthetic.coco_keypoints import KEYPOINT_NAMES, write_coco_keypoints


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('kpts'))
    splits = write_coco_keypoints(root, num_train=24, num_val=12, seed=3)
    return root, splits


def _load(path):
    with open(path) as f:
        return json.load(f)


def test_same_seed_same_bytes_other_seed_other_set(small_set, tmp_path):
    root, _ = small_set
    again = str(tmp_path / 'again')
    write_coco_keypoints(again, num_train=24, num_val=12, seed=3)
    for sub in ('train', 'val', 'annotations'):
        names = sorted(os.listdir(osp.join(root, sub)))
        assert names == sorted(os.listdir(osp.join(again, sub)))
        match, mismatch, errors = filecmp.cmpfiles(osp.join(root, sub), osp.join(again, sub),
                                                   names, shallow=False)
        assert not mismatch and not errors, (sub, mismatch, errors)
    other = str(tmp_path / 'other')
    write_coco_keypoints(other, num_train=24, num_val=12, seed=4)
    assert not filecmp.cmp(osp.join(root, 'train', '000000.jpg'),
                           osp.join(other, 'train', '000000.jpg'), shallow=False)


def test_annotations_follow_coco(small_set):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    root, splits = small_set
    coco_meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    for split, info in splits.items():
        d = _load(info['ann_file'])
        assert len(d['images']) == info['images'] and len(d['annotations']) == info['figures']
        cat, = d['categories']
        assert cat['id'] == 1 and cat['name'] == 'person'
        # the names in mmpose's COCO metainfo, in its order (its flip pairs rely on them)
        assert tuple(cat['keypoints']) == KEYPOINT_NAMES == tuple(
            coco_meta['keypoint_id2name'][i] for i in range(17))
        assert len(cat['skeleton']) == 19
        sizes = {im['id']: (im['width'], im['height']) for im in d['images']}
        per_image = {}
        flags = []
        for a in d['annotations']:
            per_image[a['image_id']] = per_image.get(a['image_id'], 0) + 1
            k = np.array(a['keypoints'], float).reshape(17, 3)
            v = k[:, 2]
            flags += list(v)
            assert set(v) <= {0, 1, 2}
            assert a['num_keypoints'] == int((v > 0).sum()) > 0
            assert (k[v == 0, :2] == 0).all()          # unlabelled: 0, 0, 0 as COCO writes it
            w, h = sizes[a['image_id']]
            x, y, bw, bh = a['bbox']
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
            inside = k[v > 0, :2]
            assert ((inside >= 0) & (inside < (w, h))).all()
            assert 0 < a['area'] <= bw * bh and a['iscrowd'] == 0 and a['category_id'] == 1
            assert osp.isfile(osp.join(root, split, next(
                im['file_name'] for im in d['images'] if im['id'] == a['image_id'])))
        flags = np.array(flags)
        # every kind of visibility occurs: visible, covered, outside the image
        assert (flags == 2).mean() > 0.5 and (flags == 1).any() and (flags == 0).any()
        assert max(per_image.values()) >= 3                 # several figures per image


def test_mmpose_reads_it_through_the_topdown_pipeline(small_set):
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    root, splits = small_set
    codec = dict(input_size=(96, 128))
    ds = DATASETS.build(dict(
        type='CocoDataset', data_root=root, data_mode='topdown',
        ann_file='annotations/person_keypoints_train.json', data_prefix=dict(img='train/'),
        pipeline=[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                  dict(type='RandomFlip', direction='horizontal', prob=1.0),
                  dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
                  dict(type='GenerateTarget', encoder=dict(
                      type='UDPHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)),
                  dict(type='PackPoseInputs')]))
    assert len(ds) == splits['train']['figures']
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (3, 128, 96)
    heatmaps = sample['data_samples'].gt_fields.heatmaps
    assert tuple(heatmaps.shape) == (17, 32, 24) and float(heatmaps.max()) > 0.9
    assert ds.metainfo['dataset_name'] == 'coco' and len(ds.metainfo['flip_indices']) == 17


def _predictions_from_ground_truth(ann_file, shift=0.0):
    """One prediction per annotated figure: its ground-truth keypoints, moved by ``shift`` times
    the square root of its area."""
    from mmpose.structures.bbox import bbox_xywh2cs
    d = _load(ann_file)
    samples = []
    for a in d['annotations']:
        k = np.array(a['keypoints'], np.float32).reshape(1, 17, 3)
        kpts = k[..., :2] + shift * np.sqrt(a['area'])
        _, scale = bbox_xywh2cs(np.array([a['bbox']], np.float32), padding=1.25)
        samples.append(dict(id=a['id'], img_id=a['image_id'],
                            pred_instances=dict(keypoints=kpts, keypoint_scores=np.ones((1, 17))),
                            gt_instances=dict(bbox_scales=scale)))
    return samples


@pytest.mark.parametrize('shift, expected', [(0.0, 1.0), (0.15, None)])
def test_coco_metric_scores_the_ground_truth_ap_1(small_set, shift, expected, tmp_path):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.metrics import CocoMetric
    _, splits = small_set
    ann = splits['val']['ann_file']
    metric = CocoMetric(ann_file=ann, outfile_prefix=str(tmp_path / 'res'))
    metric.dataset_meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    samples = _predictions_from_ground_truth(ann, shift)
    metric.process([], samples)
    ap = metric.evaluate(len(samples))['coco/AP']
    if expected is not None:
        assert ap == pytest.approx(expected)
    else:  # the metric can fail: keypoints moved by 0.15 of the figure's scale score far lower
        assert ap < 0.5


def test_tool_writes_the_set_and_rejects_bad_counts(run_script, tmp_path):
    code, out, _ = run_script('tools/dataset_converters/make_coco_keypoints.py', tmp_path / 'k',
                              '--num-train', 3, '--num-val', 2, '--seed', 1)
    assert code == 0 and 'train: 3 images' in out and 'val: 2 images' in out
    assert len(_load(tmp_path / 'k' / 'annotations' / 'person_keypoints_val.json')['images']) == 2
    code, _, err = run_script('tools/dataset_converters/make_coco_keypoints.py', tmp_path / 'b',
                              '--num-train', 0)
    assert code == 2 and err.strip() == 'error: num_train=0 is invalid: expected a positive integer'


def test_lighter_draw_is_the_same_figures_less_varied(tmp_path):
    """The draw the suite's training uses: one figure per image, no occluders, a fainter
    background, joint angles nearer a standing pose (the same random draws, scaled)."""
    from vit_scaled.datasets.synthetic.coco_keypoints import random_pose
    write_coco_keypoints(str(tmp_path), num_train=12, num_val=2, seed=3, max_figures=1,
                         texture=0.3, occlusion=0.0, pose_range=0.5)
    d = _load(tmp_path / 'annotations' / 'person_keypoints_train.json')
    assert len(d['annotations']) == len(d['images']) == 12
    # no occluder and no other figure: every joint inside the image is visible
    flags = np.array([a['keypoints'][2::3] for a in d['annotations']])
    assert set(flags.ravel()) <= {0, 2}

    def angle_spread(pose_range):  # wrists about the shoulders, over many figures
        rng = np.random.default_rng(0)
        poses = [random_pose(rng, 100.0, (0, 0), pose_range) for _ in range(200)]
        v = np.array([p[9] - p[5] for p in poses])
        return np.arctan2(v[:, 0], v[:, 1]).std()
    assert angle_spread(0.5) < 0.7 * angle_spread(1.0)


@pytest.mark.parametrize('field, value, valid', [
    ('texture', 1.5, '[0, 1]'), ('occlusion', -0.1, '[0, 1]'), ('pose_range', 0, '(0, 1]')])
def test_draw_options_out_of_range_are_refused(tmp_path, field, value, valid):
    with pytest.raises(ValueError, match=rf'{field}={value!r} is invalid: expected a number in '
                                         rf'{re.escape(valid)}'):
        write_coco_keypoints(str(tmp_path), num_train=1, num_val=1, **{field: value})
