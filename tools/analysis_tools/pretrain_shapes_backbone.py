"""Pretrain the small detector's DeiT on the shapes, densely: a separately drawn set of the same
kind of images (another seed), each 16 x 16 patch labelled with the share of its pixels of each
class and background (soft cross-entropy), and, where its centre pixel is on an object, that
object's box (l, t, r, b distances from the patch centre, L1). Saves the backbone's state dict,
which the small detector configs load through ``init_cfg=dict(type='Pretrained', checkpoint=OUT)``
(the probes of docs/detection.md, "third round": what ImageNet weights are to the COCO recipe).

    python tools/analysis_tools/pretrain_shapes_backbone.py OUT.pth [--img 128] [--num 2000]
        [--steps 300] [--arch DEPTH,HEADS,HEAD_DIM,MLP_RATIO]
"""
import argparse
import io
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vit_scaled.datasets.synthetic.coco_detection import CLASSES, DetectionSetSpec, _draw_image
from vit_scaled.models.deit import DeiTScaled

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


def draw(num, img, seed, objects, size_range, texture, patch=16):
    spec = DetectionSetSpec(num_train=1, num_val=1, img_size=(img, img), objects=objects,
                            size_range=size_range, texture=texture, seed=seed)
    rng = np.random.default_rng(seed)
    g = img // patch
    xs, cls_t, box_t = [], [], []
    cy, cx = (np.mgrid[0:g, 0:g] * patch + patch / 2)
    for _ in range(num):
        im, objs = _draw_image(rng, spec)
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format='JPEG', quality=spec.jpeg_quality)
        im = np.asarray(Image.open(buf).convert('RGB'))
        owner = np.zeros((img, img), dtype=np.int64)   # 0 background, 1 + class
        box = np.zeros((4, g, g), dtype=np.float32)
        valid = np.zeros((g, g), dtype=bool)
        for label, mask in objs:
            owner[mask] = label + 1
        for label, mask in objs:
            ys, xs_ = np.nonzero(mask)
            x0, y0, x1, y1 = xs_.min(), ys.min(), xs_.max() + 1, ys.max() + 1
            on = mask[cy.astype(int), cx.astype(int)]
            box[:, on] = np.stack([cx - x0, cy - y0, x1 - cx, y1 - cy])[:, on] / img
            valid |= on
        share = np.stack([(owner == c).reshape(g, patch, g, patch).mean((1, 3))
                          for c in range(len(CLASSES) + 1)])
        xs.append(torch.from_numpy(im.copy()).permute(2, 0, 1))
        cls_t.append(torch.from_numpy(share).float())
        box_t.append(torch.from_numpy(np.concatenate([box, valid[None]])).float())
    return torch.stack(xs), torch.stack(cls_t), torch.stack(box_t)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('out')
    p.add_argument('--img', type=int, default=128)
    p.add_argument('--num', type=int, default=2000)
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=1000)
    p.add_argument('--objects', type=int, nargs=2, default=(1, 2))
    p.add_argument('--size-range', type=float, nargs=2, default=(0.3, 0.6))
    p.add_argument('--texture', type=float, default=0.5)
    p.add_argument('--arch', default='4,3,64,4.0')
    a = p.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    x, cls_t, box_t = draw(a.num, a.img, a.seed, tuple(a.objects), tuple(a.size_range), a.texture)
    print(f'drew {a.num} images in {time.time() - t0:.1f} s', flush=True)
    d, h, e, r = a.arch.split(',')
    net = DeiTScaled(arch=dict(depth=int(d), num_heads=int(h), head_dim=int(e), mlp_ratio=float(r)),
                     img_size=a.img, out_type='featmap', out_indices=(int(d) - 1, ),
                     with_cls_token=False)
    net.init_weights()
    head = torch.nn.Conv2d(net.embed_dims, len(CLASSES) + 1 + 4, 1)
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.steps, pct_start=0.1)
    t0 = time.time()
    for step in range(a.steps):
        idx = torch.randint(0, a.num, (a.batch, ))
        xb, cb, bb = x[idx].float(), cls_t[idx], box_t[idx]
        flip = torch.rand(a.batch) < 0.5
        xb[flip], cb[flip], bb[flip] = xb[flip].flip(-1), cb[flip].flip(-1), bb[flip].flip(-1)
        bb[flip, 0], bb[flip, 2] = bb[flip, 2].clone(), bb[flip, 0].clone()
        out = head(net((xb - MEAN) / STD)[0])
        logits, boxes = out[:, :len(CLASSES) + 1], out[:, len(CLASSES) + 1:]
        loss_cls = -(cb * F.log_softmax(logits, 1)).sum(1).mean()
        valid = bb[:, 4:5]
        loss_box = ((boxes.sigmoid() - bb[:, :4]).abs() * valid).sum() / valid.sum().clamp(min=1) / 4
        loss = loss_cls + 5 * loss_box
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == a.steps - 1:
            acc = (logits.argmax(1) == cb.argmax(1)).float().mean()
            print(f'step {step} loss_cls {loss_cls:.3f} loss_box {loss_box:.3f} patch acc '
                  f'{acc:.3f} ({time.time() - t0:.0f} s)', flush=True)
    torch.save(net.state_dict(), a.out)
    print('saved', a.out, f'{time.time() - t0:.0f} s of training')


if __name__ == '__main__':
    main()
