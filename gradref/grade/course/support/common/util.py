"""The textbook's common.util: im2col and col2im, one row per receptive field."""

import numpy as np


def _out_size(size, field, stride, pad):
    return (size + 2 * pad - field) // stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N * out_h * out_w, C * filter_h * filter_w): each field of input_data (N, C, H, W) as a row."""
    N, C, H, W = input_data.shape
    out_h, out_w = _out_size(H, filter_h, stride, pad), _out_size(W, filter_w, stride, pad)
    padded = np.pad(input_data, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (filter_h, filter_w), axis=(2, 3))
    windows = windows[:, :, : stride * out_h : stride, : stride * out_w : stride]  # (N, C, out_h, out_w, fh, fw)
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col: rows added back into an array of input_shape."""
    N, C, H, W = input_shape
    out_h, out_w = _out_size(H, filter_h, stride, pad), _out_size(W, filter_w, stride, pad)
    fields = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for y in range(filter_h):
        for x in range(filter_w):
            padded[:, :, y : y + stride * out_h : stride, x : x + stride * out_w : stride] += fields[:, :, y, x]
    return padded[:, :, pad : pad + H, pad : pad + W]
