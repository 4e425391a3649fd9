#!/usr/bin/python3
"""Writes small float64 PyTorch fixtures for module-level parity tests of the C++ nn/ and optim/
(tests compare at 1e-10 relative). One safetensors file per module; tensor names are listed in
tools/README.md and in each file's `__metadata__["description"]`. Not the whole-model reference
(that is make_mtfn_reference.py).

Gradients are those of the scalar  L = sum(output * grad_output)  (plus the same for other outputs
that have a grad_* tensor), i.e. `grad_output` is the upstream gradient handed to backward.

  /usr/bin/python3 tools/make_nn_fixtures.py --out tests/fixtures/nn
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402
from torch_mtfn import tensor_fusion  # noqa: E402

D = torch.float64


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=D)


def leaf(x):
    return x.detach().clone().requires_grad_(True)


def write(out_dir, name, tensors, description, **meta):
    metadata = OrderedDict(description=description)
    for k, v in meta.items():
        metadata[k] = json.dumps(v)
    metadata['generator'] = 'tools/make_nn_fixtures.py'
    metadata['torch_version'] = torch.__version__
    path = os.path.join(out_dir, name)
    save_file(tensors, path, metadata)
    print(f'{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes')


def make_linear(out_dir, gen):
    x, w, b = leaf(randn(gen, 4, 5)), leaf(randn(gen, 3, 5) * 0.4), leaf(randn(gen, 3) * 0.1)
    y = F.linear(x, w, b)                              # y = x W^T + b
    gy = randn(gen, 4, 3)
    y.backward(gy)
    write(out_dir, 'linear.safetensors', OrderedDict([
        ('weight', w), ('bias', b), ('input', x), ('output', y), ('grad_output', gy),
        ('grad.weight', w.grad), ('grad.bias', b.grad), ('grad.input', x.grad)]),
        'nn.Linear(5, 3): output = input @ weight^T + bias; grad.* = d sum(output*grad_output)',
        in_features=5, out_features=3)


def make_lstm(out_dir, gen, fname, layers, batch, seq, inp, hidden, through_output):
    lstm = torch.nn.LSTM(inp, hidden, num_layers=layers, batch_first=True).to(D)
    with torch.no_grad():                               # deterministic weights from our generator
        for p in lstm.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=D).mul(2).sub(1).div(hidden ** 0.5))
    x = leaf(randn(gen, batch, seq, inp))
    out, (h_n, c_n) = lstm(x)                           # h_0 = c_0 = 0
    g_out = randn(gen, batch, seq, hidden) if through_output else torch.zeros(batch, seq, hidden, dtype=D)
    g_h = randn(gen, layers, batch, hidden)
    torch.autograd.backward([out, h_n], [g_out, g_h])
    t = OrderedDict()
    for name, p in lstm.named_parameters():
        t[name] = p
    t.update([('input', x), ('output', out), ('h_n', h_n), ('c_n', c_n),
              ('grad_output', g_out), ('grad_h_n', g_h)])
    for name, p in lstm.named_parameters():
        t['grad.' + name] = p.grad
    t['grad.input'] = x.grad
    write(out_dir, fname, t,
          f'nn.LSTM({inp}, {hidden}, num_layers={layers}, batch_first=True), no dropout, h_0 = c_0 = 0; '
          'gates i,f,g,o; grad.* = d [sum(output*grad_output) + sum(h_n*grad_h_n)]; c_n gets no upstream gradient',
          input_size=inp, hidden_size=hidden, num_layers=layers, batch=batch, seq=seq, batch_first=True)


def make_batchnorm(out_dir, gen):
    C, N = 4, 5
    bn = torch.nn.BatchNorm1d(C).to(D)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.3 * randn(gen, C))
        bn.bias.copy_(0.2 * randn(gen, C))
        bn.running_mean.copy_(0.5 * randn(gen, C))
        bn.running_var.copy_(torch.rand(C, generator=gen, dtype=D) + 0.5)
    t = OrderedDict([('weight', bn.weight.detach().clone()), ('bias', bn.bias.detach().clone()),
                     ('running_mean', bn.running_mean.clone()), ('running_var', bn.running_var.clone()),
                     ('num_batches_tracked', bn.num_batches_tracked.clone())])
    bn.train()
    x = leaf(randn(gen, N, C) * torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=D) + torch.tensor([0.0, 1.0, -2.0, 5.0], dtype=D))
    y = bn(x)
    gy = randn(gen, N, C)
    y.backward(gy)
    t.update([('input', x), ('output', y), ('grad_output', gy), ('grad.weight', bn.weight.grad.clone()),
              ('grad.bias', bn.bias.grad.clone()), ('grad.input', x.grad),
              ('after.running_mean', bn.running_mean.clone()), ('after.running_var', bn.running_var.clone()),
              ('after.num_batches_tracked', bn.num_batches_tracked.clone())])
    bn.eval()
    bn.zero_grad()
    xe = leaf(randn(gen, 3, C) + 1.0)
    ye = bn(xe)
    gye = randn(gen, 3, C)
    ye.backward(gye)
    t.update([('eval.input', xe), ('eval.output', ye), ('eval.grad_output', gye), ('eval.grad.input', xe.grad),
              ('eval.grad.weight', bn.weight.grad), ('eval.grad.bias', bn.bias.grad)])
    write(out_dir, 'batchnorm1d.safetensors', t,
          'nn.BatchNorm1d(4), eps 1e-5, momentum 0.1. Training-mode forward on input (5,4) with the state '
          'weight/bias/running_*/num_batches_tracked; after.* = buffers after it (running_var updated with the '
          'unbiased batch variance). Then eval mode (using after.* statistics) on eval.input (3,4).',
          num_features=C, eps=1e-5, momentum=0.1)


def make_fusion(out_dir, gen):
    a, v, t_ = leaf(randn(gen, 3, 2)), leaf(randn(gen, 3, 3)), leaf(randn(gen, 3, 4))
    z = tensor_fusion(a, v, t_)                          # (3, 3*4*5)
    gz = randn(gen, *z.shape)
    z.backward(gz)
    write(out_dir, 'fusion.safetensors', OrderedDict([
        ('a', a), ('v', v), ('t', t_), ('z', z), ('grad_z', gz),
        ('grad.a', a.grad), ('grad.v', v.grad), ('grad.t', t_.grad)]),
        'tensor fusion z[b, (i*(Dv+1) + j)*(Dt+1) + k] = [1;a][i] * [1;v][j] * [1;t][k]; grad.* = d sum(z*grad_z)',
        batch=3, dims=[2, 3, 4])


def optim_params(gen):
    return OrderedDict([('p0', randn(gen, 3, 4)), ('p1', randn(gen, 4)), ('p2', randn(gen, 2, 3)),
                        ('p3', randn(gen, 2))])


def run_optimizer(out_dir, gen, fname, make_opt, groups_meta, state_keys, description, steps=5, **meta):
    init = optim_params(gen)
    params = OrderedDict((k, leaf(v)) for k, v in init.items())
    opt = make_opt(params)
    t = OrderedDict(('init.' + k, v) for k, v in init.items())
    for k in range(1, steps + 1):
        for name, p in params.items():
            g = randn(gen, *p.shape)
            if name == 'p1':
                g[0] = 0.0                               # an entry whose gradient is always exactly 0
            p.grad = g
            t[f'step{k}.grad.{name}'] = g.clone()
        opt.step()
        for name, p in params.items():
            t[f'step{k}.{name}'] = p.detach().clone()
    for name, p in params.items():
        st = opt.state[p]
        for key in state_keys:
            value = st[key]
            if key == 'step':
                value = torch.tensor(int(value), dtype=torch.int64)
            t[f'state.{key}.{name}'] = value
    write(out_dir, fname, t, description, groups=groups_meta, steps=steps, **meta)


def make_adam(out_dir, gen):
    groups = [{'params': ['p0', 'p1'], 'lr': 0.01, 'weight_decay': 0.1},
              {'params': ['p2'], 'lr': 0.005, 'weight_decay': 0.0},
              {'params': ['p3'], 'lr': 0.0, 'weight_decay': 0.0}]

    def make(params):
        return torch.optim.Adam([{'params': [params[n] for n in g['params']], 'lr': g['lr'],
                                  'weight_decay': g['weight_decay']} for g in groups],
                                lr=0.001, betas=(0.9, 0.999), eps=1e-8)
    run_optimizer(out_dir, gen, 'adam.safetensors', make, groups, ['step', 'exp_avg', 'exp_avg_sq'],
                  'torch.optim.Adam (L2 decay added to the gradient, no amsgrad), 3 groups (lr 0 in the third, '
                  'as MMSA\'s frozen group), betas (0.9, 0.999), eps 1e-8; 5 steps with the given gradients '
                  'step<k>.grad.<p>; step<k>.<p> = parameters after step k; state.* after the last step',
                  betas=[0.9, 0.999], eps=1e-8)


def make_sgd(out_dir, gen):
    groups = [{'params': ['p0', 'p1'], 'lr': 0.1, 'weight_decay': 0.01},
              {'params': ['p2', 'p3'], 'lr': 0.05, 'weight_decay': 0.0}]

    def make(params):
        return torch.optim.SGD([{'params': [params[n] for n in g['params']], 'lr': g['lr'],
                                 'weight_decay': g['weight_decay']} for g in groups],
                               lr=0.001, momentum=0.9, dampening=0.0, nesterov=False)
    run_optimizer(out_dir, gen, 'sgd.safetensors', make, groups, ['momentum_buffer'],
                  'torch.optim.SGD momentum 0.9, dampening 0, no nesterov, 2 groups; first step buf = g, then '
                  'buf = 0.9 buf + g; g includes weight_decay * p; 5 steps as in adam.safetensors',
                  momentum=0.9, dampening=0.0, nesterov=False)


def make_losses(out_dir, gen):
    logits = leaf(randn(gen, 5, 3) * 2)
    with torch.no_grad():
        logits[4] = torch.tensor([50.0, -20.0, 49.0], dtype=D)   # log-sum-exp stability
    target = torch.tensor([0, 2, 1, 1, 0], dtype=torch.int64)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    write(out_dir, 'cross_entropy.safetensors', OrderedDict([
        ('input', logits), ('target', target), ('loss', loss.reshape(())), ('grad.input', logits.grad)]),
        'F.cross_entropy(input (5,3) logits, target (5) int64 classes), mean over samples; grad.input = dloss/dinput')

    for name, fn in (('l1_loss', F.l1_loss), ('mse_loss', F.mse_loss)):
        x = leaf(randn(gen, 6, 1))
        y = randn(gen, 6, 1)
        y[2, 0] = x[2, 0].item()                         # an exact tie: L1's gradient there is 0
        loss = fn(x, y)
        loss.backward()
        write(out_dir, f'{name}.safetensors', OrderedDict([
            ('input', x), ('target', y), ('loss', loss.reshape(())), ('grad.input', x.grad)]),
            f'F.{name}(input (6,1), target (6,1)), mean; grad.input = dloss/dinput; input[2] == target[2] '
            '(L1: sign(0) = 0)')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='tests/fixtures/nn')
    p.add_argument('--seed', type=int, default=20240601)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    make_linear(args.out, gen)
    make_lstm(args.out, gen, 'lstm.safetensors', layers=2, batch=3, seq=4, inp=5, hidden=6, through_output=True)
    make_lstm(args.out, gen, 'lstm_last.safetensors', layers=1, batch=3, seq=5, inp=4, hidden=3, through_output=False)
    make_batchnorm(args.out, gen)
    make_fusion(args.out, gen)
    make_adam(args.out, gen)
    make_sgd(args.out, gen)
    make_losses(args.out, gen)


if __name__ == '__main__':
    main()
