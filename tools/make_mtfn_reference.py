#!/usr/bin/python3
"""Writes a PyTorch reference file for `mtfn check-grads` (format: /work/shared/spec/cli.md,
"PyTorch reference files"): the state before the forward pass, inputs, labels, outputs, losses,
gradients, BatchNorm statistics after the forward pass, and parameters after 1..K Adam steps.

Float64, training mode, every dropout p = 0, BatchNorm with batch statistics. Deterministic for a
given --seed (torch.manual_seed; model initialised first, then inputs and labels).

  /usr/bin/python3 tools/make_mtfn_reference.py --out tests/fixtures/reference/mtfn_small_regression.safetensors
  /usr/bin/python3 tools/make_mtfn_reference.py --config my_config.json --batch 6 --seq 5 --out f.safetensors

The commands that make the committed fixtures are in tools/README.md (or run tools/make_all_fixtures.sh).
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402
from torch_mtfn import (MTFN, label_classes, load_config, make_config, mtfn_loss,  # noqa: E402
                        mtfn_optimizer, zero_dropout)

# The small sizes used when no --config is given (each overridable by a flag).
SMALL = {
    'feature_dims': [12, 5, 7],   # text, audio, video
    'hidden_dims': [8, 4, 8],     # text, audio, video
    'text_out': 8,
    'post_fusion_dim': 6,
    'post_text_dim': 5,
    'post_audio_dim': 3,
    'post_video_dim': 4,
}

# Keys written to __metadata__, each value JSON-encoded (a string value keeps its quotes).
META_KEYS = ['feature_dims', 'hidden_dims', 'text_out', 'post_fusion_dim', 'post_text_dim',
             'post_audio_dim', 'post_video_dim', 'dropouts', 'post_dropouts', 'M', 'T', 'A', 'V',
             'learning_rate', 'text_weight_decay', 'audio_weight_decay', 'video_weight_decay',
             'train_mode', 'num_classes']


def int_list(text):
    return [int(x) for x in text.split(',')]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', help='JSON with MMSA key names (flat, or MMSA config_regression.json layout)')
    p.add_argument('--feature-dims', type=int_list, help='text,audio,video input widths')
    p.add_argument('--hidden-dims', type=int_list, help='text,audio,video hidden widths')
    p.add_argument('--text-out', type=int)
    p.add_argument('--post-fusion-dim', type=int)
    p.add_argument('--post-text-dim', type=int)
    p.add_argument('--post-audio-dim', type=int)
    p.add_argument('--post-video-dim', type=int)
    p.add_argument('--num-classes', type=int)
    p.add_argument('--mode', choices=['regression', 'classification'])
    p.add_argument('--batch', type=int, default=6)
    p.add_argument('--seq', type=int, default=5)
    p.add_argument('--seed', type=int, default=1111)
    p.add_argument('--adam-steps', type=int, default=2)
    p.add_argument('--out', required=True)
    return p.parse_args(argv)


def build_config(args):
    cfg = load_config(args.config) if args.config else make_config(SMALL)
    for key in ['feature_dims', 'hidden_dims', 'text_out', 'post_fusion_dim', 'post_text_dim',
                'post_audio_dim', 'post_video_dim', 'num_classes']:
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    if args.mode:
        cfg['train_mode'] = args.mode
    return zero_dropout(cfg)


def make_inputs(cfg, batch, seq, gen):
    """Text (B,S,Dt) ~ N(0,1) with zero rows after a per-sample length (like padded BERT features,
    all S steps are still fed to the LSTM); audio (B,Da), vision (B,Dv) ~ N(mu_d, s_d) per feature
    so BatchNorm has non-trivial statistics; labels on CH-SIMS's 0.1 grid in [-1, 1], stored as
    float32-rounded values (MMSA casts labels to float32), including +-0.1 where the batch allows."""
    dt, da, dv = cfg['feature_dims']
    text = torch.randn(batch, seq, dt, generator=gen, dtype=torch.float64)
    for b in range(batch):
        length = seq - (b % max(1, min(3, seq)))       # 0, 1 or 2 padding rows
        text[b, length:] = 0.0
    audio = torch.randn(da, generator=gen, dtype=torch.float64) + \
        torch.rand(da, generator=gen, dtype=torch.float64).add(0.5) * torch.randn(batch, da, generator=gen, dtype=torch.float64)
    vision = torch.randn(dv, generator=gen, dtype=torch.float64) + \
        torch.rand(dv, generator=gen, dtype=torch.float64).add(0.5) * torch.randn(batch, dv, generator=gen, dtype=torch.float64)
    labels = OrderedDict()
    for i, m in enumerate('MTAV'):
        grid = torch.randint(-10, 11, (batch,), generator=gen).to(torch.float64) / 10.0
        grid[i % batch] = 0.1            # class boundaries of mtfn.md §5: 0.1 is neutral,
        grid[(i + 1) % batch] = -0.1     # -0.1 is negative (compared in float32)
        labels[m] = grid.to(torch.float32).to(torch.float64)
    return text, audio, vision, labels


def clone_model(model, cfg, state):
    m = MTFN(cfg).double()
    m.load_state_dict(state)
    m.train()
    return m


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    if args.batch < 2:
        sys.exit('make_mtfn_reference.py: --batch must be >= 2 (BatchNorm batch statistics)')
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    model = MTFN(cfg).double()          # default PyTorch init drawn from the seeded stream
    model.train()
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())

    gen = torch.Generator().manual_seed(args.seed + 1)
    text, audio, vision, labels = make_inputs(cfg, args.batch, args.seq, gen)

    tensors = OrderedDict()
    for name, value in state.items():
        tensors[name] = value           # num_batches_tracked stays int64 -> I64
    tensors['input.text'] = text
    tensors['input.audio'] = audio
    tensors['input.vision'] = vision
    for m in 'MTAV':
        tensors[f'label.{m}'] = labels[m]
    if cfg['train_mode'] == 'classification':
        for m in 'MTAV':
            tensors[f'label.class.{m}'] = label_classes(labels[m])

    # forward + backward on the initial model
    x_t = text.clone().requires_grad_(True)
    x_a = audio.clone().requires_grad_(True)
    x_v = vision.clone().requires_grad_(True)
    out = model(x_t, x_a, x_v)
    loss, parts = mtfn_loss(out, labels, cfg)
    loss.backward()

    for key in ['M', 'T', 'A', 'V', 'Feature_t', 'Feature_a', 'Feature_v', 'Feature_f']:
        tensors[f'output.{key}'] = out[key]
    tensors['loss'] = loss.reshape(())
    for m in 'MTAV':
        tensors[f'loss.{m}'] = parts[m].reshape(())
    for name, p in model.named_parameters():
        if p.grad is not None:          # output_range / output_shift are frozen: no gradient
            tensors[f'grad.{name}'] = p.grad
    tensors['grad.input.text'] = x_t.grad
    tensors['grad.input.audio'] = x_a.grad
    tensors['grad.input.vision'] = x_v.grad
    for name, buf in model.named_buffers():
        tensors[f'after.{name}'] = buf

    # K Adam steps on the same batch, from the same initial state, MMSA's groups
    trained = clone_model(model, cfg, state)
    opt = mtfn_optimizer(trained, cfg)
    for k in range(1, args.adam_steps + 1):
        opt.zero_grad()
        out_k = trained(text, audio, vision)
        loss_k, _ = mtfn_loss(out_k, labels, cfg)
        loss_k.backward()
        opt.step()
        tensors[f'adam{k}.loss'] = loss_k.detach().reshape(())
        for name, p in trained.named_parameters():
            tensors[f'adam{k}.{name}'] = p.detach().clone()

    meta = OrderedDict((k, json.dumps(cfg[k])) for k in META_KEYS)
    meta['batch'] = json.dumps(args.batch)
    meta['seq'] = json.dumps(args.seq)
    meta['seed'] = json.dumps(args.seed)
    meta['adam_steps'] = json.dumps(args.adam_steps)
    meta['adam'] = json.dumps({'betas': [0.9, 0.999], 'eps': 1e-8, 'groups': [
        'text_subnet wd text_weight_decay', 'audio_subnet wd audio_weight_decay',
        'video_subnet wd video_weight_decay', 'output_range+output_shift lr 0 (frozen)',
        'all other parameters wd 0']})
    meta['config'] = json.dumps(cfg, sort_keys=True)
    meta['generator'] = 'tools/make_mtfn_reference.py'
    meta['torch_version'] = torch.__version__
    meta['format'] = 'mtfn-reference/1'

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, meta)
    size = os.path.getsize(args.out)
    print(f'{args.out}: {len(tensors)} tensors, {size} bytes, loss {loss.item():.12g}')


if __name__ == '__main__':
    main()
