#!/usr/bin/python3
"""PyTorch MTFN written from /work/shared/spec/mtfn.md, with the parameter names of MMSA's MTFN,
plus MMSA's loss and Adam parameter groups. It is the reference the C++ model is checked against;
it is not a training framework (see torch_train_mtfn.py for the MMSA training loop).

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24).

Shapes: B batch, S text steps, Dt/Da/Dv input widths, Ht/Ha/Hv hidden widths, To text_out,
O output width (1 in regression, num_classes in classification).
"""
import copy
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

# MMSA config_regression.json, entry mtfn, datasetParams.sims (+ commonParams, + sims dataset params)
SIMS_CONFIG = {
    'feature_dims': [768, 33, 709],      # text, audio, video
    'hidden_dims': [256, 32, 256],       # text, audio, video
    'text_out': 256,
    'post_fusion_dim': 64,
    'post_text_dim': 64,
    'post_audio_dim': 4,
    'post_video_dim': 8,
    'dropouts': [0.2, 0.2, 0.2],         # audio, video, text (text is forced to 0: one-layer LSTM)
    'post_dropouts': [0.2, 0.2, 0.2, 0.2],  # text head, audio head, video head, fusion head
    'batch_size': 64,
    'learning_rate': 0.005,
    'M': 0.6, 'T': 0.4, 'A': 0.0, 'V': 1.0,
    'text_weight_decay': 0.001,
    'audio_weight_decay': 0.0001,
    'video_weight_decay': 1e-05,
    'weight_decay': 0.005,               # present in MMSA's config, unused by the MTFN trainer
    'early_stop': 8,
    'train_mode': 'regression',
    'num_classes': 3,
    'KeyEval': 'Loss',
}

TASKS = 'MTAV'  # MMSA's trainer sets args.tasks = "MTAV"; the order of the loss sum


def make_config(overrides=None):
    cfg = copy.deepcopy(SIMS_CONFIG)
    if overrides:
        cfg.update(copy.deepcopy(overrides))
    return cfg


def load_config(path):
    """A JSON file with MMSA key names (either flat, or MMSA's {"mtfn": {"datasetParams": {"sims": ..}}})."""
    with open(path) as f:
        data = json.load(f)
    if 'mtfn' in data:
        entry = data['mtfn']
        flat = dict(entry.get('commonParams', {}))
        flat.update(entry.get('datasetParams', {}).get('sims', {}))
        data = flat
    return make_config(data)


class SubNet(nn.Module):
    """Audio / video pre-fusion net: BatchNorm1d -> Dropout -> 3 x (Linear + ReLU)."""

    def __init__(self, in_size, hidden_size, dropout):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_size)
        self.drop = nn.Dropout(p=dropout)
        self.linear_1 = nn.Linear(in_size, hidden_size)
        self.linear_2 = nn.Linear(hidden_size, hidden_size)
        self.linear_3 = nn.Linear(hidden_size, hidden_size)

    def forward(self, x):                      # x (B, D)
        y = self.drop(self.norm(x))
        y = F.relu(self.linear_1(y))
        y = F.relu(self.linear_2(y))
        return F.relu(self.linear_3(y))        # (B, H)


