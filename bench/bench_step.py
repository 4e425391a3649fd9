#!/usr/bin/python3
"""One MTFN training step (CH-SIMS sizes, batch 64, forward + loss, backward, Adam) in PyTorch and in
ours, side by side in the same run, at each thread count asked for; prints the ratios. Also runs
bench_rates (the fusion head's GEMM rate against OpenBLAS's own sgemm, Adam against a copy).

  /usr/bin/python3 bench/bench_step.py --mtfn build/mtfn --rates build/bench/bench_rates --threads 2,1

The machine is shared: the runs alternate (ours, PyTorch, ours, ... --rounds times) so that both see
the same load; the ratio is of the medians over runs of each run's median step (fastest_ratio: of
the fastest single steps). Debian's torch calls libblas.so.3, which is the slow reference BLAS
unless the alternatives point it at OpenBLAS: the script says which library torch loaded. OpenBLAS
0.3.21 does not know this machine's CPU model and would use its generic SSE3 kernels; `mtfn` picks
the AVX-512 ones itself (OPENBLAS_CORETYPE), and this script gives PyTorch the same setting
(--torch-coretype to change it) so that both run the same GEMM kernels.
Last lines: `step: threads=N ours_s=... torch_s=... ratio=... fastest_ratio=... ours_peak_mb=... torch_peak_mb=... mem_ratio=...`.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def fields(line):
    return {k: v for k, v in re.findall(r'(\w+)=(\S+)', line)}


def last_line(out, prefix):
    lines = [l for l in out.splitlines() if l.startswith(prefix)]
    if not lines:
        raise SystemExit(f'bench_step: no line starting with {prefix!r} in:\n{out}')
    return fields(lines[-1])


def ours_run(out):
    f = {k: float(v) for k, v in last_line(out, 'bench: step_s=').items()}
    f['fastest'] = float(re.search(r'bench: fastest step ([0-9.]+) s', out).group(1))
    return f


def torch_run(out):
    f = {k: float(v) for k, v in last_line(out, 'torch: step_s=').items() if k != 'blas'}
    f['fastest'] = float(re.search(r'fastest step: ([0-9.]+) s', out).group(1))
    return f


def run(cmd, env):
    print('$ ' + ' '.join(cmd), flush=True)
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise SystemExit(f'bench_step: {cmd[0]} failed ({p.returncode}):\n{p.stdout}')
    return p.stdout


def blas_of_torch(env):
    """The BLAS library torch's process maps, as a path, and whether it is OpenBLAS."""
    code = ('import torch, os\n'
            'torch.ones(8, 8) @ torch.ones(8, 8)\n'
            'libs = sorted({os.path.realpath(l.split()[-1]) for l in open("/proc/self/maps") '
            'if len(l.split()) >= 6 and "blas" in os.path.basename(l.split()[-1])})\n'
            'print("\\n".join(libs))\n')
    out = subprocess.run(['/usr/bin/python3', '-c', code], env=env, stdout=subprocess.PIPE, text=True).stdout
    libs = [l for l in out.splitlines() if l.strip()]
    return libs, any('openblas' in l for l in libs)


def cpu_coretype():
    flags = ''
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('flags'):
                flags = line
                break
    if ' avx512f' in flags and ' avx512bw' in flags:
        return 'SkylakeX'
    if ' avx2' in flags and ' fma' in flags:
        return 'Haswell'
    return ''


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--mtfn', default=os.path.join(HERE, '..', 'build', 'mtfn'))
    p.add_argument('--rates', default=os.path.join(HERE, '..', 'build', 'bench', 'bench_rates'),
                   help='bench_rates binary ("" to skip)')
    p.add_argument('--threads', default='2,1', help='comma-separated thread counts')
    p.add_argument('--steps', type=int, default=5, help='timed steps per run (ours and PyTorch)')
    p.add_argument('--torch-steps', type=int, default=0, help='timed PyTorch steps (default --steps)')
    p.add_argument('--rounds', type=int, default=1,
                   help='PyTorch runs per thread count, each between two of ours (medians over runs)')
    p.add_argument('--torch-coretype', default=None,
                   help='OPENBLAS_CORETYPE for PyTorch (default: the one mtfn picks for this CPU; "" for none)')
    args = p.parse_args()

    env = dict(os.environ)
    coretype = cpu_coretype() if args.torch_coretype is None else args.torch_coretype
    blas_env = dict(env)
    if coretype:
        blas_env['OPENBLAS_CORETYPE'] = coretype
    else:
        blas_env.pop('OPENBLAS_CORETYPE', None)
    libs, is_openblas = blas_of_torch(blas_env)
    print('torch maps: ' + (', '.join(libs) or 'no BLAS library'))
    if is_openblas:
        print(f'torch uses OpenBLAS (OPENBLAS_CORETYPE={coretype or "unset"}, the same kernels as ours)')
    else:
        print('WARNING: torch does not use OpenBLAS here (libblas.so.3 is the reference BLAS?): its GEMMs are '
              'much slower than they could be; point the libblas.so.3 alternative at OpenBLAS for a fair comparison')

    results = []
    for threads in [int(t) for t in args.threads.split(',')]:
        ours_cmd = [args.mtfn, 'bench', '--steps', str(args.steps), '--threads', str(threads)]
        torch_cmd = ['/usr/bin/python3', os.path.join(HERE, 'bench_torch_step.py'), '--threads', str(threads),
                     '--steps', str(args.torch_steps or args.steps)]
        ours_runs, torch_runs = [], []
        for rnd in range(args.rounds):  # ours, PyTorch, ours, PyTorch, ..., ours
            ours_runs.append(ours_run(run(ours_cmd, env)))
            torch_runs.append(torch_run(run(torch_cmd, blas_env)))
        ours_runs.append(ours_run(run(ours_cmd, env)))
        r = dict(threads=threads, ours_s=statistics.median(o['step_s'] for o in ours_runs),
                 torch_s=statistics.median(t['step_s'] for t in torch_runs),
                 ours_fastest=min(o['fastest'] for o in ours_runs), torch_fastest=min(t['fastest'] for t in torch_runs),
                 ours_mb=max(o['peak_rss_mb'] for o in ours_runs), torch_mb=max(t['peak_rss_mb'] for t in torch_runs))
        results.append(r)
        for name, runs in (('ours', ours_runs), ('torch', torch_runs)):
            for o in runs:
                print(f'  {threads} threads {name:5s}: median step {o["step_s"]:.3f} s (forward {o["forward_s"]:.3f}, '
                      f'backward {o["backward_s"]:.3f}, optimizer {o["optimizer_s"]:.3f}), fastest {o["fastest"]:.3f} s, '
                      f'peak {o["peak_rss_mb"]:.0f} MB')

    if args.rates:
        out = run([args.rates, '--threads', str(max(r['threads'] for r in results))], blas_env)
        print(out, end='')

    print(f'load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work skews times)')
    for r in results:
        print(f'step: threads={r["threads"]} ours_s={r["ours_s"]:.3f} torch_s={r["torch_s"]:.3f} '
              f'ratio={r["ours_s"] / r["torch_s"]:.3f} fastest_ratio={r["ours_fastest"] / r["torch_fastest"]:.3f} '
              f'ours_peak_mb={r["ours_mb"]:.0f} '
              f'torch_peak_mb={r["torch_mb"]:.0f} mem_ratio={r["ours_mb"] / r["torch_mb"]:.2f} '
              f'torch_blas={"openblas" if is_openblas else "other"}')


if __name__ == '__main__':
    main()
