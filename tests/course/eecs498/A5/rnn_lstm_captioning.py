"""EECS 498-007 captioning (2022 edition's file name): the vanilla RNN by hand, in the course's style
(written for gradref's tests), and two of the parts the course builds on autograd (their forward is
graded): temporal_softmax_loss with ignore_index, dot_product_attention, WordEmbedding, LSTM.step_forward
(2022) and lstm_step_forward (2020's function)."""
import math

import torch
from torch import nn


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = torch.tanh(x.mm(Wx) + prev_h.mm(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h**2)
    dx = dz.mm(Wx.t())
    dprev_h = dz.mm(Wh.t())
    dWx = x.t().mm(dz)
    dWh = prev_h.t().mm(dz)
    db = dz.sum(dim=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = torch.zeros((N, T, h0.shape[1]), dtype=x.dtype, device=x.device)
    caches, prev_h = [], h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = torch.zeros((N, T, D), dtype=dh.dtype, device=dh.device)
    dWx = torch.zeros((D, H), dtype=dh.dtype, device=dh.device)
    dWh = torch.zeros((H, H), dtype=dh.dtype, device=dh.device)
    db = torch.zeros(H, dtype=dh.dtype, device=dh.device)
    dprev = torch.zeros((N, H), dtype=dh.dtype, device=dh.device)
    for t in reversed(range(T)):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev, dWx, dWh, db


def temporal_softmax_loss(x, y, ignore_index=None):
    loss = torch.nn.functional.cross_entropy(
        x.reshape(-1, x.shape[2]), y.reshape(-1), ignore_index=ignore_index, reduction="sum"
    )
    return loss / x.shape[0]


def dot_product_attention(prev_h, A):
    N, H, D_a, _ = A.shape
    A_flat = A.reshape(N, H, -1)
    scores = torch.bmm(prev_h.unsqueeze(1), A_flat).squeeze(1) / H**0.5
    attn_weights = torch.softmax(scores, dim=1)
    attn = torch.bmm(A_flat, attn_weights.unsqueeze(2)).squeeze(2)
    return attn, attn_weights.reshape(N, D_a, D_a)


class WordEmbedding(nn.Module):
    def __init__(self, vocab_size, embed_size, device="cpu", dtype=torch.float32):
        super().__init__()
        self.W_embed = nn.Parameter(
            torch.randn(vocab_size, embed_size, device=device, dtype=dtype).div(math.sqrt(vocab_size))
        )

    def forward(self, x):
        return self.W_embed[x]


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.mm(Wx) + prev_h.mm(Wh) + b
    i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H : 2 * H]), torch.sigmoid(a[:, 2 * H : 3 * H])
    g = torch.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    next_h = o * torch.tanh(next_c)
    return next_h, next_c


class LSTM(nn.Module):
    def __init__(self, input_dim, hidden_dim):
        super().__init__()
        self.Wx = nn.Parameter(torch.randn(input_dim, hidden_dim * 4).div(math.sqrt(input_dim)))
        self.Wh = nn.Parameter(torch.randn(hidden_dim, hidden_dim * 4).div(math.sqrt(hidden_dim)))
        self.b = nn.Parameter(torch.zeros(hidden_dim * 4))

    def step_forward(self, x, prev_h, prev_c):
        return lstm_step_forward(x, prev_h, prev_c, self.Wx, self.Wh, self.b)
