#!/usr/bin/python3
"""Our MTFN model file (safetensors, PyTorch names) back into PyTorch: a tools/torch_mtfn.py MTFN with
the weights loaded, optionally saved as a .pth that MMSA loads (names prefixed "Model." as its AMIO
wrapper has them), optionally scored on a feature file. The other way is `mtfn convert`.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24):
    /usr/bin/python3 tools/safetensors_to_torch.py run/models/mtfn-1111.safetensors --out mtfn-sims.pth
    /usr/bin/python3 tools/safetensors_to_torch.py m.safetensors --predict data.pkl --split test --csv p.csv

The configuration comes from the file's "mtfn" metadata (what `mtfn train` and `mtfn convert` write);
a file without it has its sizes inferred from the weight shapes, as `mtfn convert` does. Loading is
strict (every name, every shape). From Python: `model, cfg = load_mtfn("m.safetensors")`.
"""
import argparse
import collections
import json
import os
import pickle
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_mtfn as tm  # noqa: E402
from safetensors_io import load_file  # noqa: E402

PREFIX = 'Model.'


def infer_config(state):
    """Sizes from the weight shapes (the same rules as models/mtfn/pth_checkpoint.h)."""
    def size(name, dim):
        if name not in state:
            raise ValueError(f"no tensor '{name}': not an MTFN state_dict")
        return int(state[name].shape[dim])
    out = size('post_fusion_layer_3.weight', 0)
    cfg = {
        'feature_dims': [size('text_subnet.rnn.weight_ih_l0', 1), size('audio_subnet.norm.weight', 0),
                         size('video_subnet.norm.weight', 0)],
        'hidden_dims': [size('text_subnet.rnn.weight_hh_l0', 1), size('audio_subnet.linear_1.weight', 0),
                        size('video_subnet.linear_1.weight', 0)],
        'text_out': size('text_subnet.linear_1.weight', 0),
        'post_fusion_dim': size('post_fusion_layer_1.weight', 0),
        'post_text_dim': size('post_text_layer_1.weight', 0),
        'post_audio_dim': size('post_audio_layer_1.weight', 0),
        'post_video_dim': size('post_video_layer_1.weight', 0),
    }
    if out > 1:
        cfg.update(train_mode='classification', num_classes=out)
    return tm.make_config(cfg)


def load_mtfn(path):
    """(model in eval mode, config) from one of our safetensors model files."""
    arrays, metadata = load_file(path)
    if any(k.startswith(PREFIX) for k in arrays):
        arrays = collections.OrderedDict((k[len(PREFIX):], v) for k, v in arrays.items() if k.startswith(PREFIX))
    if 'mtfn' in metadata:
        cfg = tm.make_config(json.loads(metadata['mtfn'])['config'])
    else:
        cfg = infer_config(arrays)
    model = tm.MTFN(cfg)
    state = collections.OrderedDict()
    for name, value in model.state_dict().items():
        if name not in arrays:
            raise ValueError(f"{path}: missing '{name}'")
        state[name] = torch.from_numpy(np.array(arrays[name])).to(value.dtype)
    extra = sorted(set(arrays) - set(state))
    if extra:
        raise ValueError(f"{path}: unexpected {extra}")
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, cfg


def mmsa_features(split):
    """MMSA's data_loader with need_normalized: float32, audio -inf -> 0, time mean, NaN -> 0."""
    text = np.asarray(split['text'], np.float32)
    audio = np.array(split['audio'], np.float32)
    audio[audio == -np.inf] = 0
    audio = np.mean(audio.transpose(1, 0, 2), axis=0)
    vision = np.mean(np.asarray(split['vision'], np.float32).transpose(1, 0, 2), axis=0)
    audio[audio != audio] = 0
    vision[vision != vision] = 0
    return torch.from_numpy(text), torch.from_numpy(audio), torch.from_numpy(vision)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('model', help='our safetensors model file (mtfn train / mtfn convert)')
    ap.add_argument('--out', help='write the state_dict as a .pth (torch.save)')
    ap.add_argument('--no-prefix', action='store_true', help="names without MMSA's 'Model.' prefix")
    ap.add_argument('--legacy', action='store_true', help="torch's legacy (non-zip) format")
    ap.add_argument('--predict', metavar='DATA.pkl', help='score a split of an MMSA feature file in PyTorch')
    ap.add_argument('--split', default='test')
    ap.add_argument('--csv', help='with --predict: write id,M,T,A,V (first output of each head)')
    args = ap.parse_args(argv)

    model, cfg = load_mtfn(args.model)
    n = sum(p.numel() for p in model.parameters())
    print(f"{args.model}: MTFN {cfg['train_mode']}, feature_dims {cfg['feature_dims']}, "
          f"hidden_dims {cfg['hidden_dims']}, {n} parameters")
    if args.out:
        state = model.state_dict()
        if not args.no_prefix:
            state = collections.OrderedDict((PREFIX + k, v) for k, v in state.items())
        torch.save(state, args.out, _use_new_zipfile_serialization=not args.legacy)
        print(f'wrote {args.out}: {len(state)} tensors')
    if args.predict:
        with open(args.predict, 'rb') as f:
            split = pickle.load(f)[args.split]
        with torch.no_grad():
            out = model(*mmsa_features(split))
        ids = list(split['id']) if 'id' in split else [str(i) for i in range(len(split['text']))]
        rows = ['id,M,T,A,V'] + [','.join([str(ids[i])] + [repr(float(out[k][i, 0])) for k in 'MTAV'])
                                 for i in range(len(ids))]
        if args.csv:
            with open(args.csv, 'w') as f:
                f.write('\n'.join(rows) + '\n')
            print(f'wrote {args.csv}: {len(ids)} rows')
        else:
            print('\n'.join(rows))


if __name__ == '__main__':
    main()
