#!/usr/bin/python3
"""Independent check of a reference file made by make_mtfn_reference.py: recomputes the forward
pass, the losses, a sample of gradients (central differences) and the first Adam step in plain
numpy straight from mtfn.md's formulas, reading the file with our own safetensors reader.
It guards the reference itself (gate order, fusion order, BatchNorm, loss, optimizer groups);
it is not the C++ check (that is `mtfn check-grads`).

  /usr/bin/python3 tools/check_mtfn_reference.py tests/fixtures/reference/*.safetensors
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file  # noqa: E402


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def linear(P, name, x):
    return x @ P[name + '.weight'].T + P[name + '.bias']


def batchnorm(P, name, x):
    mean = x.mean(axis=0)
    var = x.var(axis=0)                                 # biased, for normalising
    y = (x - mean) / np.sqrt(var + 1e-5) * P[name + '.weight'] + P[name + '.bias']
    n = x.shape[0]
    rm = 0.9 * P[name + '.running_mean'] + 0.1 * mean
    rv = 0.9 * P[name + '.running_var'] + 0.1 * var * n / (n - 1)   # unbiased for the running var
    return y, rm, rv


def subnet(P, prefix, x):
    y, rm, rv = batchnorm(P, prefix + '.norm', x)
    for i in (1, 2, 3):
        y = np.maximum(linear(P, f'{prefix}.linear_{i}', y), 0.0)
    return y, rm, rv


def lstm_last_h(P, prefix, x):                          # x (B,S,D); gates i, f, g, o
    B, S, _ = x.shape
    H = P[prefix + '.weight_hh_l0'].shape[1]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    for s in range(S):
        g = x[:, s] @ P[prefix + '.weight_ih_l0'].T + P[prefix + '.bias_ih_l0'] \
            + h @ P[prefix + '.weight_hh_l0'].T + P[prefix + '.bias_hh_l0']
        i, f, gg, o = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
    return h


def head(P, prefix, x):
    x = np.maximum(linear(P, prefix + '_1', x), 0.0)
    x = np.maximum(linear(P, prefix + '_2', x), 0.0)
    return linear(P, prefix + '_3', x)


def forward(P, text, audio, vision, regression):
    a, arm, arv = subnet(P, 'audio_subnet', audio)
    v, vrm, vrv = subnet(P, 'video_subnet', vision)
    t = linear(P, 'text_subnet.linear_1', lstm_last_h(P, 'text_subnet.rnn', text))
    B = a.shape[0]
    one = np.ones((B, 1))
    a1, v1, t1 = (np.concatenate([one, x], axis=1) for x in (a, v, t))
    z = np.einsum('bi,bj,bk->bijk', a1, v1, t1).reshape(B, -1)    # audio slowest, text fastest
    m = head(P, 'post_fusion_layer', z)
    if regression:
        m = sigmoid(m) * P['output_range'] + P['output_shift']
    out = {'M': m, 'T': head(P, 'post_text_layer', t), 'A': head(P, 'post_audio_layer', a),
           'V': head(P, 'post_video_layer', v), 'Feature_t': t, 'Feature_a': a, 'Feature_v': v,
           'Feature_f': z}
    after = {'audio_subnet.norm.running_mean': arm, 'audio_subnet.norm.running_var': arv,
             'video_subnet.norm.running_mean': vrm, 'video_subnet.norm.running_var': vrv}
    return out, after


def classes(label):
    x = label.astype(np.float32)
    return np.where(x <= np.float32(-0.1), 0, np.where(x > np.float32(0.1), 2, 1))


def losses(out, labels, cfg):
    parts = {}
    for m in 'MTAV':
        if cfg['train_mode'] == 'classification':
            logits = out[m]
            lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
            y = classes(labels[m])
            parts[m] = np.mean(lse - logits[np.arange(len(y)), y])
        else:
            parts[m] = np.mean(np.abs(out[m][:, 0] - labels[m]))
    return sum(cfg[m] * parts[m] for m in 'MTAV'), parts


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-300, np.max(np.abs(b)), 1e-12))


def check(path, fd_samples=4):
    T, meta = load_file(path)
    cfg = json.loads(meta['config'])
    regression = cfg['train_mode'] == 'regression'
    names = [k for k in T if '.' not in k.split('.')[0] and not k.startswith(
        ('input.', 'label.', 'output.', 'loss', 'grad.', 'after.', 'adam'))]
    P = {k: T[k] for k in names}
    labels = {m: T['label.' + m] for m in 'MTAV'}
    text, audio, vision = T['input.text'], T['input.audio'], T['input.vision']
    worst = {}

    out, after = forward(P, text, audio, vision, regression)
    worst['output'] = max(rel_err(out[k], T['output.' + k]) for k in out)
    worst['after'] = max(rel_err(after[k], T['after.' + k]) for k in after)
    loss, parts = losses(out, labels, cfg)
    worst['loss'] = max([rel_err(loss, T['loss'])] + [rel_err(parts[m], T['loss.' + m]) for m in 'MTAV'])
    if not regression:
        worst['label.class'] = max(rel_err(classes(labels[m]), T['label.class.' + m]) for m in 'MTAV')

    # central differences on a few entries of every parameter and input
    rng = np.random.default_rng(0)
    fd = 0.0
    targets = [k for k in names if 'grad.' + k in T] + ['input.text', 'input.audio', 'input.vision']
    for name in targets:
        base = P if name in P else {'input.text': text, 'input.audio': audio, 'input.vision': vision}
        g = T['grad.' + name]
        for _ in range(fd_samples):
            idx = tuple(rng.integers(0, n) for n in g.shape)
            arr = base[name].copy()
            h = 1e-6 * max(1.0, abs(arr[idx]))

            def f(value):
                arr2 = arr.copy()
                arr2[idx] = value
                P2 = dict(P)
                ins = {'input.text': text, 'input.audio': audio, 'input.vision': vision}
                (P2 if name in P else ins)[name] = arr2
                o, _ = forward(P2, ins['input.text'], ins['input.audio'], ins['input.vision'], regression)
                return losses(o, labels, cfg)[0]
            num = (f(arr[idx] + h) - f(arr[idx] - h)) / (2 * h)
            err = abs(num - g[idx]) / (max(abs(num), abs(g[idx])) + 1e-4)  # FD noise ~1e-10 absolute
            if err > fd and os.environ.get('VERBOSE'):
                print(f'  fd {name}{list(idx)}: numeric {num:.10e} analytic {g[idx]:.10e}')
            fd = max(fd, err)
    worst['grad (finite differences)'] = fd

    # first Adam step from the stored gradients, MMSA's groups
    lr = cfg['learning_rate']
    adam = 0.0
    for k in [n for n in names if 'adam1.' + n in T]:
        if 'grad.' + k not in T:
            adam = max(adam, rel_err(T['adam1.' + k], P[k]))       # frozen: unchanged
            continue
        wd = (cfg['text_weight_decay'] if k.startswith('text_subnet') else
              cfg['audio_weight_decay'] if k.startswith('audio_subnet') else
              cfg['video_weight_decay'] if k.startswith('video_subnet') else 0.0)
        g = T['grad.' + k] + wd * P[k]
        m1 = 0.1 * g
        v1 = 0.001 * g * g
        step = (lr / 0.1) * m1 / (np.sqrt(v1) / np.sqrt(0.001) + 1e-8)
        adam = max(adam, rel_err(T['adam1.' + k], P[k] - step))
    worst['adam1'] = adam
    worst['adam1.loss'] = rel_err(T['adam1.loss'], T['loss'])
    return worst


def main():
    ok = True
    for path in sys.argv[1:]:
        worst = check(path)
        tol = {'grad (finite differences)': 1e-5}  # relative to max(|g|) + 1e-4
        bad = [k for k, v in worst.items() if v > tol.get(k, 1e-10)]
        ok &= not bad
        print(f'{path}: ' + ', '.join(f'{k} {v:.2e}' for k, v in worst.items()) + (' FAIL ' + str(bad) if bad else ' ok'))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
