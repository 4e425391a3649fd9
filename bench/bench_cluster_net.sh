#!/usr/bin/env bash
# Two ranks over a rate-limited network, on one machine: a private network namespace whose loopback
# is shaped with a tbf qdisc (1 Gbit/s, 10 Gbit/s, ...), the one-process step as the baseline, and
# `mpirun -np 2` with the TCP transport only (no shared memory), so that every byte the ranks exchange
# crosses the shaped loopback. Prints per rate and mode: step time, ratio to one process, MB sent and
# received per rank per step (as bench_dist_step counts them at the MPI calls), the bytes the qdisc
# carried; with --epoch, a whole training epoch (steps, evaluation, checkpoint) the same way.
#
# Usage: bash bench/bench_cluster_net.sh [BUILD_DIR] [--rates "1gbit 10gbit"] [--steps N]
#            [--batch-size B] [--modes "plain sharded"] [--epoch] [--epoch-scale S]
#   BUILD_DIR     where bench_dist_step and mtfn are (default: build)
#   --rates       tc rates for the loopback's tbf qdisc (default "1gbit 10gbit")
#   --steps       timed steps per run after one warm-up step (default 3)
#   --modes       bench_dist_step --mode / mtfn train --dist-mode values for the 2-rank runs
#   --epoch       also time one training epoch: 1 process, then 2 ranks per rate and mode
#   --epoch-scale --synth-scale of the epoch's synthetic CH-SIMS file (default 0.15: 205 training rows)
#
# Needs root (ip netns, tc). Where it is not root or `ip netns add` is refused, it says so and exits 0.
# Only loopback addresses, in a namespace this script makes (mtfn-bench-PID) and always deletes, with
# any process still in it, on exit, error or Ctrl-C.
#
# Caveats (see docs/distributed.md, "Measured: two ranks over a shaped network"): the loopback has ONE qdisc, which both directions and both
# ranks share: "1gbit" here is 1 Gbit/s in total, i.e. 0.5 Gbit/s per direction while both ranks send
# at once (a real full-duplex 1 GbE link gives each node 1 Gbit/s each way). Loopback TCP also costs
# CPU, and two ranks share this machine's cores with each other (and with the one-process baseline's
# two threads): no speed-up is possible here, the ratio measures the cost of the network.
set -euo pipefail
shopt -s inherit_errexit

build=build
rates="1gbit 10gbit"
steps=3
batch=64
modes="plain sharded"
epoch=0
epoch_scale=0.15
usage() { sed -n '9,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rates) rates=${2:?--rates needs a value}; shift 2 ;;
    --steps) steps=${2:?--steps needs a value}; shift 2 ;;
    --batch-size) batch=${2:?--batch-size needs a value}; shift 2 ;;
    --modes) modes=${2:?--modes needs a value}; shift 2 ;;
    --epoch) epoch=1; shift ;;
    --epoch-scale) epoch_scale=${2:?--epoch-scale needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "bench_cluster_net: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
[[ $steps =~ ^[0-9]+$ && $steps -ge 1 ]] || { echo "bench_cluster_net: --steps must be a positive integer" >&2; exit 2; }
for r in $rates; do
  [[ ${r,,} =~ ^[0-9]+(\.[0-9]+)?[kmgt]?bit$ ]] || { echo "bench_cluster_net: rate '$r': a number and kbit, mbit or gbit (1gbit)" >&2; exit 2; }
done

bench=$(cd "$build" 2>/dev/null && pwd)/bench_dist_step || true
mtfn=$(cd "$build" 2>/dev/null && pwd)/mtfn || true
[[ -x $bench ]] || { echo "bench_cluster_net: no $build/bench_dist_step (cmake --build $build --target bench_dist_step mtfn)" >&2; exit 1; }
if [[ $epoch == 1 && ! -x $mtfn ]]; then echo "bench_cluster_net: --epoch needs $build/mtfn" >&2; exit 1; fi

skip() { echo "bench_cluster_net: skipped: $*"; exit 0; }
[[ $(id -u) == 0 ]] || skip "needs root (ip netns add, tc qdisc); run it with sudo or as root"
for tool in ip tc mpirun timeout; do command -v "$tool" >/dev/null || skip "no '$tool' on this machine"; done
py=$(command -v /usr/bin/python3 || command -v python3 || true)

ns=mtfn-bench-$$
tmp=$(mktemp -d /tmp/mtfn-bench-net.XXXXXX)
ns_made=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -z ${child:-} ]] || kill -TERM "$child" 2>/dev/null || true
  if [[ $ns_made == 1 ]]; then
    # Whatever this script started in the namespace and is still running (a run cut short by Ctrl-C):
    # only the processes inside our own namespace, by id.
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [[ -n $pids ]]; then
      kill -TERM $pids 2>/dev/null || true; sleep 1
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || echo "bench_cluster_net: could not delete namespace $ns (ip netns del $ns)" >&2
    if ip netns list 2>/dev/null | grep -qw "$ns"; then echo "bench_cluster_net: namespace $ns is still there" >&2; rc=1; fi
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench_cluster_net: interrupted" >&2; exit 130' INT
trap 'echo "bench_cluster_net: terminated" >&2; exit 143' TERM

