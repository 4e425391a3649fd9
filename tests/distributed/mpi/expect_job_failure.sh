#!/usr/bin/env bash
# Runs a command that must FAIL, promptly, with a given message: the check that a data-parallel
# job whose rank died or hung ends with an error instead of hanging.
# Usage: expect_job_failure.sh MAX_SECONDS REGEX COMMAND...
set -uo pipefail
max=$1 regex=$2
shift 2
start=$(date +%s%N)
out=$(timeout --kill-after=5 $((max + 30)) "$@" 2>&1)
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "$out" | tail -n 25
echo "expect_job_failure: exit status $status after $ms ms"
if [[ $status -eq 0 ]]; then echo "FAILED: the job succeeded"; exit 1; fi
if ((ms > max * 1000)); then echo "FAILED: took more than $max s (hung?)"; exit 1; fi
if ! grep -Eq "$regex" <<<"$out"; then echo "FAILED: no line matches /$regex/"; exit 1; fi
echo "expect_job_failure: ended with an error in $ms ms, as expected"
