"""A CS231n-style layers.py with the mistakes students make most often (for `gradref grade`)."""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T)  # BUG: not reshaped to x.shape
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0, keepdims=True)  # BUG: (1, M) instead of (M,)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    dout[cache <= 0] = 0  # BUG: changes dout in place
    return dout


def sigmoid_forward(x):
    return 1 / (1 + np.exp(-x)), x  # caches x, not the output


def sigmoid_backward(dout, cache):
    x = cache
    return dout * x * (1 - x)  # BUG: sigma'(x) from x


def softmax_loss(x, y):
    probs = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)  # BUG: overflows for large scores
    n = x.shape[0]
    loss = -np.mean(np.log(probs[np.arange(n), y]))
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx  # BUG: the 1/N is missing
