#!/usr/bin/python3
"""PyTorch mtfn_attn (MTFN with an attention inference subnetwork; docs/attention.md), with the parameter
names of the C++ model (models/mtfn_attn/model.h). It is the reference `mtfn check-grads` compares the
C++ model with; not a training framework, and not MTFN (tools/torch_mtfn.py is MTFN).

MTFN's subnets, unimodal heads, loss and Adam groups come from torch_mtfn.py unchanged. The fusion head's
input is seven tokens, one per block of [1;a](x)[1;v](x)[1;t]: Linear maps of a, v, t, a(x)v, a(x)t,
v(x)t, and a rank-R factorisation of the a(x)v(x)t block; torch.nn.MultiheadAttention (batch_first,
dropout 0) over them with a residual and torch.nn.LayerNorm, the mean over tokens, MTFN's M head.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24).
Shapes: B batch, Ha/Hv hidden widths, To text_out, d attn_dim, R attn_rank, K = 7 tokens.
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_mtfn import SubNet, TextSubNet, make_config

ATTN_DEFAULTS = {'attn_dim': 64, 'attn_heads': 4, 'attn_rank': 4}  # models/mtfn_attn/config.h


def make_attn_config(overrides=None):
    cfg = make_config()
    cfg.update(copy.deepcopy(ATTN_DEFAULTS))
    if overrides:
        cfg.update(copy.deepcopy(overrides))
    return cfg


def outer_flat(x, y):
    """x (B,I), y (B,J) -> (B, I*J), column i*J + j = x_i y_j."""
    return torch.bmm(x.unsqueeze(2), y.unsqueeze(1)).reshape(x.shape[0], -1)


class LowRankTrimodal(nn.Module):
    """y = sum_r (U_r a) * (V_r v) * (T_r t) + bias: the a(x)v(x)t block through a weight of CP rank R per output."""

    def __init__(self, ha, hv, to, d, rank):
        super().__init__()
        self.dim, self.rank = d, rank
        self.bias = nn.Parameter(torch.zeros(d))
        self.audio_factor = nn.Linear(ha, rank * d, bias=False)
        self.video_factor = nn.Linear(hv, rank * d, bias=False)
        self.text_factor = nn.Linear(to, rank * d, bias=False)

    def forward(self, a, v, t):
        b = a.shape[0]
        fa = self.audio_factor(a).reshape(b, self.rank, self.dim)
        fv = self.video_factor(v).reshape(b, self.rank, self.dim)
        ft = self.text_factor(t).reshape(b, self.rank, self.dim)
        return (fa * fv * ft).sum(1) + self.bias            # (B,d)


class MTFN_ATTN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        text_in, audio_in, video_in = cfg['feature_dims']
        text_hidden, audio_hidden, video_hidden = cfg['hidden_dims']
        to, d = cfg['text_out'], cfg['attn_dim']
        audio_prob, video_prob, text_prob = cfg['dropouts']
        post_text_prob, post_audio_prob, post_video_prob, post_fusion_prob = cfg['post_dropouts']
        self.output_dim = cfg['num_classes'] if cfg['train_mode'] == 'classification' else 1

        self.output_range = nn.Parameter(torch.FloatTensor([6]), requires_grad=False)
        self.output_shift = nn.Parameter(torch.FloatTensor([-3]), requires_grad=False)
        self.audio_subnet = SubNet(audio_in, audio_hidden, audio_prob)
        self.video_subnet = SubNet(video_in, video_hidden, video_prob)
        self.text_subnet = TextSubNet(text_in, text_hidden, to, text_prob)

        self.token_a = nn.Linear(audio_hidden, d)
        self.token_v = nn.Linear(video_hidden, d)
        self.token_t = nn.Linear(to, d)
        self.token_av = nn.Linear(audio_hidden * video_hidden, d)
        self.token_at = nn.Linear(audio_hidden * to, d)
        self.token_vt = nn.Linear(video_hidden * to, d)
        self.token_avt = LowRankTrimodal(audio_hidden, video_hidden, to, d, cfg['attn_rank'])
        self.attention = nn.MultiheadAttention(d, cfg['attn_heads'], dropout=0.0, batch_first=True)
        self.attention_norm = nn.LayerNorm(d)

        def head(name, n_in, hidden, p):
            setattr(self, f'{name}_dropout', nn.Dropout(p=p))
            setattr(self, f'{name}_layer_1', nn.Linear(n_in, hidden))
            setattr(self, f'{name}_layer_2', nn.Linear(hidden, hidden))
            setattr(self, f'{name}_layer_3', nn.Linear(hidden, self.output_dim))

        head('post_fusion', d, cfg['post_fusion_dim'], post_fusion_prob)
        head('post_text', to, cfg['post_text_dim'], post_text_prob)
        head('post_audio', audio_hidden, cfg['post_audio_dim'], post_audio_prob)
        head('post_video', video_hidden, cfg['post_video_dim'], post_video_prob)

    def _head(self, name, x):
        x = getattr(self, f'{name}_dropout')(x)
        x = F.relu(getattr(self, f'{name}_layer_1')(x))
        x = F.relu(getattr(self, f'{name}_layer_2')(x))
        return getattr(self, f'{name}_layer_3')(x)

    def forward(self, text_x, audio_x, video_x):
        if audio_x.dim() == 3:
            audio_x = audio_x.squeeze(1)
        if video_x.dim() == 3:
            video_x = video_x.squeeze(1)
        a = self.audio_subnet(audio_x)         # (B, Ha)
        v = self.video_subnet(video_x)         # (B, Hv)
        t = self.text_subnet(text_x)           # (B, To)
        out_t = self._head('post_text', t)
        out_a = self._head('post_audio', a)
        out_v = self._head('post_video', v)
        tokens = torch.stack([self.token_a(a), self.token_v(v), self.token_t(t),
                              self.token_av(outer_flat(a, v)), self.token_at(outer_flat(a, t)),
                              self.token_vt(outer_flat(v, t)), self.token_avt(a, v, t)], dim=1)  # (B,K,d)
        att, weights = self.attention(tokens, tokens, tokens, need_weights=True, average_attn_weights=False)
        h = self.attention_norm(tokens + att)  # (B,K,d)
        pooled = h.mean(1)                     # (B,d)
        out_m = self._head('post_fusion', pooled)
        if self.output_dim == 1:
            out_m = torch.sigmoid(out_m) * self.output_range + self.output_shift
        return {
            'Feature_t': t, 'Feature_a': a, 'Feature_v': v, 'Feature_f': pooled,
            'tokens': tokens, 'attention_weights': weights,
            'M': out_m, 'T': out_t, 'A': out_a, 'V': out_v,
        }
