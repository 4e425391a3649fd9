#!/usr/bin/env python3
"""Step time of MTFN training on N nodes: plain data parallel (old) against the sharded fusion head (new).

Usage:
    /usr/bin/python3 bench/step_time_model.py [--json FILE] [--t1 0.61] [--fixed-plain S] ...
    /usr/bin/python3 bench/step_time_model.py --help        (every parameter and its default)

Prints Markdown: bytes per rank per step against N, then step time and speed-up over one node for
N = 2, 4, 8, 16, 32, 64 at 1, 10, 25 and 100 Gb/s, old and new design side by side.
Every input is a flag; --json FILE sets the same names (with _ for -, e.g. {"t1": 0.58,
"plain_payload_mb": 564.0}); flags given on the command line win over the file.

The model (one process per node, global batch B split over the N nodes, one link of W bit/s per node,
full duplex, no other traffic):

  T_old(N) = (T1 - F_old) / N + F_old + max(0, C_old(N) - h (T1 - F_old) / N)
  T_new(N) = (T1 - F_new) / N + F_new + (1 - o) C_new(N)
  speed-up = T1 / T(N)

- T1: one-process step on one node (forward, backward, optimizer) at batch B. Default 0.61 s, the
  figure measured for batch 64 (bench_dist_step, 2 threads, a quiet machine).
- Compute divides by N, except a fixed part F that every node does in full whatever N:
  F_old: Adam over all 141 M parameters (plain data parallel keeps a full replica on every node;
  default 0.12 s, the ~20 % of the step bench_dist_step's optimizer_s takes here);
  F_new: Adam over the ~1.5 M non-fusion parameters plus whatever the sharded head repeats on every
  rank for the whole batch. Measure it: from a 2-rank run whose ranks have their own cores,
  per-rank compute c2 = F + (T1 - F) / 2, so F = 2 c2 - T1 (bench_dist_step's compute_s).
  Past N = B a node has no rows left: the model does not know that (it warns).
- C(N): communication per step = bytes sent per rank / (W * efficiency) + latency. Ring algorithms:
  all-reduce of G bytes sends 2 G (N - 1) / N per rank in 2 (N - 1) messages per bucket;
  all-gather / reduce-scatter of a whole of M bytes send M (N - 1) / N in N - 1 messages.
  alpha (default 50 us) is charged per message; one message per ring step is on the critical path.
- Old design: one all-reduce of the whole gradient (564 MB, in k = 23 buckets). Its overlap: it can
  hide behind a fraction h of the per-rank compute (the backward pass after the fusion gradient is
  ready: subnetworks, LSTM); default h = 0.15 (about 30 % of the backward pass, itself about half
  of the step).
- New design: per step, gather of the activations (B x 544 floats), reduce-scatter of the fusion
  partials (B x 64), all-gather of their gradients (B x 64), reduce-scatter of the activation
  gradients (B x 544), and a ring all-reduce of the ~6 MB of non-fusion gradients. Not overlapped
  with compute (o = 0) unless --sharded-overlap says otherwise. The sizes are parameters: plug in
  what bench_dist_step measures (sent_mb at 2 ranks); the model prints its own figure at N = 2 to
  compare with.
- Not modelled: the network taking CPU from compute (true on one machine with loopback TCP: see
  docs/distributed.md), stragglers, congestion of a shared switch, evaluation and checkpoints.
"""
import argparse
import json
import sys

