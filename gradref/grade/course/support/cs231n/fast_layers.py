"""Fast convolution and max pooling in the CS231n convention, on im2col.

The assignment ships these for the composites (conv_relu_forward, ...) and asks for the naive layers
by hand: called from inside a function named `*_naive`, they refuse, naming the rule, unless the
assignment allows it (`allow_fast_layers`), in which case they serve and the grader notes it.
"""

import functools
import os
import sys

import numpy as np

from .im2col import col2im_indices, im2col_indices


class NaiveLayerRule(RuntimeError):
    """A naive layer handed its work to the course's fast layers."""


USED = []  # the *_naive functions these served, where the assignment allows it (the grader notes them)


def _not_inside_a_naive_layer(fast):
    @functools.wraps(fast)
    def guarded(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name.endswith("_naive") and os.environ.get("GRADREF_FAST_LAYERS") == "allowed":
                if frame.f_code.co_name not in USED:
                    USED.append(frame.f_code.co_name)
                break
            if frame.f_code.co_name.endswith("_naive"):
                raise NaiveLayerRule(
                    f"{frame.f_code.co_name} calls cs231n.fast_layers.{fast.__name__}: the naive layer must "
                    "compute it itself (the fast layers are the course's, for the composites)"
                )
            frame = frame.f_back
        return fast(*args, **kwargs)

    return guarded


@_not_inside_a_naive_layer
def conv_forward_fast(x, w, b, conv_param):
    """out (N, F, H', W') and a cache, for x (N, C, H, W), w (F, C, HH, WW), b (F,)."""
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    out_h, out_w = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    cols = im2col_indices(x, HH, WW, pad, stride)
    res = w.reshape(F, -1) @ cols + b.reshape(-1, 1)
    out = res.reshape(F, out_h, out_w, N).transpose(3, 0, 1, 2)
    return out, (x, w, b, conv_param, cols)


@_not_inside_a_naive_layer
def conv_backward_fast(dout, cache):
    """dx, dw, db for the cache of conv_forward_fast."""
    x, w, b, conv_param, cols = cache
    F, _, HH, WW = w.shape
    db = dout.sum(axis=(0, 2, 3))
    dout_cols = dout.transpose(1, 2, 3, 0).reshape(F, -1)
    dw = (dout_cols @ cols.T).reshape(w.shape)
    dx = col2im_indices(w.reshape(F, -1).T @ dout_cols, x.shape, HH, WW, conv_param["pad"], conv_param["stride"])
    return dx, dw, db


conv_forward_im2col, conv_backward_im2col = conv_forward_fast, conv_backward_fast
conv_forward_strides, conv_backward_strides = conv_forward_fast, conv_backward_fast


@_not_inside_a_naive_layer
def max_pool_forward_fast(x, pool_param):
    """out (N, C, H', W') and a cache: the maximum of each pooling window."""
    N, C, H, W = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out_h, out_w = (H - ph) // stride + 1, (W - pw) // stride + 1
    cols = im2col_indices(x.reshape(N * C, 1, H, W), ph, pw, padding=0, stride=stride)
    argmax = np.argmax(cols, axis=0)
    out = cols[argmax, np.arange(argmax.size)].reshape(out_h, out_w, N, C).transpose(2, 3, 0, 1)
    return out, (x, pool_param, cols, argmax)


@_not_inside_a_naive_layer
def max_pool_backward_fast(dout, cache):
    """dx: each window's upstream gradient to its maximum (added up where windows overlap)."""
    x, pool_param, cols, argmax = cache
    N, C, H, W = x.shape
    dcols = np.zeros_like(cols)
    dcols[argmax, np.arange(argmax.size)] = dout.transpose(2, 3, 0, 1).ravel()
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return col2im_indices(dcols, (N * C, 1, H, W), ph, pw, padding=0, stride=stride).reshape(x.shape)


max_pool_forward_im2col, max_pool_backward_im2col = max_pool_forward_fast, max_pool_backward_fast
