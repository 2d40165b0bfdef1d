"""A numerical gradient in one forward call: every perturbed input stacked along a new axis, so that
the forward is called once (its dgamma and dbeta are derived)."""

import numpy as np


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    c = x.shape[1]
    if bn_param["mode"] == "test":
        mean = bn_param.get("running_mean", np.zeros(c)).reshape(1, -1, 1, 1)
        var = bn_param.get("running_var", np.zeros(c)).reshape(1, -1, 1, 1)
        return gamma.reshape(1, -1, 1, 1) * (x - mean) / np.sqrt(var + eps) + beta.reshape(1, -1, 1, 1), None
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    for key, value in (("running_mean", mean), ("running_var", var)):
        bn_param[key] = momentum * bn_param.get(key, np.zeros(c)) + (1 - momentum) * value.reshape(-1)
    out = gamma.reshape(1, -1, 1, 1) * (x - mean) / np.sqrt(var + eps) + beta.reshape(1, -1, 1, 1)
    return out, (np.array(x, dtype=float), np.array(gamma, dtype=float), np.array(beta, dtype=float), eps)


def _stacked(xs, gamma, beta, eps):
    mean, var = xs.mean(axis=(1, 3, 4), keepdims=True), xs.var(axis=(1, 3, 4), keepdims=True)
    return gamma.reshape(1, 1, -1, 1, 1) * (xs - mean) / np.sqrt(var + eps) + beta.reshape(1, 1, -1, 1, 1)


def spatial_batchnorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    h, n = 1e-6, x.size
    steps = np.eye(n).reshape((n,) + x.shape) * h
    plus = np.sum(_stacked(x + steps, gamma, beta, eps) * dout, axis=(1, 2, 3, 4))
    minus = np.sum(_stacked(x - steps, gamma, beta, eps) * dout, axis=(1, 2, 3, 4))
    dx = ((plus - minus) / (2 * h)).reshape(x.shape)
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * (x - mean) / np.sqrt(var + eps), axis=(0, 2, 3))
    return dx, dgamma, dout.sum(axis=(0, 2, 3))
