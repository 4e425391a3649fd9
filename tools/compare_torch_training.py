#!/usr/bin/python3
"""Trains MTFN (or with --model tfn, TFN) on the same synthetic MMSA-layout file (`mtfn synth
--dataset D`) with our `mtfn train` and with PyTorch (tools/torch_train_mtfn.py, MMSA's procedure)
for the same seeds, and prints each side's test metrics per seed and their mean and standard
deviation over seeds, so the two can be compared (the figures in docs/mtfn.md and docs/tfn.md come
from this). Not a CI test: it needs torch and takes minutes.

  /usr/bin/python3 tools/compare_torch_training.py [--model mtfn|tfn] [--dataset sims|simsv2|mosi|mosei]
      [--config c.json] [--seeds 1111,...] [--max-epochs N] [--scale 0.1] [--threads 2]
      [--mtfn build/mtfn] [--work /tmp/mtfn-compare]

Per metric it prints both means ± population stds, the difference, and whether the difference is
within seed noise: |diff| < 2 * sqrt(s_a^2/n_a + s_b^2/n_b) (two standard errors of the difference
of two means; s the sample std over seeds, ddof 1).

The two sides share the data, the configuration and MMSA's procedure, not their random numbers
(initial weights, shuffles, dropout masks), so they agree within seed-to-seed noise, not exactly.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, log):
    t0 = time.time()
    with open(log, 'w') as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log) as f:
            tail = f.read().splitlines()[-5:]
        # e.g. PyTorch's BatchNorm1d on a last training batch of one sample (k * batch_size + 1
        # training samples: MMSA crashes there, we skip that batch): pick another --scale
        sys.exit(f'{" ".join(cmd[:3])}... failed ({rc}); {log} ends with:\n  ' + '\n  '.join(tail))
    return time.time() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', choices=['mtfn', 'tfn'], default='mtfn')
    p.add_argument('--dataset', choices=['sims', 'simsv2', 'mosi', 'mosei'], default='sims',
                   help='the synthetic file\'s layout, MMSA\'s config entry and the metrics')
    p.add_argument('--config', help='JSON with MMSA key names (default: MMSA\'s config for the model and dataset)')
    p.add_argument('--seeds', default='1111,1112,1113,1114,1115')
    p.add_argument('--max-epochs', type=int, default=0, help='0: until early stopping')
    p.add_argument('--scale', type=float, default=0.1, help='synthetic split sizes relative to CH-SIMS')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--mtfn', default=os.path.join(ROOT, 'build', 'mtfn'))
    p.add_argument('--work', default='/tmp/mtfn-compare')
    a = p.parse_args()

    os.makedirs(a.work, exist_ok=True)
    data = os.path.join(a.work, f'synth_{a.dataset}_{a.scale}.pkl')
    if not os.path.exists(data):
        run([a.mtfn, 'synth', '--dataset', a.dataset, '--out', data, '--scale', str(a.scale), '--seed', '1'],
            os.path.join(a.work, 'synth.log'))
    common = ['--seeds', a.seeds, '--max-epochs', str(a.max_epochs), '--model', a.model, '--dataset', a.dataset] + \
        (['--config', a.config] if a.config else [])
    ours_dir = os.path.join(a.work, f'ours_{a.model}_{a.dataset}')
    t_ours = run([a.mtfn, 'train', '--data', data, '--out', ours_dir, '--threads', str(a.threads), '--no-progress',
                  '--overwrite'] + common, os.path.join(a.work, 'ours.log'))
    torch_json = os.path.join(a.work, f'torch_{a.model}_{a.dataset}.json')
    t_torch = run(['/usr/bin/python3', os.path.join(HERE, 'torch_train_mtfn.py'), '--data', data, '--threads',
                   str(a.threads), '--json-out', torch_json] + common, os.path.join(a.work, 'torch.log'))

    with open(os.path.join(ours_dir, 'results.json')) as f:
        ours = json.load(f)
    with open(torch_json) as f:
        torch_r = json.load(f)
    keys = ['Mult_acc_2', 'Mult_acc_3', 'Mult_acc_5', 'F1_score', 'MAE', 'Corr']
    if ours['mode'] == 'classification':
        keys = ['Acc_3', 'F1_score_3', 'Has0_acc_2', 'Non0_acc_2']
    elif a.dataset in ('mosi', 'mosei'):
        keys = ['Has0_acc_2', 'Has0_F1_score', 'Non0_acc_2', 'Non0_F1_score', 'Mult_acc_5', 'Mult_acc_7', 'MAE', 'Corr']
    print(f'model {a.model}; data {data}; seeds {a.seeds}; max epochs {a.max_epochs or "early stop"}; '
          f'config {a.config or "MMSA " + a.model + "/" + a.dataset}')
    print(f'wall time: ours {t_ours:.0f} s, PyTorch {t_torch:.0f} s ({a.threads} threads)')
    for name, r in (('ours', ours), ('torch', torch_r)):
        for s in r['seeds']:
            print(f'  {name:5} seed {s["seed"]}: best epoch {s["best_epoch"]:3d} of {len(s["epochs"]):3d}  ' +
                  '  '.join(f'{k} {s["test"][k]:.4f}' for k in keys))
    print('mean ± population std over seeds; within noise: |diff| < 2 * sqrt(s_a^2/n_a + s_b^2/n_b), s with ddof 1')
    print(f'| {"metric":13} | {"ours":>17} | {"PyTorch":>17} | {"diff":>8} | {"2 x se":>7} | within noise |')
    print('|---|---|---|---|---|---|')
    for k in keys:
        x = np.array([s['test'][k] for s in ours['seeds']], dtype=float)
        y = np.array([s['test'][k] for s in torch_r['seeds']], dtype=float)
        diff = x.mean() - y.mean()
        bound = 2 * np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y)) if min(len(x), len(y)) > 1 else float('nan')
        ok = 'yes' if abs(diff) < bound else 'no'
        print(f'| {k:13} | {x.mean():.4f} ± {x.std():.4f} | {y.mean():.4f} ± {y.std():.4f} | {diff:+8.4f} | {bound:7.4f} | {ok:12} |')


if __name__ == '__main__':
    sys.exit(main())
