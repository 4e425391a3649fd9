#!/usr/bin/python3
"""Writes a PyTorch reference file of MMSA's TFN for `mtfn check-grads` (the same format as
make_mtfn_reference.py's, docs/reference-files.md, with "model": "\\"tfn\\"" in __metadata__): the
state before the forward pass, inputs, the M label, outputs, the loss, gradients, BatchNorm
statistics after the forward pass, and parameters after 1..K Adam steps.

Float64, training mode, every dropout p = 0, BatchNorm with batch statistics. Deterministic for a
given --seed. The committed fixtures (tools/make_all_fixtures.sh):

  /usr/bin/python3 tools/make_tfn_reference.py --out tests/fixtures/reference/tfn_small_regression.safetensors
  /usr/bin/python3 tools/make_tfn_reference.py --mode classification --feature-dims 9,6,4 --hidden-dims 5,3,6 \\
      --text-out 4 --post-fusion-dim 7 --batch 7 --seq 4 --seed 2222 \\
      --out tests/fixtures/reference/tfn_sizes2_classification.safetensors
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_mtfn_reference import int_list, make_inputs  # noqa: E402
from safetensors_io import save_file  # noqa: E402
from torch_tfn import TFN, label_classes, make_config, tfn_loss, tfn_optimizer, zero_dropout  # noqa: E402

SMALL = {
    'feature_dims': [12, 5, 7],   # text, audio, video
    'hidden_dims': [8, 4, 8],     # text, audio, video
    'text_out': 8,
    'post_fusion_dim': 6,
}

META_KEYS = ['feature_dims', 'hidden_dims', 'text_out', 'post_fusion_dim', 'dropouts', 'learning_rate',
             'train_mode', 'num_classes']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--feature-dims', type=int_list, help='text,audio,video input widths')
    p.add_argument('--hidden-dims', type=int_list, help='text,audio,video hidden widths')
    p.add_argument('--text-out', type=int)
    p.add_argument('--post-fusion-dim', type=int)
    p.add_argument('--num-classes', type=int)
    p.add_argument('--learning-rate', type=float)
    p.add_argument('--mode', choices=['regression', 'classification'])
    p.add_argument('--batch', type=int, default=6)
    p.add_argument('--seq', type=int, default=5)
    p.add_argument('--seed', type=int, default=1111)
    p.add_argument('--adam-steps', type=int, default=3)
    p.add_argument('--out', required=True)
    return p.parse_args(argv)


def build_config(args):
    cfg = make_config(SMALL)
    for key in ['feature_dims', 'hidden_dims', 'text_out', 'post_fusion_dim', 'num_classes', 'learning_rate']:
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    if args.mode:
        cfg['train_mode'] = args.mode
    return zero_dropout(cfg)


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    if args.batch < 2:
        sys.exit('make_tfn_reference.py: --batch must be >= 2 (BatchNorm batch statistics)')
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    model = TFN(cfg).double()
    model.train()
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    assert len(state) == 36, len(state)

    gen = torch.Generator().manual_seed(args.seed + 1)
    text, audio, vision, labels = make_inputs(cfg, args.batch, args.seq, gen)
    label_m = labels['M']

    tensors = OrderedDict()
    for name, value in state.items():
        tensors[name] = value
    tensors['input.text'] = text
    tensors['input.audio'] = audio
    tensors['input.vision'] = vision
    tensors['label.M'] = label_m
    if cfg['train_mode'] == 'classification':
        tensors['label.class.M'] = label_classes(label_m)

    x_t = text.clone().requires_grad_(True)
    x_a = audio.clone().requires_grad_(True)
    x_v = vision.clone().requires_grad_(True)
    out = model(x_t, x_a, x_v)
    loss = tfn_loss(out, label_m, cfg)
    loss.backward()

    for key in ['M', 'Feature_t', 'Feature_a', 'Feature_v', 'Feature_f']:
        tensors[f'output.{key}'] = out[key]
    tensors['loss'] = loss.reshape(())
    for name, p in model.named_parameters():
        if p.grad is not None:
            tensors[f'grad.{name}'] = p.grad
    tensors['grad.input.text'] = x_t.grad
    tensors['grad.input.audio'] = x_a.grad
    tensors['grad.input.vision'] = x_v.grad
    for name, buf in model.named_buffers():
        tensors[f'after.{name}'] = buf

    trained = TFN(cfg).double()
    trained.load_state_dict(state)
    trained.train()
    opt = tfn_optimizer(trained, cfg)
    for k in range(1, args.adam_steps + 1):
        opt.zero_grad()
        out_k = trained(text, audio, vision)
        loss_k = tfn_loss(out_k, label_m, cfg)
        loss_k.backward()
        opt.step()
        tensors[f'adam{k}.loss'] = loss_k.detach().reshape(())
        for name, p in trained.named_parameters():
            tensors[f'adam{k}.{name}'] = p.detach().clone()

    meta = OrderedDict()
    meta['model'] = json.dumps('tfn')
    for k in META_KEYS:
        meta[k] = json.dumps(cfg[k])
    meta['batch'] = json.dumps(args.batch)
    meta['seq'] = json.dumps(args.seq)
    meta['seed'] = json.dumps(args.seed)
    meta['adam_steps'] = json.dumps(args.adam_steps)
    meta['adam'] = json.dumps({'betas': [0.9, 0.999], 'eps': 1e-8,
                               'groups': ['every parameter but output_range, output_shift; wd 0']})
    meta['config'] = json.dumps(cfg, sort_keys=True)
    meta['generator'] = 'tools/make_tfn_reference.py'
    meta['torch_version'] = torch.__version__
    meta['format'] = 'mtfn-reference/1'

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, meta)
    size = os.path.getsize(args.out)
    print(f'{args.out}: {len(tensors)} tensors, {size} bytes, loss {loss.item():.12g}')


if __name__ == '__main__':
    main()
