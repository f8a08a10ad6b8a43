"""VideoDeiTScaled against mmaction2's TimeSformer of the same configuration (width, depth, heads,
frames, resolution; divided space-time attention): CPU clip throughput at batch 1 and 8, measured
in interleaved rounds, with the median of the rounds' own ratios.

    .venv/bin/python benchmarks/video_vs_mmaction.py [--threads 2] [--rounds 15] [--quick]
        [--stable-malloc] [--arch deit-tiny] [--frames 8] [--img-size 224]

Both models hold the same weights (mmaction2's names mapped from ours) and the script checks
that their outputs agree before timing them.
"""
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from side_by_side import compare, malloc_mode, parse_args  # noqa: E402

import vit_scaled  # noqa: E402,F401  (mmaction2 1.2.0's import shim)
from vit_scaled.models.video import VideoDeiTScaled  # noqa: E402


def mmaction_state(model: VideoDeiTScaled) -> dict:
    """Our divided space-time weights under mmaction2 TimeSformer's names."""
    s = model.state_dict()
    out = {'cls_token': s['cls_token'], 'pos_embed': s['pos_embed'], 'time_embed': s['time_embed'],
           'patch_embed.projection.weight': s['patch_embed.proj.weight'],
           'patch_embed.projection.bias': s['patch_embed.proj.bias'],
           'norm.weight': s['norm.weight'], 'norm.bias': s['norm.bias']}
    pairs = [('attentions.0.norm.', 'temporal_norm1.'),
             ('attentions.0.temporal_fc.', 'temporal_attn.fc.'),
             ('attentions.1.norm.', 'norm1.'), ('ffns.0.norm.', 'norm2.'),
             ('ffns.0.layers.0.0.', 'mlp.fc1.'), ('ffns.0.layers.1.', 'mlp.fc2.')]
    for i in range(model.arch.depth):
        b, m = f'blocks.{i}.', f'transformer_layers.layers.{i}.'
        for dst, src in pairs:
            for p in ('weight', 'bias'):
                out[m + dst + p] = s[b + src + p]
        for dst, src in (('attentions.0.attn.', 'temporal_attn.'), ('attentions.1.attn.', 'attn.')):
            out[m + dst + 'in_proj_weight'] = s[b + src + 'qkv.weight']
            out[m + dst + 'in_proj_bias'] = s[b + src + 'qkv.bias']
            out[m + dst + 'out_proj.weight'] = s[b + src + 'proj.weight']
            out[m + dst + 'out_proj.bias'] = s[b + src + 'proj.bias']
    return out


def main():
    import argparse
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument('--arch', default='deit-tiny')
    extra.add_argument('--frames', type=int, default=8)
    extra.add_argument('--img-size', type=int, default=224)
    opts, rest = extra.parse_known_args()
    sys.argv = sys.argv[:1] + rest
    args = parse_args(__doc__)

    import mmaction.models  # noqa: F401  (registers TimeSformer's layers)
    from mmaction.models.backbones.timesformer import TimeSformer
    from mmengine.registry import DefaultScope
    ours = VideoDeiTScaled(opts.arch, num_frames=opts.frames, img_size=opts.img_size)
    ours.init_weights()
    with torch.no_grad():
        for block in ours.blocks:  # a temporal projection that is not zero: a working model
            torch.nn.init.normal_(block.temporal_attn.fc.weight, std=0.02)
    a = ours.arch
    with DefaultScope.overwrite_default_scope('mmaction'):  # its layers are built by name
        ref = TimeSformer(num_frames=opts.frames, img_size=opts.img_size,
                          patch_size=a.patch_size, embed_dims=a.embed_dims,
                          num_heads=a.num_heads, num_transformer_layers=a.depth,
                          attention_type='divided_space_time')
    ref.load_state_dict(mmaction_state(ours))
    ours.eval(), ref.eval()
    with torch.no_grad():
        clip = torch.randn(2, 3, opts.frames, opts.img_size, opts.img_size)
        diff = (ours(clip) - ref(clip)).abs().max().item()
    print(f'same weights, same clip: max |difference| of the outputs = {diff:.2e}')
    assert diff < 1e-4, 'the two models do not compute the same function'
    results = compare({'VideoDeiTScaled': ours, 'TimeSformer': ref},
                      lambda bs: torch.randn(bs, 3, opts.frames, opts.img_size, opts.img_size),
                      batch_sizes=(1, 8), rounds=args.rounds)
    print(f'{opts.arch} divided space-time, {opts.frames} x {opts.img_size} x {opts.img_size}, '
          f'VideoDeiTScaled vs mmaction2 TimeSformer (torch {torch.__version__}, '
          f'threads={torch.get_num_threads()}, {malloc_mode()}, {args.rounds} rounds)')
    print(f'{"batch":>5}  {"ours clips/s":>12}  {"TimeSformer clips/s":>19}  {"ratio":>6}  '
          "rounds' ratios min..max")
    for bs, r in results.items():
        s = r['_samples']
        each = [a / b for a, b in zip(s['VideoDeiTScaled'], s['TimeSformer'])]
        print(f'{bs:>5}  {r["VideoDeiTScaled"]:>12.3f}  {r["TimeSformer"]:>19.3f}  '
              f'{statistics.median(each):>6.3f}  {min(each):.3f}..{max(each):.3f}')


if __name__ == '__main__':
    main()
