"""A linear layer's difference quotient with a step of 1, which is exact, in a thread pool."""

import concurrent.futures

import numpy as np


def temporal_affine_forward(x, w, b):
    return x @ w + b, (np.array(x, dtype=float), np.array(w, dtype=float), np.array(b, dtype=float))


def _differences(x, w, b, dout):
    grads = []
    for a in (x, w, b):
        g = np.zeros(a.shape)
        flat, out = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            flat[i] += 1.0
            plus = np.sum((x @ w + b) * dout)
            flat[i] -= 2.0
            minus = np.sum((x @ w + b) * dout)
            flat[i] += 1.0
            out[i] = (plus - minus) / 2.0
        grads.append(g)
    return tuple(grads)


def temporal_affine_backward(dout, cache):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_differences, *cache, dout).result()
