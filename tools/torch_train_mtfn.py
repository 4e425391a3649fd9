#!/usr/bin/python3
"""Trains the PyTorch MTFN (tools/torch_mtfn.py) the way MMSA's multi-task trainer does
(mtfn.md §3), or with --model tfn the PyTorch TFN (tools/torch_tfn.py) the way MMSA's TFN trainer
does (tfn-and-datasets.md §1: Adam over parameters()[2:], L1 on M only), on an MMSA-layout
pickle, for the given seeds, and prints the test metrics (SIMS metrics of mtfn.md §4/§5, or
MMSA's MOSI/MOSEI metrics for --dataset mosi/mosei), so that our C++ training can be compared
with PyTorch's on the same file.
Not a product: it trusts its input (Python's pickle runs code; use it on files we made, e.g.
`mtfn synth`), and it keeps the best model in memory instead of writing checkpoints.

  /usr/bin/python3 tools/torch_train_mtfn.py --data synth.pkl --seeds 1111,1112 --threads 2
  /usr/bin/python3 tools/torch_train_mtfn.py --data synth.pkl --mode classification --json-out r.json
  /usr/bin/python3 tools/torch_train_mtfn.py --model tfn --dataset mosi --data mosi_synth.pkl --json-out r.json

Mirrors MMSA (src/MMSA/run.py, data_loader.py, trains/multiTask/MTFN.py, utils/metricsTop.py):
seed -> torch.manual_seed, np.random.seed, random.seed; then the data, then the model (its init
draws from the seeded stream); every split in a DataLoader(shuffle=True), valid and test too
(their shuffles draw from the same stream); each epoch trains, then scores valid (eval mode,
loss = mean over batches of the weighted loss, rounded to 4 places); better = lower by >= 1e-6;
stop after `early_stop` epochs without improvement; the best state is restored for the test split.
"""
import argparse
import copy
import json
import os
import pickle
import random
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_mtfn import MTFN, TASKS, label_classes, load_config, make_config, mtfn_loss, mtfn_optimizer  # noqa: E402
import torch_tfn  # noqa: E402

# MMSA config_regression.json, entry tfn, commonParams + datasetParams.<dataset>
# (shared/spec/tfn-and-datasets.md §2; the feature widths are then taken from the data file).
TFN_CONFIGS = {
    'mosi': {'hidden_dims': [128, 32, 128], 'text_out': 32, 'post_fusion_dim': 64,
             'dropouts': [0.3, 0.3, 0.3, 0.5], 'batch_size': 32, 'learning_rate': 0.001},
    'mosei': {'hidden_dims': [128, 16, 128], 'text_out': 128, 'post_fusion_dim': 16,
              'dropouts': [0.4, 0.4, 0.4, 0.4], 'batch_size': 128, 'learning_rate': 0.005},
    'sims': {'hidden_dims': [128, 32, 128], 'text_out': 256, 'post_fusion_dim': 32,
             'dropouts': [0.4, 0.4, 0.4, 0.4], 'batch_size': 32, 'learning_rate': 0.0005},
    'simsv2': {'hidden_dims': [128, 32, 128], 'text_out': 128, 'post_fusion_dim': 32,
               'dropouts': [0.3, 0.3, 0.3, 0.5], 'batch_size': 128, 'learning_rate': 0.002},
}


# ----------------------------------------------------------------------------- data

def load_split(split):
    """MMSA data_loader.py for sims with need_normalized: float32; audio -inf -> 0; audio and vision
    averaged over all time steps (padding included), NaN -> 0; shapes (N,1,Da), (N,1,Dv)."""
    text = np.asarray(split['text']).astype(np.float32)
    audio = np.asarray(split['audio']).astype(np.float32)
    vision = np.asarray(split['vision']).astype(np.float32)
    audio[audio == -np.inf] = 0
    vision = np.mean(np.transpose(vision, (1, 0, 2)), axis=0, keepdims=True)
    audio = np.mean(np.transpose(audio, (1, 0, 2)), axis=0, keepdims=True)
    vision[vision != vision] = 0
    audio[audio != audio] = 0
    labels = {'M': np.array(split['regression_labels']).astype(np.float32)}
    for m in 'TAV':
        key = 'regression_labels_' + m
        labels[m] = (np.asarray(split[key]).astype(np.float32) if key in split else labels['M'].copy())
    return {'text': text, 'audio': np.transpose(audio, (1, 0, 2)), 'vision': np.transpose(vision, (1, 0, 2)),
            'labels': labels}


