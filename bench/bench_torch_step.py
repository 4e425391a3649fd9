#!/usr/bin/python3
"""PyTorch side of `mtfn bench`: times training steps (forward + loss, backward, Adam step) of the
full CH-SIMS-config MTFN (tools/torch_mtfn.py, MMSA's sizes, float32, dropout as configured,
train mode) on synthetic inputs, and prints the medians in the same form as `mtfn bench`.
It is not a correctness test (tools/make_mtfn_reference.py is).

  /usr/bin/python3 bench/bench_torch_step.py --threads 2 --steps 5
Last line: torch: step_s=... forward_s=... backward_s=... optimizer_s=... peak_rss_mb=... blas=...
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from torch_mtfn import MTFN, make_config, mtfn_loss, mtfn_optimizer, zero_dropout  # noqa: E402


def loaded_blas():
    """Names of the BLAS-like shared libraries mapped into this process (from /proc/self/maps)."""
    libs = set()
    with open('/proc/self/maps') as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ''
            base = os.path.basename(path)
            if any(key in base for key in ('blas', 'mkl', 'blis', 'lapack', 'dnnl', 'gomp', 'omp')):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def peak_rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--steps', type=int, default=5, help='timed steps (after --warmup untimed ones)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--seq', type=int, default=39)
    p.add_argument('--seed', type=int, default=1111)
    p.add_argument('--no-dropout', action='store_true',
                   help='every dropout p = 0 (PyTorch draws 64 x 2.18M Bernoulli numbers per step for the '
                        'fusion dropout, which costs it ~1.9 s of a ~5 s step on 2 threads)')
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = make_config()                       # MMSA's sims sizes and dropouts, regression
    if args.no_dropout:
        cfg = zero_dropout(cfg)
    dt, da, dv = cfg['feature_dims']
    B = args.batch_size
    model = MTFN(cfg)                         # float32
    model.train()
    opt = mtfn_optimizer(model, cfg)
    text = torch.randn(B, args.seq, dt)
    audio = torch.randn(B, da)
    vision = torch.randn(B, dv)
    labels = {m: torch.rand(B) * 2 - 1 for m in 'MTAV'}
    n_params = sum(p.numel() for p in model.parameters())

    times = []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        out = model(text, audio, vision)
        loss, _ = mtfn_loss(out, labels, cfg)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        del out
        if step >= args.warmup:
            times.append((t3 - t0, t1 - t0, t2 - t1, t3 - t2))
        print(f'step {step + 1}{" (warmup)" if step < args.warmup else ""}: {t3 - t0:.3f} s '
              f'(forward {t1 - t0:.3f}, backward {t2 - t1:.3f}, optimizer {t3 - t2:.3f}), '
              f'loss {loss.item():.4f}', flush=True)

    med = [statistics.median(col) for col in zip(*times)]
    libs = loaded_blas()
    blas_libs = [lib for lib in libs if 'blas' in os.path.basename(lib) or 'mkl' in os.path.basename(lib)
                 or 'blis' in os.path.basename(lib)]
    blas = ','.join(os.path.basename(lib) for lib in blas_libs) or 'none-mapped'
    config_info = torch.__config__.show()
    blas_info = [line.strip() for line in config_info.replace(',', '\n').splitlines()
                 if 'BLAS_INFO' in line or 'LAPACK_INFO' in line or 'USE_MKLDNN' in line]
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, batch {B}, seq {args.seq}, '
          f'parameters {n_params}, timed steps {len(times)}, dropout {"off" if args.no_dropout else "as configured"}')
    print('libraries mapped (BLAS/OpenMP):')
    for lib in libs:
        print(f'  {lib}')
    print('torch build: ' + ', '.join(blas_info))
    fastest = min(times)
    print(f'fastest step: {fastest[0]:.3f} s (forward {fastest[1]:.3f}, backward {fastest[2]:.3f}, '
          f'optimizer {fastest[3]:.3f}); load average {os.getloadavg()[0]:.2f} (other work skews the medians)')
    print(f'torch: step_s={med[0]:.3f} forward_s={med[1]:.3f} backward_s={med[2]:.3f} '
          f'optimizer_s={med[3]:.3f} peak_rss_mb={peak_rss_mb():.0f} blas={blas}')


if __name__ == '__main__':
    main()
