"""The slowest honest styles a class writes: every layer derived by hand with explicit Python loops
(one row, one feature, one window, one time step at a time). Correct code; what the cost check's
limit must let through (bench/cost.py)."""

import numpy as np


def affine_forward(x, w, b):
    rows = x.reshape(x.shape[0], -1)
    out = np.zeros((x.shape[0], w.shape[1]))
    for i in range(rows.shape[0]):
        out[i] = rows[i] @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    rows = x.reshape(x.shape[0], -1)
    dx, dw, db = np.zeros_like(rows), np.zeros_like(w), np.zeros_like(b)
    for i in range(rows.shape[0]):
        dx[i] = w @ dout[i]
        dw += np.outer(rows[i], dout[i])
        db += dout[i]
    return dx.reshape(x.shape), dw, db


def softmax_loss(x, y):
    n = x.shape[0]
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(n):
        scores = x[i] - np.max(x[i])
        probs = np.exp(scores) / np.sum(np.exp(scores))
        loss -= np.log(probs[y[i]])
        for j in range(x.shape[1]):
            dx[i, j] = probs[j] - (j == y[i])
    return loss / n, dx / n


def svm_loss(x, y):
    n, classes = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(n):
        correct = x[i, y[i]]
        for j in range(classes):
            if j == y[i]:
                continue
            margin = x[i, j] - correct + 1.0
            if margin > 0:
                loss += margin
                dx[i, j] += 1.0
                dx[i, y[i]] -= 1.0
    return loss / n, dx / n


def batchnorm_forward(x, gamma, beta, bn_param):
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    n, d = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.zeros(d))
    out, cache = np.zeros_like(x), []
    for j in range(d):
        column = x[:, j]
        if mode == "train":
            mean = np.sum(column) / n
            var = np.sum((column - mean) ** 2) / n
            running_mean[j] = momentum * running_mean[j] + (1 - momentum) * mean
            running_var[j] = momentum * running_var[j] + (1 - momentum) * var
        else:
            mean, var = running_mean[j], running_var[j]
        xhat = (column - mean) / np.sqrt(var + eps)
        out[:, j] = gamma[j] * xhat + beta[j]
        cache.append((xhat, np.sqrt(var + eps)))
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, (cache, gamma)


def batchnorm_backward(dout, cache):
    columns, gamma = cache
    n, d = dout.shape
    dx, dgamma, dbeta = np.zeros_like(dout), np.zeros(d), np.zeros(d)
    for j in range(d):
        xhat, std = columns[j]
        dgamma[j] = np.sum(dout[:, j] * xhat)
        dbeta[j] = np.sum(dout[:, j])
        dxhat = dout[:, j] * gamma[j]
        dx[:, j] = (n * dxhat - np.sum(dxhat) - xhat * np.sum(dxhat * xhat)) / (n * std)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    return batchnorm_backward(dout, cache)


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    out, cache = np.zeros_like(x), []
    for i in range(x.shape[0]):
        mean = np.mean(x[i])
        std = np.sqrt(np.mean((x[i] - mean) ** 2) + eps)
        xhat = (x[i] - mean) / std
        out[i] = gamma * xhat + beta
        cache.append((xhat, std))
    return out, (cache, gamma)


def layernorm_backward(dout, cache):
    rows, gamma = cache
    d = dout.shape[1]
    dx, dgamma, dbeta = np.zeros_like(dout), np.zeros(d), np.zeros(d)
    for i in range(dout.shape[0]):
        xhat, std = rows[i]
        dgamma += dout[i] * xhat
        dbeta += dout[i]
        dxhat = dout[i] * gamma
        dx[i] = (d * dxhat - np.sum(dxhat) - xhat * np.sum(dxhat * xhat)) / (d * std)
    return dx, dgamma, dbeta


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n_images, _, height, width = x.shape
    filters, _, hh, ww = w.shape
    ho, wo = 1 + (height + 2 * pad - hh) // stride, 1 + (width + 2 * pad - ww) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n_images, filters, ho, wo))
    for n in range(n_images):
        for f in range(filters):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros_like(b)
    n_images, filters, ho, wo = dout.shape
    for n in range(n_images):
        for f in range(filters):
            db[f] += np.sum(dout[n, f])
            for i in range(ho):
                for j in range(wo):
                    rows, cols = slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)
                    dw[f] += xp[n, :, rows, cols] * dout[n, f, i, j]
                    dxp[n, :, rows, cols] += w[f] * dout[n, f, i, j]
    return dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]], dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n_images, channels, height, width = x.shape
    ho, wo = 1 + (height - ph) // s, 1 + (width - pw) // s
    out = np.zeros((n_images, channels, ho, wo))
    for n in range(n_images):
        for c in range(channels):
            for i in range(ho):
                for j in range(wo):
                    out[n, c, i, j] = np.max(x[n, c, i * s : i * s + ph, j * s : j * s + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    n_images, channels, ho, wo = dout.shape
    for n in range(n_images):
        for c in range(channels):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
    return dx


def word_embedding_forward(x, W):
    out = np.zeros(x.shape + (W.shape[1],))
    for n in range(x.shape[0]):
        for t in range(x.shape[1]):
            out[n, t] = W[x[n, t]]
    return out, (x, W.shape)


def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    for n in range(x.shape[0]):
        for t in range(x.shape[1]):
            dW[x[n, t]] += dout[n, t]
    return dW


def temporal_affine_forward(x, w, b):
    out = np.zeros(x.shape[:2] + (w.shape[1],))
    for t in range(x.shape[1]):
        out[:, t] = x[:, t] @ w + b
    return out, (x, w, b)


def temporal_affine_backward(dout, cache):
    x, w, b = cache
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    for t in range(x.shape[1]):
        dx[:, t] = dout[:, t] @ w.T
        dw += x[:, t].T @ dout[:, t]
        db += dout[:, t].sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    n, steps, _ = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(n):
        for t in range(steps):
            if not mask[i, t]:
                continue
            scores = x[i, t] - np.max(x[i, t])
            probs = np.exp(scores) / np.sum(np.exp(scores))
            loss -= np.log(probs[y[i, t]])
            probs[y[i, t]] -= 1.0
            dx[i, t] = probs
    return loss / n, dx / n