NODES = [2, 4, 8, 16, 32, 64]
GBITS = [1, 10, 25, 100]


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--json", help="JSON file with any of the parameters below (names with _)")
    p.add_argument("--t1", type=float, default=0.61, help="one-process step on one node, s")
    p.add_argument("--batch", type=int, default=64, help="global batch B")
    p.add_argument("--fixed-plain", type=float, default=0.12,
                   help="old design: compute every node does in full (Adam over 141 M parameters; "
                        "bench_dist_step measures it at ~20 %% of the one-process step), s")
    p.add_argument("--fixed-sharded", type=float, default=0.005,
                   help="new design: compute every node does in full (Adam over the 1.5 M non-fusion "
                        "parameters, ~1 ms; full-batch work the sharded head repeats on each rank: an estimate), s")
    p.add_argument("--c2-plain", type=float,
                   help="measured per-rank compute at 2 ranks (own cores), old design: sets F_old = 2 c2 - T1")
    p.add_argument("--c2-sharded", type=float,
                   help="measured per-rank compute at 2 ranks (own cores), new design: sets F_new = 2 c2 - T1")
    p.add_argument("--plain-payload-mb", type=float, default=564.0,
                   help="old design: gradient all-reduced per step, MB (10^6 B)")
    p.add_argument("--plain-buckets", type=int, default=23, help="old design: all-reduce buckets per step")
    p.add_argument("--plain-overlap", type=float, default=0.15,
                   help="old design: fraction h of per-rank compute the all-reduce can hide behind")
    p.add_argument("--act-floats", type=int, default=544, help="new design: activations per row (32 + 256 + 256)")
    p.add_argument("--out-floats", type=int, default=64, help="new design: fusion outputs per row")
    p.add_argument("--nonfusion-mb", type=float, default=6.0, help="new design: non-fusion gradient all-reduced, MB")
    p.add_argument("--nonfusion-buckets", type=int, default=1, help="new design: buckets of that all-reduce")
    p.add_argument("--sharded-overlap", type=float, default=0.0,
                   help="new design: fraction o of its communication hidden behind compute")
    p.add_argument("--alpha-us", type=float, default=50.0, help="latency per message (ring step), us")
    p.add_argument("--efficiency", type=float, default=1.0, help="fraction of the line rate a ring achieves")
    p.add_argument("--gbits", default=",".join(map(str, GBITS)), help="link bandwidths, Gb/s")
    p.add_argument("--nodes", default=",".join(map(str, NODES)), help="node counts")
    a = p.parse_args(argv)
    if a.json:
        with open(a.json) as f:
            conf = json.load(f)
        given = {s.split("=")[0].lstrip("-").replace("-", "_") for s in argv if s.startswith("--")}
        for k, v in conf.items():
            if not hasattr(a, k) or k == "json":
                sys.exit(f"step_time_model: unknown key {k!r} in {a.json}")
            if k not in given:
                setattr(a, k, v)
    if a.c2_plain is not None:
        a.fixed_plain = max(0.0, 2 * a.c2_plain - a.t1)
    if a.c2_sharded is not None:
        a.fixed_sharded = max(0.0, 2 * a.c2_sharded - a.t1)
    a.gbits = [float(x) for x in str(a.gbits).split(",")]
    a.nodes = [int(x) for x in str(a.nodes).split(",")]
    return a


def ring_allreduce(n, nbytes, buckets):
    """(bytes sent per rank, messages on the critical path)."""
    return 2 * nbytes * (n - 1) / n, 2 * (n - 1) * buckets


def ring_gather(n, nbytes):
    """All-gather or reduce-scatter of a whole of nbytes."""
    return nbytes * (n - 1) / n, n - 1


def plain_bytes(a, n):
    return ring_allreduce(n, a.plain_payload_mb * 1e6, a.plain_buckets)


def sharded_bytes(a, n):
    act, out = a.batch * a.act_floats * 4, a.batch * a.out_floats * 4
    parts = [ring_gather(n, act), ring_gather(n, out), ring_gather(n, out), ring_gather(n, act),
             ring_allreduce(n, a.nonfusion_mb * 1e6, a.nonfusion_buckets)]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def comm_s(a, n, gbit, bytes_msgs):
    nbytes, msgs = bytes_msgs
    return nbytes / (gbit * 1e9 / 8 * a.efficiency) + msgs * a.alpha_us * 1e-6


def step_plain(a, n, gbit):
    per_rank = (a.t1 - a.fixed_plain) / n
    c = comm_s(a, n, gbit, plain_bytes(a, n))
    return per_rank + a.fixed_plain + max(0.0, c - a.plain_overlap * per_rank), c


