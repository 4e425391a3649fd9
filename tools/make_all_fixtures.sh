#!/bin/sh
# Regenerates every committed fixture made by tools/ (deterministic: rerunning gives identical bytes
# on the same torch/numpy build). Needs Debian's /usr/bin/python3 with python3-torch and python3-numpy.
# Usage: sh tools/make_all_fixtures.sh   (from the repository root)
set -e
PY=/usr/bin/python3
REF=tests/fixtures/reference
$PY tools/make_mtfn_reference.py --seed 1111 --batch 6 --seq 5 \
    --out $REF/mtfn_small_regression.safetensors
$PY tools/make_mtfn_reference.py --seed 1112 --batch 4 --seq 7 \
    --feature-dims 10,6,9 --hidden-dims 6,3,5 --text-out 7 \
    --post-fusion-dim 5 --post-text-dim 4 --post-audio-dim 2 --post-video-dim 3 \
    --out $REF/mtfn_sizes2_regression.safetensors
$PY tools/make_mtfn_reference.py --seed 1113 --batch 8 --seq 5 --mode classification --num-classes 3 \
    --out $REF/mtfn_small_classification.safetensors
$PY tools/check_mtfn_reference.py $REF/mtfn_small_regression.safetensors $REF/mtfn_sizes2_regression.safetensors \
    $REF/mtfn_small_classification.safetensors
$PY tools/make_tfn_reference.py --out $REF/tfn_small_regression.safetensors
$PY tools/make_tfn_reference.py --mode classification --feature-dims 9,6,4 --hidden-dims 5,3,6 \
    --text-out 4 --post-fusion-dim 7 --batch 7 --seq 4 --seed 2222 \
    --out $REF/tfn_sizes2_classification.safetensors
$PY tools/make_nn_fixtures.py --out tests/fixtures/nn
$PY tools/make_attention_fixtures.py --out tests/fixtures/nn
# mtfn_attn (seed 1113: with 1111 the V task's L1 gradient cancels to round-off, which no check can compare)
$PY tools/make_mtfn_attn_reference.py --seed 1113 --out $REF/mtfn_attn_small_regression.safetensors
$PY tools/make_mtfn_attn_reference.py --seed 1112 --batch 4 --seq 7 --feature-dims 10,6,9 --hidden-dims 6,3,5 \
    --text-out 7 --attn-dim 6 --attn-heads 3 --attn-rank 2 --mode classification \
    --out $REF/mtfn_attn_sizes2_classification.safetensors
