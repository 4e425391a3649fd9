#!/usr/bin/python3
"""Writes a PyTorch reference file of mtfn_attn for `mtfn check-grads` (the format of
make_mtfn_reference.py, metadata "model": "mtfn_attn"): the state before the forward pass, inputs,
labels, outputs (with the tokens and the attention weights), losses, gradients, BatchNorm statistics
after the forward pass, and parameters after 1..K Adam steps. Float64, training mode, dropout 0.

  /usr/bin/python3 tools/make_mtfn_attn_reference.py --out tests/fixtures/reference/mtfn_attn_small_regression.safetensors

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
from make_mtfn_reference import SMALL, META_KEYS, int_list, make_inputs  # noqa: E402
from torch_mtfn import label_classes, mtfn_loss, mtfn_optimizer, zero_dropout  # noqa: E402
from torch_mtfn_attn import MTFN_ATTN, make_attn_config  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--feature-dims', type=int_list, help='text,audio,video input widths')
    p.add_argument('--hidden-dims', type=int_list, help='text,audio,video hidden widths')
    p.add_argument('--text-out', type=int)
    p.add_argument('--attn-dim', type=int, default=8)
    p.add_argument('--attn-heads', type=int, default=2)
    p.add_argument('--attn-rank', type=int, default=3)
    p.add_argument('--mode', choices=['regression', 'classification'])
    p.add_argument('--batch', type=int, default=6)
    p.add_argument('--seq', type=int, default=5)
    p.add_argument('--seed', type=int, default=1111)
    p.add_argument('--adam-steps', type=int, default=2)
    p.add_argument('--out', required=True)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = make_attn_config(SMALL)
    for key in ['feature_dims', 'hidden_dims', 'text_out', 'attn_dim', 'attn_heads', 'attn_rank']:
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    if args.mode:
        cfg['train_mode'] = args.mode
    cfg = zero_dropout(cfg)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    model = MTFN_ATTN(cfg).double()
    with torch.no_grad():  # PyTorch zeroes these; random values test that they are used right
        for p in [model.token_avt.bias, model.attention.in_proj_bias, model.attention.out_proj.bias,
                  model.attention_norm.bias]:
            p.uniform_(-0.3, 0.3)
        model.attention_norm.weight.uniform_(0.5, 1.5)
    model.train()
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())

    gen = torch.Generator().manual_seed(args.seed + 1)
    text, audio, vision, labels = make_inputs(cfg, args.batch, args.seq, gen)

    tensors = OrderedDict(state.items())
    tensors['input.text'], tensors['input.audio'], tensors['input.vision'] = text, audio, vision
    for m in 'MTAV':
        tensors[f'label.{m}'] = labels[m]
    if cfg['train_mode'] == 'classification':
        for m in 'MTAV':
            tensors[f'label.class.{m}'] = label_classes(labels[m])

    x_t, x_a, x_v = (x.clone().requires_grad_(True) for x in (text, audio, vision))
    out = model(x_t, x_a, x_v)
    loss, parts = mtfn_loss(out, labels, cfg)
    loss.backward()
    for key in ['M', 'T', 'A', 'V', 'Feature_t', 'Feature_a', 'Feature_v', 'Feature_f', 'tokens',
                'attention_weights']:
        tensors[f'output.{key}'] = out[key].detach()
    tensors['loss'] = loss.reshape(())
    for m in 'MTAV':
        tensors[f'loss.{m}'] = parts[m].reshape(())
    for name, p in model.named_parameters():
        if p.grad is not None:
            tensors[f'grad.{name}'] = p.grad
    tensors['grad.input.text'] = x_t.grad
    tensors['grad.input.audio'] = x_a.grad
    tensors['grad.input.vision'] = x_v.grad
    for name, buf in model.named_buffers():
        tensors[f'after.{name}'] = buf

    trained = MTFN_ATTN(cfg).double()
    trained.load_state_dict(state)
    trained.train()
    opt = mtfn_optimizer(trained, cfg)  # MTFN's five groups: the names of the subnets are the same
    for k in range(1, args.adam_steps + 1):
        opt.zero_grad()
        loss_k, _ = mtfn_loss(trained(text, audio, vision), labels, cfg)
        loss_k.backward()
        opt.step()
        tensors[f'adam{k}.loss'] = loss_k.detach().reshape(())
        for name, p in trained.named_parameters():
            tensors[f'adam{k}.{name}'] = p.detach().clone()

    meta = OrderedDict((k, json.dumps(cfg[k])) for k in META_KEYS + ['attn_dim', 'attn_heads', 'attn_rank'])
    meta['model'] = json.dumps('mtfn_attn')
    meta['batch'] = json.dumps(args.batch)
    meta['seq'] = json.dumps(args.seq)
    meta['seed'] = json.dumps(args.seed)
    meta['adam_steps'] = json.dumps(args.adam_steps)
    meta['config'] = json.dumps(cfg, sort_keys=True)
    meta['generator'] = 'tools/make_mtfn_attn_reference.py'
    meta['torch_version'] = torch.__version__
    meta['format'] = 'mtfn-reference/1'

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, meta)
    print(f'{args.out}: {len(tensors)} tensors, {os.path.getsize(args.out)} bytes, loss {loss.item():.12g}')


if __name__ == '__main__':
    main()
