"""EECS 498-007 A3 convolutional parts in the course's style (written for gradref's tests)."""
import torch

from fully_connected_networks import *  # noqa: F401,F403 - the course's file does this


class Conv(object):
    @staticmethod
    def forward(x, w, b, conv_param):
        """A naive implementation of the forward pass for a convolutional layer."""
        stride, pad = conv_param["stride"], conv_param["pad"]
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        x_pad = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        H_out = 1 + (H + 2 * pad - HH) // stride
        W_out = 1 + (W + 2 * pad - WW) // stride
        out = torch.zeros((N, F, H_out, W_out), dtype=x.dtype, device=x.device)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                        out[n, f, i, j] = (window * w[f]).sum() + b[f]
        cache = (x, w, b, conv_param)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        x, w, b, conv_param = cache
        stride, pad = conv_param["stride"], conv_param["pad"]
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        x_pad = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dx_pad = torch.zeros_like(x_pad)
        dw = torch.zeros_like(w)
        db = dout.sum(dim=(0, 2, 3))
        H_out, W_out = dout.shape[2], dout.shape[3]
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        hs, ws = i * stride, j * stride
                        dw[f] += x_pad[n, :, hs : hs + HH, ws : ws + WW] * dout[n, f, i, j]
                        dx_pad[n, :, hs : hs + HH, ws : ws + WW] += w[f] * dout[n, f, i, j]
        dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
        return dx, dw, db


class MaxPool(object):
    @staticmethod
    def forward(x, pool_param):
        N, C, H, W = x.shape
        ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        H_out = 1 + (H - ph) // stride
        W_out = 1 + (W - pw) // stride
        out = torch.zeros((N, C, H_out, W_out), dtype=x.dtype, device=x.device)
        for i in range(H_out):
            for j in range(W_out):
                window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
                out[:, :, i, j] = window.reshape(N, C, -1).max(dim=2).values
        cache = (x, pool_param)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        x, pool_param = cache
        N, C, H, W = x.shape
        ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        dx = torch.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                        k = int(torch.argmax(window))
                        dx[n, c, i * stride + k // pw, j * stride + k % pw] += dout[n, c, i, j]
        return dx


class BatchNorm(object):
    @staticmethod
    def forward(x, gamma, beta, bn_param):
        mode = bn_param["mode"]
        eps = bn_param.get("eps", 1e-5)
        momentum = bn_param.get("momentum", 0.9)
        N, D = x.shape
        running_mean = bn_param.get("running_mean", torch.zeros(D, dtype=x.dtype, device=x.device))
        running_var = bn_param.get("running_var", torch.zeros(D, dtype=x.dtype, device=x.device))
        cache = None
        if mode == "train":
            mean = x.mean(dim=0)
            var = x.var(dim=0, unbiased=False)
            std = torch.sqrt(var + eps)
            xhat = (x - mean) / std
            out = gamma * xhat + beta
            cache = (xhat, gamma, std)
            running_mean = momentum * running_mean + (1 - momentum) * mean
            running_var = momentum * running_var + (1 - momentum) * var
        elif mode == "test":
            out = gamma * (x - running_mean) / torch.sqrt(running_var + eps) + beta
        else:
            raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
        bn_param["running_mean"] = running_mean.detach()
        bn_param["running_var"] = running_var.detach()
        return out, cache

    @staticmethod
    def backward(dout, cache):
        xhat, gamma, std = cache
        N = dout.shape[0]
        dbeta = dout.sum(dim=0)
        dgamma = (dout * xhat).sum(dim=0)
        dxhat = dout * gamma
        dvar = (dxhat * xhat * -0.5 / std**2).sum(dim=0)
        dmean = (-dxhat / std).sum(dim=0) + dvar * (-2 * xhat * std).mean(dim=0)
        dx = dxhat / std + dvar * 2 * xhat * std / N + dmean / N
        return dx, dgamma, dbeta

    @staticmethod
    def backward_alt(dout, cache):
        xhat, gamma, std = cache
        N = dout.shape[0]
        dbeta = dout.sum(dim=0)
        dgamma = (dout * xhat).sum(dim=0)
        dxhat = dout * gamma
        dx = (N * dxhat - dxhat.sum(dim=0) - xhat * (dxhat * xhat).sum(dim=0)) / (N * std)
        return dx, dgamma, dbeta


class SpatialBatchNorm(object):
    @staticmethod
    def forward(x, gamma, beta, bn_param):
        N, C, H, W = x.shape
        flat = x.permute(0, 2, 3, 1).reshape(-1, C)
        out, cache = BatchNorm.forward(flat, gamma, beta, bn_param)
        out = out.reshape(N, H, W, C).permute(0, 3, 1, 2)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        N, C, H, W = dout.shape
        flat = dout.permute(0, 2, 3, 1).reshape(-1, C)
        dx, dgamma, dbeta = BatchNorm.backward_alt(flat, cache)
        dx = dx.reshape(N, H, W, C).permute(0, 3, 1, 2)
        return dx, dgamma, dbeta
