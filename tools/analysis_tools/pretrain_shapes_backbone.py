"""Pretrain a small detector config's DeiT backbone on the synthetic shapes: what ImageNet weights
are to the COCO recipe (nothing can be downloaded here, and a detector whose ViT starts from
random weights stays for hundreds of steps where it predicts its prior: docs/detection.md).

The backbone is the config's own (``model.backbone``, its ``init_cfg`` left out), trained densely
on a set drawn like ``write_coco_detection``'s but from another seed, so no training or
validation image of the detector is seen: on the backbone's last map, a 1x1 convolution predicts
for each patch the share of its pixels of each class and of background (soft cross-entropy) and,
where the patch's centre pixel is on an object, that object's box as distances from the centre
(L1). Images go through JPEG like the set's files and are normalised with the config's data
preprocessor; random horizontal flips. Writes the backbone's state dict (atomically), which the
config loads with ``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=OUT)``.

    python tools/analysis_tools/pretrain_shapes_backbone.py CONFIG OUT.pth [--num 2000]
        [--steps 300] [--batch 32] [--lr 1e-3] [--seed 1000]
        [--objects 1 4] [--size-range 0.15 0.5] [--texture 1.0]   (the set's defaults)
"""
import argparse
import io
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vit_scaled.datasets.synthetic.coco_detection import CLASSES, DetectionSetSpec, draw_image
from vit_scaled.fileio import atomic_open

DEFAULTS = DetectionSetSpec()


def draw(num, spec, patch):
    """``num`` images (uint8, N x 3 x H x W), their per-patch class shares (N x C+1 x h x w,
    channel 0 background) and box targets (N x 5 x h x w: l, t, r, b as shares of the side, and
    whether the patch's centre is on an object)."""
    rng = np.random.default_rng(spec.seed)
    size = spec.img_size[0]
    g = size // patch
    cy, cx = np.mgrid[0:g, 0:g] * patch + patch // 2
    images, shares, boxes = [], [], []
    for _ in range(num):
        img, objects = draw_image(rng, spec)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format='JPEG', quality=spec.jpeg_quality)
        img = np.asarray(Image.open(buf).convert('RGB'))
        owner = np.zeros((size, size), dtype=np.int64)   # 0 background, 1 + class
        box = np.zeros((5, g, g), dtype=np.float32)
        for label, mask in objects:
            owner[mask] = label + 1
        for label, mask in objects:
            ys, xs = np.nonzero(mask)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            on = mask[cy, cx]
            box[:4, on] = (np.stack([cx - x0, cy - y0, x1 - cx, y1 - cy]) / size)[:, on]
            box[4, on] = 1
        share = np.stack([(owner == c).reshape(g, patch, g, patch).mean((1, 3))
                          for c in range(len(CLASSES) + 1)])
        images.append(torch.from_numpy(img.copy()).permute(2, 0, 1))
        shares.append(torch.from_numpy(share).float())
        boxes.append(torch.from_numpy(box))
    return torch.stack(images), torch.stack(shares), torch.stack(boxes)


def build_backbone(config):
    """The config's backbone without its ``init_cfg``, and the data preprocessor's mean and std."""
    from mmengine.config import Config
    from mmengine.registry import MODELS
    import vit_scaled  # noqa: F401  (registers the backbones)
    cfg = Config.fromfile(config)
    backbone = cfg.model.backbone.to_dict()
    if backbone.get('type') != 'DeiTScaled':
        raise ValueError(f'model.backbone.type={backbone.get("type")!r} in {config}: this tool '
                         "pretrains a plain ViT's single map; expected 'DeiTScaled'")
    backbone.pop('init_cfg', None)
    net = MODELS.build(backbone)
    pre = cfg.model.data_preprocessor
    mean, std = (torch.tensor(pre[k], dtype=torch.float32).view(3, 1, 1) for k in ('mean', 'std'))
    return net, mean, std, pre.get('bgr_to_rgb', False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='a detector config whose model.backbone is a DeiTScaled')
    p.add_argument('out', help='where to write the backbone state dict (.pth)')
    p.add_argument('--num', type=int, default=2000, help='images drawn for the pretraining')
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=1000, help="the draw's seed (not the set's)")
    p.add_argument('--objects', type=int, nargs=2, default=DEFAULTS.objects)
    p.add_argument('--size-range', type=float, nargs=2, default=DEFAULTS.size_range)
    p.add_argument('--texture', type=float, default=DEFAULTS.texture)
    a = p.parse_args(argv)
    for name in ('num', 'steps', 'batch'):
        if getattr(a, name) < 1:
            p.error(f'--{name.replace("_", "-")}={getattr(a, name)} is invalid: expected a '
                    'positive integer')
    torch.manual_seed(0)
    net, mean, std, rgb = build_backbone(a.config)
    (h, w), patch = net.arch.img_size, net.arch.patch_size
    if h != w or h % patch or net.arch.patch_stride != patch:
        raise ValueError(f'model.backbone in {a.config}: img_size={(h, w)}, patch_size={patch}, '
                         f'patch_stride={net.arch.patch_stride}; this tool draws square images '
                         'cut into whole, non-overlapping patches (patch_stride = patch_size)')
    spec = DetectionSetSpec(num_train=a.num, num_val=1, img_size=(h, w), seed=a.seed,
                            objects=tuple(a.objects), size_range=tuple(a.size_range),
                            texture=a.texture)
    t0 = time.time()
    x, share_t, box_t = draw(a.num, spec, patch)
    if not rgb:   # mmdet loads BGR; without bgr_to_rgb the backbone sees BGR, so it does here
        x = x.flip(1)
    print(f'drew {a.num} images of {h} x {w} in {time.time() - t0:.1f} s', flush=True)
    net.init_weights()
    head = torch.nn.Conv2d(net.embed_dims, len(CLASSES) + 1 + 4, 1)
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.steps, pct_start=0.1)
    t0 = time.time()
    for step in range(a.steps):
        idx = torch.randint(0, a.num, (a.batch, ))
        xb, sb, bb = x[idx].float(), share_t[idx], box_t[idx]
        flip = torch.rand(a.batch) < 0.5
        xb[flip], sb[flip], bb[flip] = xb[flip].flip(-1), sb[flip].flip(-1), bb[flip].flip(-1)
        bb[flip, 0], bb[flip, 2] = bb[flip, 2].clone(), bb[flip, 0].clone()   # l and r swap
        out = head(net((xb - mean) / std)[-1])
        logits, boxes = out[:, :len(CLASSES) + 1], out[:, len(CLASSES) + 1:]
        loss_cls = -(sb * F.log_softmax(logits, 1)).sum(1).mean()
        on = bb[:, 4:]
        loss_box = ((boxes.sigmoid() - bb[:, :4]).abs() * on).sum() / on.sum().clamp(min=1) / 4
        loss = loss_cls + 5 * loss_box
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == a.steps - 1:
            acc = (logits.argmax(1) == sb.argmax(1)).float().mean()
            print(f'step {step} loss_cls {loss_cls:.3f} loss_box {loss_box:.3f} patch accuracy '
                  f'{acc:.3f} ({time.time() - t0:.0f} s)', flush=True)
    with atomic_open(a.out, 'wb') as f:
        torch.save(net.state_dict(), f)
    print(f'saved {a.out} ({time.time() - t0:.0f} s of training)')


if __name__ == '__main__':
    main()
