#!/usr/bin/python3
"""PyTorch TFN written from /work/shared/spec/tfn-and-datasets.md §1, with the parameter names of
MMSA's TFN (models/singleTask/TFN.py), plus MMSA's TFN loss and Adam (trains/singleTask/TFN.py).
The subnets and the fusion are torch_mtfn.py's (MMSA's subNets are shared the same way).
The reference the C++ model is checked against; not a training framework.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24).
Shapes: B batch, S text steps, Dt/Da/Dv input widths, Ht/Ha/Hv hidden widths, To text_out,
P post_fusion_dim, O output width (1 in regression, num_classes in classification).
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_mtfn import SubNet, TextSubNet, label_classes, tensor_fusion  # noqa: F401 (label_classes re-exported)

# MMSA config_regression.json, entry tfn, datasetParams.sims (+ commonParams, + sims dataset params)
SIMS_CONFIG = {
    'feature_dims': [768, 33, 709],      # text, audio, video
    'hidden_dims': [128, 32, 128],       # text, audio, video
    'text_out': 256,
    'post_fusion_dim': 32,
    'dropouts': [0.4, 0.4, 0.4, 0.4],    # audio, video, text (forced to 0: one-layer LSTM), post_fusion
    'batch_size': 32,
    'learning_rate': 0.0005,
    'early_stop': 8,
    'train_mode': 'regression',
    'num_classes': 3,
    'KeyEval': 'Loss',
}


def make_config(overrides=None):
    cfg = copy.deepcopy(SIMS_CONFIG)
    if overrides:
        cfg.update(copy.deepcopy(overrides))
    return cfg


class TFN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.text_in, self.audio_in, self.video_in = cfg['feature_dims']
        self.text_hidden, self.audio_hidden, self.video_hidden = cfg['hidden_dims']
        self.text_out = cfg['text_out']
        audio_prob, video_prob, text_prob, post_fusion_prob = cfg['dropouts']
        self.output_dim = cfg['num_classes'] if cfg['train_mode'] == 'classification' else 1

        self.audio_subnet = SubNet(self.audio_in, self.audio_hidden, audio_prob)
        self.video_subnet = SubNet(self.video_in, self.video_hidden, video_prob)
        self.text_subnet = TextSubNet(self.text_in, self.text_hidden, self.text_out, text_prob)

        fusion_in = (self.text_out + 1) * (self.video_hidden + 1) * (self.audio_hidden + 1)
        self.post_fusion_dropout = nn.Dropout(p=post_fusion_prob)
        self.post_fusion_layer_1 = nn.Linear(fusion_in, cfg['post_fusion_dim'])
        self.post_fusion_layer_2 = nn.Linear(cfg['post_fusion_dim'], cfg['post_fusion_dim'])
        self.post_fusion_layer_3 = nn.Linear(cfg['post_fusion_dim'], self.output_dim)

        # Created last (as in MMSA), yet first in named_parameters()/state_dict(): a module's own
        # parameters come before its children's.
        self.output_range = nn.Parameter(torch.FloatTensor([6]), requires_grad=False)
        self.output_shift = nn.Parameter(torch.FloatTensor([-3]), requires_grad=False)

    def forward(self, text_x, audio_x, video_x):
        """text_x (B,S,Dt); audio_x (B,Da) or (B,1,Da); video_x (B,Dv) or (B,1,Dv)."""
        if audio_x.dim() == 3:
            audio_x = audio_x.squeeze(1)
        if video_x.dim() == 3:
            video_x = video_x.squeeze(1)
        audio_h = self.audio_subnet(audio_x)   # (B, Ha)
        video_h = self.video_subnet(video_x)   # (B, Hv)
        text_h = self.text_subnet(text_x)      # (B, To)
        z = tensor_fusion(audio_h, video_h, text_h)  # (B, F)
        y = self.post_fusion_dropout(z)
        y = F.relu(self.post_fusion_layer_1(y))
        y = F.relu(self.post_fusion_layer_2(y))
        out = self.post_fusion_layer_3(y)      # (B, O)
        if self.output_dim == 1:
            out = torch.sigmoid(out) * self.output_range + self.output_shift
        return {'Feature_t': text_h, 'Feature_a': audio_h, 'Feature_v': video_h, 'Feature_f': z, 'M': out}


def tfn_loss(outputs, label_m, cfg):
    """MMSA's TFN trainer: L1Loss on M (B,1) vs labels.view(-1,1) (regression), CrossEntropyLoss on
    the label classes (classification). Only the M label."""
    if cfg['train_mode'] == 'classification':
        return F.cross_entropy(outputs['M'], label_classes(label_m))
    return F.l1_loss(outputs['M'], label_m.reshape(-1, 1).to(outputs['M'].dtype))


def tfn_optimizer(model, cfg):
    """optim.Adam(list(model.parameters())[2:], lr=learning_rate): one group, no weight decay; the [2:]
    leaves out output_range and output_shift."""
    named = list(model.named_parameters())
    assert [n for n, _ in named[:2]] == ['output_range', 'output_shift'], named[:2]
    return torch.optim.Adam(list(model.parameters())[2:], lr=cfg['learning_rate'])


def zero_dropout(cfg):
    cfg = copy.deepcopy(cfg)
    cfg['dropouts'] = [0.0] * len(cfg['dropouts'])
    return cfg