class SimsDataset(Dataset):
    def __init__(self, data):
        self.d = data

    def __len__(self):
        return len(self.d['labels']['M'])

    def __getitem__(self, i):
        return {'text': torch.Tensor(self.d['text'][i]), 'audio': torch.Tensor(self.d['audio'][i]),
                'vision': torch.Tensor(self.d['vision'][i]),
                'labels': {k: torch.Tensor(v[i].reshape(-1)) for k, v in self.d['labels'].items()}}


# ----------------------------------------------------------------------------- metrics

def weighted_f1(y_true, y_pred):
    """sklearn f1_score(average='weighted'): per-label F1 over labels in y_true or y_pred (0 where
    precision + recall = 0), weighted by the label's support in y_true."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    total = 0.0
    for c in np.union1d(y_true, y_pred):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        denom = 2 * tp + fp + fn
        f1 = 0.0 if denom == 0 else 2.0 * tp / denom
        total += f1 * np.sum(y_true == c)
    return total / len(y_true)


def sims_regression_metrics(y_pred, y_true):
    """MMSA MetricsTop.__eval_sims_regression (float32 arrays: thresholds compare in float32)."""
    test_preds = np.clip(np.asarray(y_pred, dtype=np.float32).reshape(-1), -1., 1.)
    test_truth = np.clip(np.asarray(y_true, dtype=np.float32).reshape(-1), -1., 1.)

    def bucket(x, edges):
        out = x.copy()
        for i in range(len(edges) - 1):
            out[np.logical_and(x > edges[i], x <= edges[i + 1])] = i
        return out
    ms_2, ms_3, ms_5 = [-1.01, 0.0, 1.01], [-1.01, -0.1, 0.1, 1.01], [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01]
    p2, t2 = bucket(test_preds, ms_2), bucket(test_truth, ms_2)
    p3, t3 = bucket(test_preds, ms_3), bucket(test_truth, ms_3)
    p5, t5 = bucket(test_preds, ms_5), bucket(test_truth, ms_5)

    def acc(p, t):
        return np.sum(np.round(p) == np.round(t)) / float(len(t))
    mae = np.mean(np.absolute(test_preds - test_truth)).astype(np.float64)
    corr = np.corrcoef(test_preds, test_truth)[0][1]
    return {'Mult_acc_2': round(acc(p2, t2), 4), 'Mult_acc_3': round(acc(p3, t3), 4),
            'Mult_acc_5': round(acc(p5, t5), 4), 'F1_score': round(weighted_f1(t2, p2), 4),
            'MAE': round(float(mae), 4), 'Corr': round(float(corr), 4)}


def sims_classification_metrics(logits, y_true):
    """MMSA MetricsTop.__eval_mosi_classification with classes per mtfn.md §5 (y_true 0/1/2)."""
    y_pred = np.asarray(logits)
    y_true = np.asarray(y_true).reshape(-1)
    y_pred_3 = np.argmax(y_pred, axis=1)
    acc3 = np.mean(y_pred_3 == y_true)
    f1_3 = weighted_f1(y_true, y_pred_3)
    y_pred = np.array([[v[0], v[2]] for v in y_pred])
    y_pred_2 = np.argmax(y_pred, axis=1)
    y_true_2 = np.array([0 if v <= 1 else 1 for v in y_true])
    has0_acc = np.mean(y_pred_2 == y_true_2)
    has0_f1 = weighted_f1(y_true_2, y_pred_2)
    non_zeros = np.array([i for i, e in enumerate(y_true) if e != 1])
    # MMSA compares the 0/1 prediction with the raw 0/2 class here (positives never count as right)
    y_pred_nz = np.argmax(y_pred[non_zeros], axis=1)
    y_true_nz = y_true[non_zeros]
    non0_acc = np.mean(y_pred_nz == y_true_nz)
    non0_f1 = weighted_f1(y_true_nz, y_pred_nz)
    return {'Has0_acc_2': round(float(has0_acc), 4), 'Has0_F1_score': round(float(has0_f1), 4),
            'Non0_acc_2': round(float(non0_acc), 4), 'Non0_F1_score': round(float(non0_f1), 4),
            'Acc_3': round(float(acc3), 4), 'F1_score_3': round(float(f1_3), 4)}


def mosi_regression_metrics(y_pred, y_true):
    """MMSA MetricsTop.__eval_mosei_regression (MOSI and MOSEI), float32 arrays."""
    p = np.asarray(y_pred, dtype=np.float32).reshape(-1)
    t = np.asarray(y_true, dtype=np.float32).reshape(-1)

    def mult(lo):
        return float(np.sum(np.round(np.clip(p, -lo, lo)) == np.round(np.clip(t, -lo, lo))) / float(len(t)))
    mae = np.mean(np.absolute(p - t)).astype(np.float64)
    corr = np.corrcoef(p, t)[0][1]
    nz = np.array([i for i, e in enumerate(t) if e != 0])
    nz_t, nz_p = t[nz] > 0, p[nz] > 0
    b_t, b_p = t >= 0, p >= 0
    return {'Has0_acc_2': round(float(np.mean(b_p == b_t)), 4), 'Has0_F1_score': round(weighted_f1(b_t, b_p), 4),
            'Non0_acc_2': round(float(np.mean(nz_p == nz_t)), 4), 'Non0_F1_score': round(weighted_f1(nz_t, nz_p), 4),
            'Mult_acc_5': round(mult(2.), 4), 'Mult_acc_7': round(mult(3.), 4),
            'MAE': round(float(mae), 4), 'Corr': round(float(corr), 4)}


# ----------------------------------------------------------------------------- training

class Spec:
    """What differs between the two trainers: the model, its loss (a scalar) and optimiser, the metrics."""

    def __init__(self, model, dataset):
        self.model, self.dataset = model, dataset
        if model == 'tfn':
            self.make = torch_tfn.TFN
            self.loss = lambda out, labels, cfg: torch_tfn.tfn_loss(out, labels['M'], cfg)
            self.optimizer = torch_tfn.tfn_optimizer
        else:
            self.make = MTFN
            self.loss = lambda out, labels, cfg: mtfn_loss(out, labels, cfg)[0]
            self.optimizer = mtfn_optimizer

    def metrics(self, pred, true, cfg):
        if cfg['train_mode'] == 'classification':
            return sims_classification_metrics(pred, label_classes(true).numpy())
        if self.dataset in ('mosi', 'mosei'):
            return mosi_regression_metrics(pred, true.numpy())
        return sims_regression_metrics(pred, true.numpy())


def setup_seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def batch_to(batch, dtype):
    return (batch['text'].to(dtype), batch['audio'].to(dtype), batch['vision'].to(dtype),
            {k: v.view(-1).to(dtype) for k, v in batch['labels'].items()})


def evaluate(model, loader, cfg, dtype, spec):
    model.eval()
    preds, trues, total = [], [], 0.0
    with torch.no_grad():
        for batch in loader:
            text, audio, vision, labels = batch_to(batch, dtype)
            out = model(text, audio, vision)
            loss = spec.loss(out, labels, cfg)
            total += loss.item()
            preds.append(out['M'].cpu())
            trues.append(labels['M'].cpu())
    loss = round(total / len(loader), 4)
    pred, true = torch.cat(preds).float().numpy(), torch.cat(trues).float()
    metrics = spec.metrics(pred, true, cfg)
    metrics['Loss'] = loss
    return metrics


def run_seed(data, cfg, seed, max_epochs, dtype, log, spec):
    setup_seed(seed)
    loaders = {s: DataLoader(SimsDataset(data[s]), batch_size=cfg['batch_size'], shuffle=True, num_workers=0)
               for s in ('train', 'valid', 'test')}
    model = spec.make(cfg).to(dtype)
    opt = spec.optimizer(model, cfg)
    best_valid, best_epoch, best_state, epochs, history = 1e8, 0, None, 0, []
    while True:
        epochs += 1
        t0 = time.time()
        model.train()
        train_loss = 0.0
        for batch in loaders['train']:
            text, audio, vision, labels = batch_to(batch, dtype)
            opt.zero_grad()
            out = model(text, audio, vision)
            loss = spec.loss(out, labels, cfg)
            loss.backward()
            opt.step()
            train_loss += loss.item()
        train_loss /= len(loaders['train'])
        valid = evaluate(model, loaders['valid'], cfg, dtype, spec)
        if valid['Loss'] <= best_valid - 1e-6:
            best_valid, best_epoch = valid['Loss'], epochs
            best_state = copy.deepcopy(model.state_dict())
        history.append({'epoch': epochs, 'train_loss': train_loss, 'valid_loss': valid['Loss'],
                        'seconds': time.time() - t0})
        log(f'seed {seed} epoch {epochs}: train_loss {train_loss:.4f} valid_loss {valid["Loss"]:.4f}'
            f'{" *" if best_epoch == epochs else ""} ({time.time() - t0:.1f} s)')
        if epochs - best_epoch >= cfg['early_stop'] or (max_epochs and epochs >= max_epochs):
            break
    model.load_state_dict(best_state)
    test = evaluate(model, loaders['test'], cfg, dtype, spec)
    return {'seed': seed, 'epochs': history, 'best_epoch': best_epoch, 'test': test}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True, help='MMSA-layout pickle {train,valid,test}')
    p.add_argument('--model', choices=['mtfn', 'tfn'], default='mtfn')
    p.add_argument('--dataset', choices=['sims', 'simsv2', 'mosi', 'mosei'], default='sims',
                   help='picks the tfn configuration and the metrics (MOSI/MOSEI or SIMS); mtfn: sims config')
    p.add_argument('--config', help='JSON with MMSA key names (overrides the built-in configuration)')
    p.add_argument('--mode', choices=['regression', 'classification'])
    p.add_argument('--seeds', default='1111,1112,1113,1114,1115')
    p.add_argument('--max-epochs', type=int, default=0, help='0 = until early stop')
    p.add_argument('--batch-size', type=int)
    p.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0 = default)')
    p.add_argument('--float64', action='store_true', help='train in float64 instead of MMSA\'s float32')
    p.add_argument('--json-out', help='write results in the layout of `mtfn train`\'s results.json')
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model == 'tfn':
        cfg = torch_tfn.make_config(TFN_CONFIGS[args.dataset])
        if args.config:
            with open(args.config) as f:
                cfg.update(json.load(f))
    else:
        cfg = load_config(args.config) if args.config else make_config()
    spec = Spec(args.model, args.dataset)
    if args.mode:
        cfg['train_mode'] = args.mode
    if args.batch_size:
        cfg['batch_size'] = args.batch_size
    with open(args.data, 'rb') as f:
        raw = pickle.load(f)
    data = {s: load_split(raw[s]) for s in ('train', 'valid', 'test')}
    cfg['feature_dims'] = [data['train']['text'].shape[2], data['train']['audio'].shape[2],
                           data['train']['vision'].shape[2]]
    dtype = torch.float64 if args.float64 else torch.float32
    print(f'model {args.model}, dataset {args.dataset}; data {args.data}: ' + ', '.join(f'{s} {len(data[s]["labels"]["M"])}' for s in data) +
          f'; feature_dims {cfg["feature_dims"]}; mode {cfg["train_mode"]}', flush=True)

    results = []
    for seed in [int(s) for s in args.seeds.split(',')]:
        r = run_seed(data, cfg, seed, args.max_epochs, dtype, lambda s: print(s, flush=True), spec)
        print(f'seed {seed} best epoch {r["best_epoch"]} test: ' + json.dumps(r['test']), flush=True)
        results.append(r)
    keys = list(results[0]['test'].keys())
    mean = {k: round(float(np.mean([r['test'][k] for r in results])) * 100, 2) for k in keys}  # MMSA: round(mean*100, 2)
    std = {k: round(float(np.std([r['test'][k] for r in results])) * 100, 2) for k in keys}
    print('mean x100: ' + json.dumps(mean))
    print('std  x100: ' + json.dumps(std))
    if args.json_out:
        out = {'model': args.model, 'dataset': args.dataset, 'data': args.data, 'mode': cfg['train_mode'], 'config': cfg, 'seeds': results,
               'mean': {k: float(np.mean([r['test'][k] for r in results])) for k in keys},
               'std': {k: float(np.std([r['test'][k] for r in results])) for k in keys}}
        with open(args.json_out, 'w') as f:
            json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