class TextSubNet(nn.Module):
    """One-layer batch-first LSTM over all S steps; the final hidden state h_n -> Dropout -> Linear."""

    def __init__(self, in_size, hidden_size, out_size, dropout):
        super().__init__()
        dropout = 0.0  # MMSA: `if num_layers == 1: dropout = 0.0` (also for the Dropout after the LSTM)
        self.rnn = nn.LSTM(in_size, hidden_size, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear_1 = nn.Linear(hidden_size, out_size)

    def forward(self, x):                      # x (B, S, Dt)
        _, (h_n, _) = self.rnn(x)              # h_n (1, B, Ht) == output[:, -1] (no packing, one layer)
        # MMSA: final_states[0].squeeze(), which also drops B when B == 1; squeeze(0) keeps it.
        h = self.dropout(h_n.squeeze(0))       # (B, Ht)
        return self.linear_1(h)                # (B, To), no activation


def tensor_fusion(a, v, t):
    """z = [1;a] (x) [1;v] (x) [1;t], flattened audio slowest, text fastest: (B, (Ha+1)(Hv+1)(To+1))."""
    ones = torch.ones(a.shape[0], 1, dtype=a.dtype, device=a.device)
    a1 = torch.cat((ones, a), dim=1)
    v1 = torch.cat((ones, v), dim=1)
    t1 = torch.cat((ones, t), dim=1)
    av = torch.bmm(a1.unsqueeze(2), v1.unsqueeze(1))          # (B, Ha+1, Hv+1)
    av = av.reshape(a.shape[0], -1, 1)                        # (B, (Ha+1)(Hv+1), 1)
    return torch.bmm(av, t1.unsqueeze(1)).reshape(a.shape[0], -1)


class MTFN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.text_in, self.audio_in, self.video_in = cfg['feature_dims']
        self.text_hidden, self.audio_hidden, self.video_hidden = cfg['hidden_dims']
        self.text_out = cfg['text_out']
        audio_prob, video_prob, text_prob = cfg['dropouts']
        post_text_prob, post_audio_prob, post_video_prob, post_fusion_prob = cfg['post_dropouts']
        self.output_dim = cfg['num_classes'] if cfg['train_mode'] == 'classification' else 1

        # Registered first on this module, so they come first in named_parameters()/state_dict().
        self.output_range = nn.Parameter(torch.FloatTensor([6]), requires_grad=False)
        self.output_shift = nn.Parameter(torch.FloatTensor([-3]), requires_grad=False)

        self.audio_subnet = SubNet(self.audio_in, self.audio_hidden, audio_prob)
        self.video_subnet = SubNet(self.video_in, self.video_hidden, video_prob)
        self.text_subnet = TextSubNet(self.text_in, self.text_hidden, self.text_out, text_prob)

        fusion_in = (self.text_out + 1) * (self.video_hidden + 1) * (self.audio_hidden + 1)
        self.post_fusion_dropout = nn.Dropout(p=post_fusion_prob)
        self.post_fusion_layer_1 = nn.Linear(fusion_in, cfg['post_fusion_dim'])
        self.post_fusion_layer_2 = nn.Linear(cfg['post_fusion_dim'], cfg['post_fusion_dim'])
        self.post_fusion_layer_3 = nn.Linear(cfg['post_fusion_dim'], self.output_dim)

        self.post_text_dropout = nn.Dropout(p=post_text_prob)
        self.post_text_layer_1 = nn.Linear(self.text_out, cfg['post_text_dim'])
        self.post_text_layer_2 = nn.Linear(cfg['post_text_dim'], cfg['post_text_dim'])
        self.post_text_layer_3 = nn.Linear(cfg['post_text_dim'], self.output_dim)

        self.post_audio_dropout = nn.Dropout(p=post_audio_prob)
        self.post_audio_layer_1 = nn.Linear(self.audio_hidden, cfg['post_audio_dim'])
        self.post_audio_layer_2 = nn.Linear(cfg['post_audio_dim'], cfg['post_audio_dim'])
        self.post_audio_layer_3 = nn.Linear(cfg['post_audio_dim'], self.output_dim)

        self.post_video_dropout = nn.Dropout(p=post_video_prob)
        self.post_video_layer_1 = nn.Linear(self.video_hidden, cfg['post_video_dim'])
        self.post_video_layer_2 = nn.Linear(cfg['post_video_dim'], cfg['post_video_dim'])
        self.post_video_layer_3 = nn.Linear(cfg['post_video_dim'], self.output_dim)

    @staticmethod
    def _head(x, drop, l1, l2, l3):
        x = drop(x)
        x = F.relu(l1(x))
        x = F.relu(l2(x))
        return l3(x)

    def forward(self, text_x, audio_x, video_x):
        """text_x (B,S,Dt); audio_x (B,Da) or (B,1,Da); video_x (B,Dv) or (B,1,Dv)."""
        if audio_x.dim() == 3:
            audio_x = audio_x.squeeze(1)
        if video_x.dim() == 3:
            video_x = video_x.squeeze(1)
        audio_h = self.audio_subnet(audio_x)   # (B, Ha)
        video_h = self.video_subnet(video_x)   # (B, Hv)
        text_h = self.text_subnet(text_x)      # (B, To)

        out_t = self._head(text_h, self.post_text_dropout,
                           self.post_text_layer_1, self.post_text_layer_2, self.post_text_layer_3)
        out_a = self._head(audio_h, self.post_audio_dropout,
                           self.post_audio_layer_1, self.post_audio_layer_2, self.post_audio_layer_3)
        out_v = self._head(video_h, self.post_video_dropout,
                           self.post_video_layer_1, self.post_video_layer_2, self.post_video_layer_3)

        z = tensor_fusion(audio_h, video_h, text_h)
        out_m = self._head(z, self.post_fusion_dropout,
                           self.post_fusion_layer_1, self.post_fusion_layer_2, self.post_fusion_layer_3)
        if self.output_dim == 1:
            out_m = torch.sigmoid(out_m) * self.output_range + self.output_shift
        return {
            'Feature_t': text_h, 'Feature_a': audio_h, 'Feature_v': video_h, 'Feature_f': z,
            'M': out_m, 'T': out_t, 'A': out_a, 'V': out_v,
        }


def label_classes(labels):
    """mtfn.md §5: negative 0 if <= -0.1, neutral 1 if in (-0.1, 0.1], positive 2 if > 0.1.
    Compared in float32, as MMSA's labels are float32 and numpy compares a float32 array with a
    Python float in float32: a label of 0.1 is neutral, -0.1 negative."""
    x = labels.detach().to(torch.float32)
    lo = torch.tensor(-0.1, dtype=torch.float32)
    hi = torch.tensor(0.1, dtype=torch.float32)
    cls = torch.ones_like(x, dtype=torch.int64)
    cls[x <= lo] = 0
    cls[x > hi] = 2
    return cls.reshape(-1)


def mtfn_loss(outputs, labels, cfg):
    """MMSA: loss = 0.0; for m in "MTAV": loss += args[m] * criterion(outputs[m], labels[m]).
    Every task is computed, also A with weight 0 (so the A head gets exact-zero gradients).
    Regression: L1Loss (mean) on (B,1) vs labels.view(-1,1). Classification: CrossEntropyLoss
    (mean) on (B,C) logits vs classes per label_classes(). Returns (total, {task: unweighted})."""
    parts = {}
    total = 0.0
    for m in TASKS:
        if cfg['train_mode'] == 'classification':
            part = F.cross_entropy(outputs[m], label_classes(labels[m]))
        else:
            part = F.l1_loss(outputs[m], labels[m].reshape(-1, 1).to(outputs[m].dtype))
        parts[m] = part
        total = total + cfg[m] * part
    return total, parts


def mtfn_param_groups(model, cfg):
    """MMSA trains/multiTask/MTFN.py do_train: five Adam groups, in this order:
       0 text_subnet (wd text_weight_decay), 1 audio_subnet (wd audio_weight_decay),
       2 video_subnet (wd video_weight_decay), 3 the first two named parameters of the model,
       i.e. output_range and output_shift, with lr 0.0 (and requires_grad False: Adam skips them),
       4 every other parameter (post_* layers), default weight decay 0."""
    named = list(model.named_parameters())
    assert [n for n, _ in named[:2]] == ['output_range', 'output_shift'], named[:2]
    other = [p for n, p in named[2:]
             if 'text_subnet' not in n and 'audio_subnet' not in n and 'video_subnet' not in n]
    return [
        {'params': list(model.text_subnet.parameters()), 'weight_decay': cfg['text_weight_decay']},
        {'params': list(model.audio_subnet.parameters()), 'weight_decay': cfg['audio_weight_decay']},
        {'params': list(model.video_subnet.parameters()), 'weight_decay': cfg['video_weight_decay']},
        {'params': [p for _, p in named[:2]], 'lr': 0.0},
        {'params': other},
    ]


def mtfn_optimizer(model, cfg):
    """torch.optim.Adam(groups, lr=learning_rate): betas (0.9, 0.999), eps 1e-8, L2 decay, no amsgrad."""
    return torch.optim.Adam(mtfn_param_groups(model, cfg), lr=cfg['learning_rate'])


def zero_dropout(cfg):
    cfg = copy.deepcopy(cfg)
    cfg['dropouts'] = [0.0] * len(cfg['dropouts'])
    cfg['post_dropouts'] = [0.0] * len(cfg['post_dropouts'])
    return cfg