if ! ip netns add "$ns" 2>"$tmp/netns.err"; then
  skip "'ip netns add' is not permitted here ($(tr '\n' ' ' <"$tmp/netns.err"))"
fi
ns_made=1
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up

# tbf burst: 2 ms at the rate, at least 128 KB (the loopback's MTU is 64 KB and its GSO packets are as
# large: a bucket smaller than one packet would never let it through) and at most 4 MB.
# latency 100 ms: how long a packet may wait in the queue before tbf drops it (queue = 100 ms of rate).
rate_bits() {
  local v=${1,,} n u
  n=${v%%[a-z]*}; u=${v#"$n"}
  case "$u" in
    bit|"") echo "$n" ;; kbit) echo "$n * 1000" | bc ;; mbit) echo "$n * 1000000" | bc ;;
    gbit) echo "$n * 1000000000" | bc ;; tbit) echo "$n * 1000000000000" | bc ;;
    *) echo "bench_cluster_net: rate '$1': use kbit, mbit or gbit" >&2; return 1 ;;
  esac
}
burst_bytes() {
  local b
  b=$(echo "r = $(rate_bits "$1") / 8 * 0.002; scale=0; r / 1" | bc)
  ((b < 131072)) && b=131072
  ((b > 4194304)) && b=4194304
  echo "$b"
}
qdisc_sent() { in_ns tc -s qdisc show dev lo | awk '/Sent/ {print $2; exit}'; }
qdisc_line() { in_ns tc -s qdisc show dev lo | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }

# A TCP stream over the namespace's loopback: what one flow actually gets (the tbf limit, or the CPU).
cat >"$tmp/probe.py" <<'EOF'
import socket, sys, threading, time
n = int(sys.argv[1]) << 20
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def sink():
    c, _ = srv.accept()
    while c.recv(1 << 20):
        pass
    c.close()
t = threading.Thread(target=sink); t.start()
s = socket.create_connection(srv.getsockname()); buf = b"\0" * (1 << 20)
t0 = time.monotonic()
for _ in range(n >> 20):
    s.sendall(buf)
s.close(); t.join()
dt = time.monotonic() - t0
print(f"{n * 8 / dt / 1e9:.2f} Gbit/s ({n >> 20} MB in {dt:.2f} s)")
EOF
probe() { if [[ -n $py ]]; then timeout 60 ip netns exec "$ns" "$py" "$tmp/probe.py" "$1" || echo "probe failed"; else echo "n/a (no python3)"; fi; }

# key=value fields of a bench_dist: line; n/a where the binary does not print them.
field() { local v; v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1); echo "${v:-n/a}"; }
ratio() { if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; else echo "scale=4; $1 / $2" | bc | awk '{printf "%.2f", $1}'; fi; }
mb() { echo "scale=1; $1 / 1000000" | bc | awk '{printf "%.1f", $1}'; }

