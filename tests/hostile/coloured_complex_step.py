"""A numerical gradient that exploits structure: batchnorm's columns are independent, so one complex
step on a whole row (every column at once) gives that row of dx exactly, in one forward call per row;
dgamma and dbeta take one call each. Exact to rounding and few calls on a small sample, so nothing but
its cost on many rows tells it from derived code."""

import numpy as np

STEP = 1e-30


def _normalise(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    centred = x - mean
    return gamma * centred / np.sqrt((centred * centred).mean(axis=0) + eps) + beta


def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    width = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(width))
    running_var = bn_param.get("running_var", np.zeros(width))
    if bn_param["mode"] == "test":
        return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta, None
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * x.mean(axis=0)
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * x.var(axis=0)
    return _normalise(x, gamma, beta, eps), (x, gamma, beta, eps)


def batchnorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    dx = np.empty(x.shape)
    for row in range(x.shape[0]):
        bumped = x.astype(complex)
        bumped[row] += STEP * 1j
        dx[row] = (_normalise(bumped, gamma, beta, eps).imag * dout).sum(axis=0) / STEP
    dgamma = (_normalise(x, gamma + STEP * 1j, beta, eps).imag * dout).sum(axis=0) / STEP
    dbeta = (_normalise(x, gamma, beta + STEP * 1j, eps).imag * dout).sum(axis=0) / STEP
    return dx, dgamma, dbeta
