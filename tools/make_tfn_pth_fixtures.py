#!/usr/bin/python3
"""TFN checkpoint fixtures for models/tfn/pth_checkpoint.h and models/pth.h (tests/pth/), beside
make_pth_fixtures.py's MTFN ones and reading its sims_small.pkl (run that one first).

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24), from the repository root:
    /usr/bin/python3 tools/make_tfn_pth_fixtures.py [--out tests/fixtures/pth]

Writes, with real torch.save:
  tfn_small.pth            a TFN state_dict as MMSA saves it (names prefixed "Model."), zip format,
                           feature sizes fitting sims_small.pkl
  tfn_small_cls.pth        a classification TFN (num_classes 3), no prefix, float64 tensors
  tfn_predictions.json     PyTorch's eval-mode output M of both on the test split of sims_small.pkl
"""
import argparse
import collections
import json
import os
import pickle
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_tfn as tt  # noqa: E402
from make_pth_fixtures import AMIO, SEQ, mmsa_features  # noqa: E402

SMALL = {'feature_dims': [12, 5, 7], 'hidden_dims': [6, 3, 5], 'text_out': 4, 'post_fusion_dim': 5}


def make_model(cfg, seed, batches):
    """A TFN with random weights and BatchNorm statistics that are not the defaults."""
    torch.manual_seed(seed)
    model = tt.TFN(cfg)
    model.train()
    gen = torch.Generator().manual_seed(seed + 1)
    dt, da, dv = cfg['feature_dims']
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(4, SEQ, dt, generator=gen), 2 + 3 * torch.randn(4, da, generator=gen),
                  -1 + 0.5 * torch.randn(4, dv, generator=gen))
    model.eval()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='tests/fixtures/pth')
    out = ap.parse_args().out
    torch.use_deterministic_algorithms(True)

    reg = make_model(tt.make_config(SMALL), 3331, 3)
    torch.save(AMIO(reg).state_dict(), os.path.join(out, 'tfn_small.pth'))
    cls = make_model(tt.make_config(dict(SMALL, train_mode='classification', num_classes=3)), 3333, 2).double()
    torch.save(cls.state_dict(), os.path.join(out, 'tfn_small_cls.pth'))

    with open(os.path.join(out, 'sims_small.pkl'), 'rb') as f:
        sims = pickle.load(f)
    preds = collections.OrderedDict()
    preds['split'] = 'test'
    preds['ids'] = sims['test']['id']
    for name, model in [('tfn_small.pth', reg), ('tfn_small_cls.pth', cls.float())]:
        model.eval()
        with torch.no_grad():
            preds[name] = {'M': model(*mmsa_features(sims['test']))['M'].double().tolist()}
    with open(os.path.join(out, 'tfn_predictions.json'), 'w') as f:
        json.dump(preds, f, indent=1, ensure_ascii=False)
        f.write('\n')
    for name in ['tfn_small.pth', 'tfn_small_cls.pth']:
        assert len(torch.load(os.path.join(out, name))) == 36
    print(f'wrote {out}: tfn_small.pth, tfn_small_cls.pth, tfn_predictions.json')


if __name__ == '__main__':
    main()
