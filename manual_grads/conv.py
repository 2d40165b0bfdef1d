"""Convolution and max pooling, x (N, C, H, W), in the CS231n convention.

The naive versions loop over output positions, as the course writes them; the fast convolution loops
only over the filter's HH x WW offsets and does the rest as one matrix product (im2col). Both run on
NumPy, CuPy and torch (they write into arrays they created themselves, which jax arrays do not allow).
"""

from ._xp import astype, namespace, pad_spatial, permute
from .layers import relu_backward, relu_forward


def _out_size(size, kernel, stride, pad):
    span = size + 2 * pad - kernel
    if span < 0 or span % stride:
        raise ValueError(f"a {kernel}-wide window with stride {stride} and pad {pad} does not tile {size}")
    return 1 + span // stride


def _conv_geometry(x, w, conv_param):
    """(stride, pad, Ho, Wo) of convolving x (N, C, H, W) with w (F, C, HH, WW)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    (h, wd), (hh, ww) = x.shape[2:], w.shape[2:]
    return stride, pad, _out_size(h, hh, stride, pad), _out_size(wd, ww, stride, pad)


def conv_forward_naive(x, w, b, conv_param):
    """out[n, f, i, j] = sum over c, di, dj of xpad[n, c, i*s + di, j*s + dj] w[f, c, di, dj] + b[f]."""
    xp = namespace(x, w)
    stride, pad, ho, wo = _conv_geometry(x, w, conv_param)
    n, f, (hh, ww) = x.shape[0], w.shape[0], w.shape[2:]
    xpad = pad_spatial(x, pad)
    out = xp.zeros((n, f, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = xpad[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
            out[:, :, i, j] = xp.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b[None, :]
    return out, (x, w, conv_param)


def conv_backward_naive(dout, cache):
    """(dx, dw, db)."""
    xp = namespace(dout)
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, hh, ww = w.shape
    h, wd = x.shape[2:]
    xpad = pad_spatial(x, pad)
    dxpad = xp.zeros_like(xpad)
    dw = xp.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)
            d = dout[:, :, i, j]
            dw += xp.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))
            dxpad[:, :, rows, cols] += xp.tensordot(d, w, axes=([1], [0]))
    return dxpad[:, :, pad : pad + h, pad : pad + wd], dw, xp.sum(dout, axis=(0, 2, 3))


def _columns(xpad, hh, ww, stride, ho, wo):
    """(N, C*HH*WW, Ho*Wo): one column of inputs per output position."""
    xp = namespace(xpad)
    n, c = xpad.shape[:2]
    patches = [
        xpad[:, :, di : di + stride * ho : stride, dj : dj + stride * wo : stride]
        for di in range(hh)
        for dj in range(ww)
    ]
    stacked = xp.stack(patches, axis=2)  # (N, C, HH*WW, Ho, Wo)
    return xp.reshape(stacked, (n, c * hh * ww, ho * wo))


def conv_forward_fast(x, w, b, conv_param):
    """The same convolution as conv_forward_naive, as one product per batch (im2col)."""
    xp = namespace(x, w)
    stride, pad, ho, wo = _conv_geometry(x, w, conv_param)
    n, f, (hh, ww) = x.shape[0], w.shape[0], w.shape[2:]
    cols = _columns(pad_spatial(x, pad), hh, ww, stride, ho, wo)
    out = xp.matmul(xp.reshape(w, (f, -1))[None, :, :], cols) + b[None, :, None]
    return xp.reshape(out, (n, f, ho, wo)), (x, w, conv_param, cols)


def conv_backward_fast(dout, cache):
    """(dx, dw, db): dw from one product with the cached columns, dx scattered back per filter offset."""
    xp = namespace(dout)
    x, w, conv_param, cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    ho, wo = dout.shape[2:]
    d2 = xp.reshape(dout, (n, f, ho * wo))
    dw = xp.reshape(xp.sum(xp.matmul(d2, permute(cols, (0, 2, 1))), axis=0), w.shape)
    dcols = xp.reshape(xp.matmul(xp.reshape(w, (f, -1)).T[None, :, :], d2), (n, c, hh * ww, ho, wo))
    dxpad = xp.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=dout.dtype)
    for k, (di, dj) in enumerate((di, dj) for di in range(hh) for dj in range(ww)):
        dxpad[:, :, di : di + stride * ho : stride, dj : dj + stride * wo : stride] += dcols[:, :, k]
    return dxpad[:, :, pad : pad + h, pad : pad + wd], dw, xp.sum(dout, axis=(0, 2, 3))


def max_pool_forward_naive(x, pool_param):
    """Max over pool_height x pool_width windows moved by stride."""
    xp = namespace(x)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, wd = x.shape
    ho, wo = _out_size(h, ph, stride, 0), _out_size(wd, pw, stride, 0)
    out = xp.zeros((n, c, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = xp.max(x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw], axis=(2, 3))
    return out, (x, pool_param, out)


def max_pool_backward_naive(dout, cache):
    """The gradient goes to the window's maximum (to each of them at an exact tie)."""
    xp = namespace(dout)
    x, pool_param, out = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = xp.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
            is_max = astype(x[:, :, rows, cols] == out[:, :, i : i + 1, j : j + 1], dout.dtype)
            dx[:, :, rows, cols] += is_max * dout[:, :, i : i + 1, j : j + 1]
    return dx


def conv_relu_forward(x, w, b, conv_param):
    """relu(conv(x))."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """max_pool(relu(conv(x)))."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    r, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_naive(r, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    dr = max_pool_backward_naive(dout, pool_cache)
    return conv_backward_fast(relu_backward(dr, relu_cache), conv_cache)
