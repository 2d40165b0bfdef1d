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


class ThreeLayerConvNet(object):
    """conv - relu - 2x2 max pool - linear - relu - linear - softmax; L2 regularization without 0.5."""

    def __init__(
        self,
        input_dims=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=torch.float,
        device="cpu",
    ):
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dims
        self.params["W1"] = weight_scale * torch.randn(num_filters, C, filter_size, filter_size, dtype=dtype, device=device)
        self.params["b1"] = torch.zeros(num_filters, dtype=dtype, device=device)
        flat = num_filters * (H // 2) * (W // 2)
        self.params["W2"] = weight_scale * torch.randn(flat, hidden_dim, dtype=dtype, device=device)
        self.params["b2"] = torch.zeros(hidden_dim, dtype=dtype, device=device)
        self.params["W3"] = weight_scale * torch.randn(hidden_dim, num_classes, dtype=dtype, device=device)
        self.params["b3"] = torch.zeros(num_classes, dtype=dtype, device=device)

    def loss(self, X, y=None):
        X = X.to(self.dtype)
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        conv, conv_cache = Conv.forward(X, W1, b1, conv_param)
        relu1, relu1_cache = ReLU.forward(conv)
        pooled, pool_cache = MaxPool.forward(relu1, pool_param)
        hidden, hidden_cache = Linear.forward(pooled, W2, b2)
        relu2, relu2_cache = ReLU.forward(hidden)
        scores, scores_cache = Linear.forward(relu2, W3, b3)
        if y is None:
            return scores
        shifted = scores - scores.max(dim=1, keepdim=True).values
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        N = X.shape[0]
        loss = -log_probs[torch.arange(N), y].sum() / N
        loss = loss + self.reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2) + torch.sum(W3 * W3))
        dscores = log_probs.exp()
        dscores[torch.arange(N), y] -= 1
        dscores /= N
        grads = {}
        drelu2, grads["W3"], grads["b3"] = Linear.backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = Linear.backward(ReLU.backward(drelu2, relu2_cache), hidden_cache)
        drelu1 = MaxPool.backward(dpooled, pool_cache)
        _, grads["W1"], grads["b1"] = Conv.backward(ReLU.backward(drelu1, relu1_cache), conv_cache)
        for name in ("W1", "W2", "W3"):
            grads[name] += 2 * self.reg * self.params[name]
        return loss, grads


class DeepConvNet(object):
    """{conv - [spatial batchnorm] - relu - [pool]} x (L - 1) - linear; 3x3 convolutions with padding 1,
    2x2 max pools after the conv layers that max_pools names; L2 regularization without 0.5."""

    def __init__(
        self,
        input_dims=(3, 32, 32),
        num_filters=[8, 8, 8, 8, 8],
        max_pools=[0, 1, 2, 3, 4],
        batchnorm=False,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        weight_initializer=None,
        dtype=torch.float,
        device="cpu",
    ):
        self.params = {}
        self.num_layers = len(num_filters) + 1
        self.max_pools = max_pools
        self.batchnorm = batchnorm
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dims
        previous = C
        for i, filters in enumerate(num_filters):
            self.params["W%d" % (i + 1)] = weight_scale * torch.randn(filters, previous, 3, 3, dtype=dtype, device=device)
            self.params["b%d" % (i + 1)] = torch.zeros(filters, dtype=dtype, device=device)
            if batchnorm:
                self.params["gamma%d" % (i + 1)] = torch.ones(filters, dtype=dtype, device=device)
                self.params["beta%d" % (i + 1)] = torch.zeros(filters, dtype=dtype, device=device)
            previous = filters
            if i in max_pools:
                H, W = H // 2, W // 2
        L = self.num_layers
        self.params["W%d" % L] = weight_scale * torch.randn(previous * H * W, num_classes, dtype=dtype, device=device)
        self.params["b%d" % L] = torch.zeros(num_classes, dtype=dtype, device=device)
        self.bn_params = [{"mode": "train"} for _ in num_filters] if batchnorm else []

    def loss(self, X, y=None):
        X = X.to(self.dtype)
        for bn_param in self.bn_params:
            bn_param["mode"] = "test" if y is None else "train"
        conv_param = {"stride": 1, "pad": 1}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        caches = []
        out = X
        for i in range(self.num_layers - 1):
            out, conv_cache = Conv.forward(out, self.params["W%d" % (i + 1)], self.params["b%d" % (i + 1)], conv_param)
            bn_cache = None
            if self.batchnorm:
                gamma, beta = self.params["gamma%d" % (i + 1)], self.params["beta%d" % (i + 1)]
                out, bn_cache = SpatialBatchNorm.forward(out, gamma, beta, self.bn_params[i])
            out, relu_cache = ReLU.forward(out)
            pool_cache = None
            if i in self.max_pools:
                out, pool_cache = MaxPool.forward(out, pool_param)
            caches.append((conv_cache, bn_cache, relu_cache, pool_cache))
        L = self.num_layers
        scores, scores_cache = Linear.forward(out, self.params["W%d" % L], self.params["b%d" % L])
        if y is None:
            return scores
        shifted = scores - scores.max(dim=1, keepdim=True).values
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        N = X.shape[0]
        loss = -log_probs[torch.arange(N), y].sum() / N
        for i in range(1, L + 1):
            loss = loss + self.reg * torch.sum(self.params["W%d" % i] ** 2)
        dscores = log_probs.exp()
        dscores[torch.arange(N), y] -= 1
        dscores /= N
        grads = {}
        dout, grads["W%d" % L], grads["b%d" % L] = Linear.backward(dscores, scores_cache)
        for i in reversed(range(L - 1)):
            conv_cache, bn_cache, relu_cache, pool_cache = caches[i]
            if pool_cache is not None:
                dout = MaxPool.backward(dout, pool_cache)
            dout = ReLU.backward(dout, relu_cache)
            if bn_cache is not None:
                dout, grads["gamma%d" % (i + 1)], grads["beta%d" % (i + 1)] = SpatialBatchNorm.backward(dout, bn_cache)
            dout, grads["W%d" % (i + 1)], grads["b%d" % (i + 1)] = Conv.backward(dout, conv_cache)
        for i in range(1, L + 1):
            grads["W%d" % i] += 2 * self.reg * self.params["W%d" % i]
        return loss, grads
