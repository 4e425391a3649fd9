#!/usr/bin/python3
"""Writes small float64 PyTorch fixtures for the attention pieces of nn/ (tests/nn/test_attention.cpp
compares at 1e-10 relative): softmax over the last dimension (torch.softmax), torch.nn.LayerNorm and
torch.nn.MultiheadAttention (batch_first, dropout 0, self-attention). Same conventions as
make_nn_fixtures.py: gradients are those of L = sum(output * grad_output).

  /usr/bin/python3 tools/make_attention_fixtures.py --out tests/fixtures/nn
"""
import argparse
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nn_fixtures import D, leaf, randn, write  # noqa: E402


def make_softmax(out_dir, gen):
    x = leaf(randn(gen, 3, 4, 5) * 3.0)
    x.data[0, 0, 2] = 800.0                              # a row whose naive exp overflows
    y = torch.softmax(x, dim=-1)
    gy = randn(gen, 3, 4, 5)
    y.backward(gy)
    write(out_dir, 'softmax.safetensors', OrderedDict([
        ('input', x), ('output', y), ('grad_output', gy), ('grad.input', x.grad)]),
        'torch.softmax(input, dim=-1) on (3, 4, 5), one row with an entry of 800; grad.input = d sum(output*grad_output)')


def make_layer_norm(out_dir, gen):
    ln = torch.nn.LayerNorm(6).to(D)                     # eps 1e-5
    with torch.no_grad():
        ln.weight.copy_(randn(gen, 6) * 0.5 + 1.0)
        ln.bias.copy_(randn(gen, 6) * 0.3)
    x = leaf(randn(gen, 2, 3, 6) * 2.0 + 1.0)
    y = ln(x)
    gy = randn(gen, 2, 3, 6)
    y.backward(gy)
    write(out_dir, 'layer_norm.safetensors', OrderedDict([
        ('weight', ln.weight), ('bias', ln.bias), ('input', x), ('output', y), ('grad_output', gy),
        ('grad.weight', ln.weight.grad), ('grad.bias', ln.bias.grad), ('grad.input', x.grad)]),
        'nn.LayerNorm(6), eps 1e-5, on (2, 3, 6); grad.* = d sum(output*grad_output)', normalized_shape=6, eps=1e-5)


def make_attention(out_dir, gen, fname, batch, tokens, embed, heads):
    mha = torch.nn.MultiheadAttention(embed, heads, dropout=0.0, batch_first=True).to(D)
    with torch.no_grad():                                # deterministic, and non-zero biases
        for p in mha.parameters():
            p.copy_(randn(gen, *p.shape) * 0.4)
    x = leaf(randn(gen, batch, tokens, embed))
    y, w = mha(x, x, x, need_weights=True, average_attn_weights=False)
    gy = randn(gen, batch, tokens, embed)
    y.backward(gy)
    t = OrderedDict()
    for name, p in mha.named_parameters():
        t[name] = p
    t.update([('input', x), ('output', y), ('weights', w), ('grad_output', gy)])
    for name, p in mha.named_parameters():
        t['grad.' + name] = p.grad
    t['grad.input'] = x.grad
    write(out_dir, fname, t,
          f'nn.MultiheadAttention({embed}, {heads}, dropout=0, batch_first=True), self-attention on '
          f'({batch}, {tokens}, {embed}); weights per head (average_attn_weights=False); '
          'grad.* = d sum(output*grad_output)',
          embed_dim=embed, num_heads=heads, batch=batch, tokens=tokens)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20180)
    make_softmax(args.out, gen)
    make_layer_norm(args.out, gen)
    make_attention(args.out, gen, 'multihead_attention.safetensors', 3, 7, 8, 2)
    make_attention(args.out, gen, 'multihead_attention_one_head.safetensors', 2, 4, 5, 1)


if __name__ == '__main__':
    main()
