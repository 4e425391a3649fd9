#!/usr/bin/python3
"""Trains MTFN on the same synthetic MMSA-layout file with our `mtfn train` and with PyTorch
(tools/torch_train_mtfn.py, MMSA's procedure) for the same seeds, and prints each side's test
metrics per seed and their mean and standard deviation over seeds, so the two can be compared
(the figures in docs/mtfn.md come from this). Not a CI test: it needs torch and takes minutes.

  /usr/bin/python3 tools/compare_torch_training.py [--config c.json] [--seeds 1111,...] [--max-epochs N]
      [--scale 0.1] [--threads 2] [--mtfn build/mtfn] [--work /tmp/mtfn-compare]

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
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)
    return time.time() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', help='JSON with MMSA key names (default: MMSA\'s sims config)')
    p.add_argument('--seeds', default='1111,1112,1113,1114,1115')
    p.add_argument('--max-epochs', type=int, default=0, help='0: until early stopping')
    p.add_argument('--scale', type=float, default=0.1, help='synthetic split sizes relative to CH-SIMS')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--mtfn', default=os.path.join(ROOT, 'build', 'mtfn'))
    p.add_argument('--work', default='/tmp/mtfn-compare')
    a = p.parse_args()

    os.makedirs(a.work, exist_ok=True)
    data = os.path.join(a.work, f'synth_{a.scale}.pkl')
    if not os.path.exists(data):
        run([a.mtfn, 'synth', '--out', data, '--scale', str(a.scale), '--seed', '1'], os.path.join(a.work, 'synth.log'))
    common = ['--seeds', a.seeds, '--max-epochs', str(a.max_epochs)] + (['--config', a.config] if a.config else [])
    ours_dir = os.path.join(a.work, 'ours')
    t_ours = run([a.mtfn, 'train', '--data', data, '--out', ours_dir, '--threads', str(a.threads), '--no-progress'] +
                 common, os.path.join(a.work, 'ours.log'))
    torch_json = os.path.join(a.work, 'torch.json')
    t_torch = run(['/usr/bin/python3', os.path.join(HERE, 'torch_train_mtfn.py'), '--data', data, '--threads',
                   str(a.threads), '--json-out', torch_json] + common, os.path.join(a.work, 'torch.log'))

    with open(os.path.join(ours_dir, 'results.json')) as f:
        ours = json.load(f)
    with open(torch_json) as f:
        torch_r = json.load(f)
    keys = ['Mult_acc_2', 'Mult_acc_3', 'Mult_acc_5', 'F1_score', 'MAE', 'Corr']
    if ours['mode'] == 'classification':
        keys = ['Acc_3', 'F1_score_3', 'Has0_acc_2', 'Non0_acc_2']
    print(f'data {data}; seeds {a.seeds}; max epochs {a.max_epochs or "early stop"}; config {a.config or "MMSA sims"}')
    print(f'wall time: ours {t_ours:.0f} s, PyTorch {t_torch:.0f} s ({a.threads} threads)')
    for name, r in (('ours', ours), ('torch', torch_r)):
        for s in r['seeds']:
            print(f'  {name:5} seed {s["seed"]}: best epoch {s["best_epoch"]:3d} of {len(s["epochs"]):3d}  ' +
                  '  '.join(f'{k} {s["test"][k]:.4f}' for k in keys))
    print(f'{"metric":12} {"ours mean ± std":>20} {"PyTorch mean ± std":>20} {"difference / pooled std":>24}')
    for k in keys:
        x = np.array([s['test'][k] for s in ours['seeds']], dtype=float)
        y = np.array([s['test'][k] for s in torch_r['seeds']], dtype=float)
        pooled = np.sqrt((x.var() + y.var()) / 2)
        z = (x.mean() - y.mean()) / pooled if pooled > 0 else float('nan')
        print(f'{k:12} {x.mean():10.4f} ± {x.std():.4f} {y.mean():10.4f} ± {y.std():.4f} {z:24.2f}')


if __name__ == '__main__':
    sys.exit(main())
