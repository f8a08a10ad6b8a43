"""Where a trained video classifier's accuracy comes from: its top-1 on the validation clips as
they are, and on clips made of one of their frames repeated T times (a clip with no motion).

    .venv/bin/python benchmarks/video_one_frame.py CONFIG CHECKPOINT [--data DATA_ROOT]

On the motion set (docs/video.md) a frame says nothing about the class, so a model that reads
the class from a single frame gets chance on the repeated frames; what a model scores above
chance on the real clips then comes from combining frames.
"""
import argparse

import torch

import vit_scaled  # noqa: F401  (registers the modules; mmaction2 1.2.0's import shim)


def parse_args():
    p = argparse.ArgumentParser(description='top-1 on clips and on one frame repeated')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data', help='the set\'s folder (default: the config\'s val annotation)')
    return p.parse_args()


def main():
    from mmaction.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    args = parse_args()
    torch.set_num_threads(1)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    data = cfg.val_dataloader.dataset
    if args.data:
        data.ann_file, data.data_prefix = f'{args.data}/val_list.txt', dict(video=args.data)
    dataset = DATASETS.build(data)
    samples = [dataset[i] for i in range(len(dataset))]
    clips = torch.stack([s['inputs'][0] for s in samples])            # N, C, T, H, W
    labels = torch.tensor([int(s['data_samples'].gt_label) for s in samples])

    @torch.no_grad()
    def top1(x):
        x = model.data_preprocessor({'inputs': list(x[:, None]), 'data_samples': None})['inputs']
        scores = model.cls_head(model.extract_feat(x)[0])
        return (scores.argmax(-1) == labels).float().mean().item()

    T = clips.shape[2]
    print(f'{len(labels)} clips of {T} frames, {args.checkpoint}')
    print(f'clips as they are: top-1 {top1(clips):.4f}')
    for t in (0, T // 2, T - 1):
        still = clips[:, :, t:t + 1].expand(-1, -1, T, -1, -1).contiguous()
        print(f'frame {t} repeated {T} times: top-1 {top1(still):.4f}')


if __name__ == '__main__':
    main()
