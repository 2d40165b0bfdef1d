"""Normalisation layers in the CS231n convention, and the composites built on them.

Parameter dicts follow the course: bn_param = {"mode": "train"|"test", "eps", "momentum",
"running_mean", "running_var"}; a train-mode forward stores the updated running statistics in
bn_param (the one write these functions make into an argument, as the course specifies).
"""

from ._xp import namespace, permute
from .layers import affine_backward, affine_forward, relu_backward, relu_forward

# ----- batch normalisation: x (N, D), gamma and beta (D,) -----


def batchnorm_forward(x, gamma, beta, bn_param):
    """Train mode normalises with the batch statistics and updates the running ones; test mode uses them."""
    xp = namespace(x)
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", xp.zeros(d, dtype=x.dtype))
    running_var = bn_param.get("running_var", xp.zeros(d, dtype=x.dtype))
    if mode == "train":
        mean = xp.mean(x, axis=0)
        centred = x - mean[None, :]
        var = xp.mean(centred * centred, axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        centred, var = x - running_mean[None, :], running_var
    else:
        raise ValueError(f"invalid batchnorm mode {mode!r}")
    std = xp.sqrt(var + eps)
    xhat = centred / std[None, :]
    out = gamma[None, :] * xhat + beta[None, :]
    return out, (mode, centred, std, xhat, gamma)


def batchnorm_backward(dout, cache):
    """(dx, dgamma, dbeta), stage by stage through the graph of the forward pass."""
    xp = namespace(dout)
    mode, centred, std, xhat, gamma = cache
    dbeta = xp.sum(dout, axis=0)
    dgamma = xp.sum(dout * xhat, axis=0)
    dxhat = dout * gamma[None, :]
    if mode == "test":
        return dxhat / std[None, :], dgamma, dbeta
    n = dout.shape[0]
    dinvstd = xp.sum(dxhat * centred, axis=0)  # xhat = centred * invstd
    dcentred = dxhat / std[None, :]
    dvar = -0.5 * dinvstd / (std * std * std)  # invstd = (var + eps)^(-1/2)
    dcentred = dcentred + (2 / n) * centred * dvar[None, :]  # var = mean(centred^2): a fork
    dmean = -xp.sum(dcentred, axis=0)  # centred = x - mean
    return dcentred + dmean[None, :] / n, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradients from the simplified closed form dx = gamma/(N std) (N dxhat' - ...)."""
    xp = namespace(dout)
    mode, _, std, xhat, gamma = cache
    dbeta = xp.sum(dout, axis=0)
    dgamma = xp.sum(dout * xhat, axis=0)
    if mode == "test":
        return dout * (gamma / std)[None, :], dgamma, dbeta
    n = dout.shape[0]
    dx = (gamma / (n * std))[None, :] * (n * dout - dbeta[None, :] - xhat * dgamma[None, :])
    return dx, dgamma, dbeta


# ----- layer normalisation: per sample, over the D features -----


def _normalise_rows(x, eps):
    xp = namespace(x)
    mean = xp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    std = xp.sqrt(xp.mean(centred * centred, axis=-1, keepdims=True) + eps)
    return centred / std, std


def _normalised_rows_backward(dxhat, xhat, std):
    """dx for xhat = (x - mean) / std over the last axis."""
    xp = namespace(dxhat)
    m = dxhat.shape[-1]
    return (m * dxhat - xp.sum(dxhat, axis=-1, keepdims=True) - xhat * xp.sum(dxhat * xhat, axis=-1, keepdims=True)) / (
        m * std
    )


def layernorm_forward(x, gamma, beta, ln_param):
    """x (N, D): each row normalised over its D features; the same in train and test."""
    xhat, std = _normalise_rows(x, ln_param.get("eps", 1e-5))
    return gamma[None, :] * xhat + beta[None, :], (xhat, std, gamma)


def layernorm_backward(dout, cache):
    """(dx, dgamma, dbeta)."""
    xp = namespace(dout)
    xhat, std, gamma = cache
    dx = _normalised_rows_backward(dout * gamma[None, :], xhat, std)
    return dx, xp.sum(dout * xhat, axis=0), xp.sum(dout, axis=0)


# ----- spatial versions: x (N, C, H, W) -----


def _channels_last(x):
    n, c, h, w = x.shape
    return namespace(x).reshape(permute(x, (0, 2, 3, 1)), (n * h * w, c))


def _channels_first(y, shape):
    n, c, h, w = shape
    return permute(namespace(y).reshape(y, (n, h, w, c)), (0, 3, 1, 2))


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation per channel over N, H and W; gamma and beta (C,)."""
    out, cache = batchnorm_forward(_channels_last(x), gamma, beta, bn_param)
    return _channels_first(out, x.shape), (cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    bn_cache, shape = cache
    dx, dgamma, dbeta = batchnorm_backward_alt(_channels_last(dout), bn_cache)
    return _channels_first(dx, shape), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Normalise each of G channel groups per sample; gamma and beta (1, C, 1, 1) or (C,)."""
    xp = namespace(x)
    n, c, h, w = x.shape
    xhat, std = _normalise_rows(xp.reshape(x, (n, G, (c // G) * h * w)), gn_param.get("eps", 1e-5))
    xhat = xp.reshape(xhat, x.shape)
    g, b = xp.reshape(gamma, (1, c, 1, 1)), xp.reshape(beta, (1, c, 1, 1))
    return g * xhat + b, (xhat, std, g, G, tuple(gamma.shape))


def spatial_groupnorm_backward(dout, cache):
    """(dx, dgamma, dbeta) with dgamma and dbeta in gamma's own shape."""
    xp = namespace(dout)
    xhat, std, gamma, G, param_shape = cache
    n = dout.shape[0]
    grouped = (n, G, -1)
    dx = _normalised_rows_backward(xp.reshape(dout * gamma, grouped), xp.reshape(xhat, grouped), std)
    dgamma = xp.reshape(xp.sum(dout * xhat, axis=(0, 2, 3)), param_shape)
    dbeta = xp.reshape(xp.sum(dout, axis=(0, 2, 3)), param_shape)
    return xp.reshape(dx, dout.shape), dgamma, dbeta


# ----- composites -----


def _affine_norm_relu_forward(norm_forward, x, w, b, gamma, beta, norm_param):
    a, fc_cache = affine_forward(x, w, b)
    normed, norm_cache = norm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(normed)
    return out, (fc_cache, norm_cache, relu_cache)


def _affine_norm_relu_backward(norm_backward, dout, cache):
    fc_cache, norm_cache, relu_cache = cache
    dnormed, dgamma, dbeta = norm_backward(relu_backward(dout, relu_cache), norm_cache)
    return affine_backward(dnormed, fc_cache) + (dgamma, dbeta)


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    """relu(batchnorm(affine(x)))."""
    return _affine_norm_relu_forward(batchnorm_forward, x, w, b, gamma, beta, bn_param)


def affine_bn_relu_backward(dout, cache):
    """(dx, dw, db, dgamma, dbeta)."""
    return _affine_norm_relu_backward(batchnorm_backward_alt, dout, cache)


def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param):
    """relu(layernorm(affine(x)))."""
    return _affine_norm_relu_forward(layernorm_forward, x, w, b, gamma, beta, ln_param)


def affine_ln_relu_backward(dout, cache):
    """(dx, dw, db, dgamma, dbeta)."""
    return _affine_norm_relu_backward(layernorm_backward, dout, cache)
