#!/usr/bin/python3
"""Compares two `mtfn train` runs seed by seed (their results.json): each test metric's mean and
standard deviation over the seeds, the difference of the means, and whether it exceeds seed noise,
|mean_a - mean_b| > 2 sqrt(s_a^2/n_a + s_b^2/n_b) with s the sample standard deviation (n - 1);
then the epochs each seed trained and the wall time of an epoch (training + validation, from
results.json's per-epoch `seconds`). Prints a Markdown table. Needs only the standard library.

  python3 tools/compare_results.py RUN_A RUN_B        # e.g. runs/mtfn_attn runs/mtfn (docs/attention-ablation.md)
"""
import json
import math
import statistics
import sys


def load(run):
    with open(f'{run}/results.json') as f:
        r = json.load(f)
    return r


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    a, b = load(argv[1]), load(argv[2])
    name_a, name_b = a['model'], b['model']
    seeds_a = [s['seed'] for s in a['seeds']]
    seeds_b = [s['seed'] for s in b['seeds']]
    print(f'{name_a} ({argv[1]}, seeds {seeds_a}) vs {name_b} ({argv[2]}, seeds {seeds_b}); '
          f'data {a["data"]} / {b["data"]}\n')
    print(f'| test metric | {name_a} mean ± sd | {name_b} mean ± sd | difference | 2 × s.e. | beyond seed noise? |')
    print('|---|---|---|---|---|---|')
    for metric in a['seeds'][0]['test']:
        xa = [s['test'][metric] for s in a['seeds']]
        xb = [s['test'][metric] for s in b['seeds']]
        ma, sa = mean_sd(xa)
        mb, sb = mean_sd(xb)
        noise = 2 * math.sqrt(sa * sa / len(xa) + sb * sb / len(xb))
        diff = ma - mb
        verdict = 'yes' if abs(diff) > noise else 'no'
        print(f'| {metric} | {ma:.4f} ± {sa:.4f} | {mb:.4f} ± {sb:.4f} | {diff:+.4f} | {noise:.4f} | {verdict} |')
    print()
    for r, run in ((a, argv[1]), (b, argv[2])):
        epochs = [len(s['epochs']) for s in r['seeds']]
        best = [s['best_epoch'] for s in r['seeds']]
        secs = [e['seconds'] for s in r['seeds'] for e in s['epochs']]
        print(f'{r["model"]}: epochs per seed {epochs} (best {best}); epoch wall time median '
              f'{statistics.median(secs):.2f} s, mean {statistics.mean(secs):.2f} s over {len(secs)} epochs')


if __name__ == '__main__':
    main(sys.argv)