mpi=(mpirun --allow-run-as-root --oversubscribe -np 2
     --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
# pml ob1: this Open MPI also has UCX, whose pml would bypass the btl list and use shared memory.
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
step_timeout=$((300 + (steps + 1) * 180))

# Runs a command in the namespace under a time limit, in the background, and waits for it: `wait` is
# interrupted by Ctrl-C or a TERM at once (the trap then ends the run), where a foreground child
# would make the shell wait for its end first.
child=
run_ns() {  # limit, log, then the command
  local limit=$1 log=$2 rc=0; shift 2
  timeout -k 10 "$limit" ip netns exec "$ns" "$@" >"$log" 2>&1 &
  child=$!
  wait "$child" || rc=$?
  child=
  return "$rc"
}
failed() {  # what, log
  echo "bench_cluster_net: $1; its output:" >&2
  tail -n 20 "$2" >&2
  exit 1
}
line=
run_step() {  # label, log, then the command; sets line to its bench_dist: line
  local label=$1 log=$2; shift 2
  echo "  $label: $*"
  run_ns "$step_timeout" "$log" "$@" || failed "'$label' failed or timed out after ${step_timeout}s" "$log"
  line=$(grep '^bench_dist:' "$log" | tail -n 1) || failed "'$label' printed no 'bench_dist:' line" "$log"
  echo "  -> $line"
}

echo "bench_cluster_net: namespace $ns, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), batch $batch, $steps steps + 1 warm-up"
echo "  unshaped loopback, one TCP stream: $(probe 256)"

# The one-process baseline (no network: the qdisc does not matter) runs before and after the 2-rank
# runs; the ratios use the faster of the two (this machine is shared: its speed drifts).
min() { if [[ $1 == n/a ]]; then echo "$2"; elif [[ $2 == n/a ]]; then echo "$1"; else awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? a : b }'; fi; }
run_step "1 process (before)" "$tmp/one-before.log" "$bench" --batch-size "$batch" --steps "$steps" --threads 2
base_before=$(field "$line" step_s)

rows=()
for rate in $rates; do
  burst=$(burst_bytes "$rate")
  in_ns tc qdisc replace dev lo root tbf rate "$rate" burst "$burst" latency 100ms
  echo "rate $rate (tbf burst $burst B, latency 100 ms): one TCP stream $(probe 128)"
  for mode in $modes; do
    before=$(qdisc_sent)
    run_step "2 ranks, $mode" "$tmp/$rate-$mode.log" "${mpi[@]}" "$bench" --batch-size "$batch" --steps "$steps" --threads 1 --mode "$mode"
    after=$(qdisc_sent)
    echo "  qdisc: $(qdisc_line)"
    ran=$(field "$line" mode)
    s=$(field "$line" step_s)
    sent=$(field "$line" sent_mb)
    # Did the ranks' traffic go through the shaped loopback? At least what they say they sent.
    if [[ $sent != n/a ]]; then
      expect=$(echo "2 * $sent * $((steps + 1)) * 1000000 * 0.9 / 1" | bc)
    else
      expect=1000000
    fi
    if ((after - before < expect)); then
      echo "  WARNING: only $((after - before)) bytes went through the tbf qdisc (expected >= $expect): the ranks' traffic bypassed it" >&2
    fi
    rows+=("$rate|$mode|$ran|$s|$sent|$(field "$line" recv_mb)|$(mb $((after - before)))")
  done
done
run_step "1 process (after)" "$tmp/one-after.log" "$bench" --batch-size "$batch" --steps "$steps" --threads 2
base_after=$(field "$line" step_s)
base_s=$(min "$base_before" "$base_after")

echo
echo "bench_cluster_net: step time, batch $batch, 2 ranks (1 thread each) against 1 process (2 threads):" \
  "$base_s s (before $base_before s, after $base_after s)"
printf '%-8s %-8s %-8s %9s %8s %9s %9s %12s\n' rate mode ran step_s ratio sent_mb recv_mb qdisc_mb
for r in "${rows[@]}"; do
  IFS='|' read -r a b c d f g h <<<"$r"
  printf '%-8s %-8s %-8s %9s %8s %9s %9s %12s\n' "$a" "$b" "$c" "$d" "$(ratio "$d" "$base_s")x" "$f" "$g" "$h"
done
echo "  ran: the mode the binary reports (n/a: a build without --mode, which ran plain)."
echo "  sent_mb/recv_mb: per rank per step, counted at the MPI calls (n/a: a build that does not count them)."
echo "  qdisc_mb: all bytes through the tbf during the run, both ranks, $((steps + 1)) steps and the start-up broadcast of the model."

if [[ $epoch == 1 ]]; then
  help=$("$mtfn" train --help 2>&1 || true)
  dist_flag=0
  grep -q -- '--dist-mode' <<<"$help" && dist_flag=1
  epoch_s() {  # the first epoch's "seconds" in DIR/epochs.jsonl
    local f=$1/epochs.jsonl v
    v=$(sed -n 's/.*"seconds"[[:space:]]*:[[:space:]]*\([0-9.eE+-]*\).*/\1/p' "$f" 2>/dev/null | head -n 1)
    if [[ -n $v ]]; then printf '%.2f\n' "$v"; else echo n/a; fi
  }
  esec=
  run_epoch() {  # label, out dir, then the command; sets esec to the epoch's seconds
    local label=$1 out=$2; shift 2
    echo "  epoch, $label: $*"
    run_ns 3600 "$out.log" "$@" || failed "epoch '$label' failed or timed out" "$out.log"
    esec=$(epoch_s "$out")
  }
  targs=(train --synth-scale "$epoch_scale" --max-epochs 1 --seeds 1111 --no-progress)
  echo
  echo "bench_cluster_net: one training epoch, synthetic CH-SIMS at --synth-scale $epoch_scale"
  in_ns tc qdisc del dev lo root 2>/dev/null || true
  run_epoch "1 process (before)" "$tmp/epoch-one-a" "$mtfn" "${targs[@]}" --out "$tmp/epoch-one-a"
  e1a=$esec
  erows=()
  for rate in $rates; do
    in_ns tc qdisc replace dev lo root tbf rate "$rate" burst "$(burst_bytes "$rate")" latency 100ms
    for mode in $modes; do
      extra=()
      [[ $dist_flag == 1 ]] && extra=(--dist-mode "$mode")
      out=$tmp/epoch-$rate-$mode
      before=$(qdisc_sent)
      run_epoch "2 ranks, $rate, $mode" "$out" "${mpi[@]}" "$mtfn" "${targs[@]}" "${extra[@]}" --out "$out"
      e2=$esec
      after=$(qdisc_sent)
      erows+=("$rate|$mode|$e2|$(mb $((after - before)))")
    done
  done
  in_ns tc qdisc del dev lo root 2>/dev/null || true
  run_epoch "1 process (after)" "$tmp/epoch-one-b" "$mtfn" "${targs[@]}" --out "$tmp/epoch-one-b"
  e1b=$esec
  e1=$(min "$e1a" "$e1b")
  echo "  one process: $e1 s (before $e1a s, after $e1b s)"
  [[ $dist_flag == 1 ]] || echo "  (mtfn train has no --dist-mode in this build: every 2-rank epoch ran plain data parallel)"
  printf '%-8s %-8s %10s %10s %8s %12s\n' rate mode one_s two_s ratio qdisc_mb
  for r in "${erows[@]}"; do
    IFS='|' read -r a b c e <<<"$r"
    printf '%-8s %-8s %10s %10s %8s %12s\n' "$a" "$b" "$e1" "$c" "$(ratio "$c" "$e1")x" "$e"
  done
  echo "  one_s/two_s: the epoch's \"seconds\" in epochs.jsonl (steps, evaluation, checkpoint); qdisc_mb: the whole 2-rank run."
fi
