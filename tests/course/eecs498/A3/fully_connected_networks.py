"""EECS 498-007 A3 fully-connected parts in the course's style (written for gradref's tests)."""
import torch


def hello_fully_connected_networks():
    print("Hello from fully_connected_networks.py!")


class Linear(object):
    @staticmethod
    def forward(x, w, b):
        """Computes the forward pass for an linear (fully-connected) layer."""
        out = x.reshape(x.shape[0], -1).mm(w) + b
        cache = (x, w, b)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """Computes the backward pass for an linear layer."""
        x, w, b = cache
        dx = dout.mm(w.t()).reshape(x.shape)
        dw = x.reshape(x.shape[0], -1).t().mm(dout)
        db = dout.sum(dim=0)
        return dx, dw, db


class ReLU(object):
    @staticmethod
    def forward(x):
        """You should not change the input tensor with an in-place operation."""
        out = x.clone()
        out[out < 0] = 0
        cache = x
        return out, cache

    @staticmethod
    def backward(dout, cache):
        x = cache
        dx = dout * (x > 0)
        return dx


class Dropout(object):
    @staticmethod
    def forward(x, dropout_param):
        """dropout_param: p is the probability of dropping a neuron output."""
        p, mode = dropout_param["p"], dropout_param["mode"]
        if "seed" in dropout_param:
            torch.manual_seed(dropout_param["seed"])
        mask = None
        if mode == "train":
            mask = (torch.rand(x.shape, dtype=x.dtype, device=x.device) >= p) / (1 - p)
            out = x * mask
        else:
            out = x
        return out, (dropout_param, mask)

    @staticmethod
    def backward(dout, cache):
        dropout_param, mask = cache
        if dropout_param["mode"] == "train":
            return dout * mask
        return dout


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", torch.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", torch.zeros_like(w))
    config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw * dw
    next_w = w - config["learning_rate"] * dw / (torch.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", torch.zeros_like(w))
    config.setdefault("v", torch.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw * dw
    mt = config["m"] / (1 - config["beta1"] ** config["t"])
    vt = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * mt / (torch.sqrt(vt) + config["epsilon"])
    return next_w, config


class TwoLayerNet(object):
    def __init__(
        self,
        input_dim=3 * 32 * 32,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=torch.float32,
        device="cpu",
    ):
        """L2 regularization does not include a factor of 0.5."""
        self.params = {}
        self.reg = reg
        self.params["W1"] = weight_scale * torch.randn(input_dim, hidden_dim, dtype=dtype, device=device)
        self.params["b1"] = torch.zeros(hidden_dim, dtype=dtype, device=device)
        self.params["W2"] = weight_scale * torch.randn(hidden_dim, num_classes, dtype=dtype, device=device)
        self.params["b2"] = torch.zeros(num_classes, dtype=dtype, device=device)

    def loss(self, X, y=None):
        hidden, cache1 = Linear.forward(X, self.params["W1"], self.params["b1"])
        relu_out, cache_relu = ReLU.forward(hidden)
        scores, cache2 = Linear.forward(relu_out, self.params["W2"], self.params["b2"])
        if y is None:
            return scores
        shifted = scores - scores.max(dim=1, keepdim=True).values
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        N = X.shape[0]
        loss = -log_probs[torch.arange(N), y].sum() / N
        dscores = log_probs.exp()
        dscores[torch.arange(N), y] -= 1
        dscores /= N
        loss = loss + self.reg * (torch.sum(self.params["W1"] ** 2) + torch.sum(self.params["W2"] ** 2))
        grads = {}
        drelu, grads["W2"], grads["b2"] = Linear.backward(dscores, cache2)
        dhidden = ReLU.backward(drelu, cache_relu)
        _, grads["W1"], grads["b1"] = Linear.backward(dhidden, cache1)
        grads["W1"] += 2 * self.reg * self.params["W1"]
        grads["W2"] += 2 * self.reg * self.params["W2"]
        return loss, grads


class FullyConnectedNet(object):
    """{linear - relu - [dropout]} x (L - 1) - linear - softmax. L2 regularization includes a factor of 0.5."""

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout=0.0,
        reg=0.0,
        weight_scale=1e-2,
        seed=None,
        dtype=torch.float,
        device="cpu",
    ):
        self.use_dropout = dropout != 0
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = weight_scale * torch.randn(dims[i], dims[i + 1], dtype=dtype, device=device)
            self.params["b%d" % (i + 1)] = torch.zeros(dims[i + 1], dtype=dtype, device=device)
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed

    def loss(self, X, y=None):
        X = X.to(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        caches, out = [], X
        for i in range(1, self.num_layers):
            out, cache = Linear.forward(out, self.params["W%d" % i], self.params["b%d" % i])
            out, relu_cache = ReLU.forward(out)
            dropout_cache = None
            if self.use_dropout:
                out, dropout_cache = Dropout.forward(out, self.dropout_param)
            caches.append((cache, relu_cache, dropout_cache))
        L = self.num_layers
        scores, last = Linear.forward(out, self.params["W%d" % L], self.params["b%d" % L])
        if mode == "test":
            return scores
        shifted = scores - scores.max(dim=1, keepdim=True).values
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        N = X.shape[0]
        loss = -log_probs[torch.arange(N), y].sum() / N
        dscores = log_probs.exp()
        dscores[torch.arange(N), y] -= 1
        dscores /= N
        grads = {}
        for i in range(1, L + 1):
            loss = loss + 0.5 * self.reg * torch.sum(self.params["W%d" % i] ** 2)
        dout, grads["W%d" % L], grads["b%d" % L] = Linear.backward(dscores, last)
        for i in range(L - 1, 0, -1):
            cache, relu_cache, dropout_cache = caches[i - 1]
            if self.use_dropout:
                dout = Dropout.backward(dout, dropout_cache)
            dout = ReLU.backward(dout, relu_cache)
            dout, grads["W%d" % i], grads["b%d" % i] = Linear.backward(dout, cache)
        for i in range(1, L + 1):
            grads["W%d" % i] += self.reg * self.params["W%d" % i]
        return loss, grads