def step_sharded(a, n, gbit):
    c = comm_s(a, n, gbit, sharded_bytes(a, n))
    return (a.t1 - a.fixed_sharded) / n + a.fixed_sharded + (1 - a.sharded_overlap) * c, c


def main(argv):
    a = parse(argv)
    for name in ("fixed_plain", "fixed_sharded"):
        if not 0 <= getattr(a, name) <= a.t1:
            sys.exit(f"step_time_model: --{name.replace('_', '-')} must be within [0, t1]")
    print(f"Inputs: T1 = {a.t1:g} s at batch {a.batch}; fixed compute F_old = {a.fixed_plain:g} s, "
          f"F_new = {a.fixed_sharded:g} s; old: {a.plain_payload_mb:g} MB all-reduced in {a.plain_buckets} "
          f"buckets, overlap h = {a.plain_overlap:g}; new: activations {a.act_floats} and outputs "
          f"{a.out_floats} floats per row, {a.nonfusion_mb:g} MB non-fusion all-reduce, overlap o = "
          f"{a.sharded_overlap:g}; alpha = {a.alpha_us:g} us per message, efficiency {a.efficiency:g}.")
    print()
    print("Bytes sent per rank per step (received: the same), MB:")
    print()
    print("| N | old (plain) | new (sharded) |")
    print("|---|---|---|")
    for n in a.nodes:
        print(f"| {n} | {plain_bytes(a, n)[0] / 1e6:.1f} | {sharded_bytes(a, n)[0] / 1e6:.2f} |")
    print()
    print("Step time and speed-up over one node (T1 = %g s), old (plain data parallel) | new (sharded "
          "fusion head):" % a.t1)
    print()
    head = "| N | compute/rank old, new |" + "".join(f" {g:g} Gb/s old | {g:g} Gb/s new |" for g in a.gbits)
    print(head)
    print("|---|---|" + "---|---|" * len(a.gbits))
    for n in a.nodes:
        comp_old = (a.t1 - a.fixed_plain) / n + a.fixed_plain
        comp_new = (a.t1 - a.fixed_sharded) / n + a.fixed_sharded
        row = f"| {n} | {comp_old:.3f}, {comp_new:.3f} s |"
        for g in a.gbits:
            to, _ = step_plain(a, n, g)
            tn, _ = step_sharded(a, n, g)
            row += f" {to:.3f} s, {a.t1 / to:.2f}x | {tn:.3f} s, {a.t1 / tn:.2f}x |"
        print(row)
    if max(a.nodes) > a.batch:
        print(f"\nWarning: N > batch {a.batch}: some nodes would have no rows; the model still divides by N.")
    if 4 in a.nodes and 10.0 in a.gbits:
        t4, _ = step_sharded(a, 4, 10.0)
        s4 = a.t1 / t4
        # F_new at which the speed-up at 4 nodes on 10 Gb/s is exactly 3.5x: T = (T1 - F) / 4 + F + c.
        c4 = (1 - a.sharded_overlap) * comm_s(a, 4, 10.0, sharded_bytes(a, 4))
        f_max = (a.t1 / 3.5 - c4 - a.t1 / 4) / (1 - 1 / 4)
        print(f"\nTarget (issue 12): new design >= 3.5x at 4 nodes on 10 Gb/s: {s4:.2f}x, "
              f"{'met' if s4 >= 3.5 else 'not met'}; it holds while F_new <= {f_max * 1000:.1f} ms "
              f"({f_max / a.t1 * 100:.1f} % of T1).")
    b2 = sharded_bytes(a, 2)[0] / 1e6
    print(f"Model's bytes per rank per step at N = 2: old {plain_bytes(a, 2)[0] / 1e6:.1f} MB, new {b2:.2f} MB "
          f"(target <= 8 MB: {'met' if b2 <= 8 else 'not met'}); compare with bench_dist_step's sent_mb.")


if __name__ == "__main__":
    main(sys.argv[1:])
