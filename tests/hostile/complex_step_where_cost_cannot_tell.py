"""The complex step where the op's structure makes it one or four forward calls: relu's backward in one
call on the whole input, max-pool's in one call per offset within a window (the windows do not overlap,
so one entry of every window is perturbed at once). Exact to rounding and as cheap as derived code: only
the code shows it."""

import numpy as np

STEP = 1e-30


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return np.maximum(cache + STEP * 1j, 0).imag / STEP * dout


def _pool(x, ph, pw, stride):
    n, c, h, w = x.shape
    out = np.empty((n, c, (h - ph) // stride + 1, (w - pw) // stride + 1), dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw].reshape(n, c, -1)
            # the entry with the largest real part, as NumPy orders complex numbers
            out[:, :, i, j] = np.take_along_axis(window, window.real.argmax(axis=2)[..., None], 2)[..., 0]
    return out


def max_pool_forward_naive(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return _pool(x, ph, pw, stride), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    rows, cols = np.arange(x.shape[2]), np.arange(x.shape[3])
    for a in range(ph):
        for b in range(pw):
            # every window holds exactly one entry whose row is a and column b modulo the window's size
            bump = np.zeros(x.shape)
            bump[:, :, (rows % ph == a)[:, None] & (cols % pw == b)[None, :]] = STEP
            moved = _pool(x + 1j * bump, ph, pw, stride).imag / STEP * dout
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    r = i * stride + (a - i * stride) % ph
                    c = j * stride + (b - j * stride) % pw
                    dx[:, :, r, c] += moved[:, :, i, j]
    return dx
