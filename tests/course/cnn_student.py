"""CS231n assignment 2's cnn.py in the course's style (written for gradref's tests): ThreeLayerConvNet
on the shipped fast layers and the student's own affine and ReLU layers."""

import numpy as np

from cs231n.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast


def _affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1).dot(w) + b, (x, w, b)


def _affine_backward(dout, cache):
    x, w, b = cache
    return dout.dot(w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T.dot(dout), dout.sum(axis=0)


def _softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = x.shape[0]
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return -np.sum(log_probs[np.arange(n), y]) / n, dx / n


class ThreeLayerConvNet(object):
    """
    A three-layer convolutional network with the following architecture:

    conv - relu - 2x2 max pool - affine - relu - affine - softmax
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dim
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        conv, conv_cache = conv_forward_fast(X, W1, b1, conv_param)
        relu1 = np.maximum(conv, 0)
        pooled, pool_cache = max_pool_forward_fast(relu1, pool_param)
        hidden, hidden_cache = _affine_forward(pooled, W2, b2)
        relu2 = np.maximum(hidden, 0)
        scores, scores_cache = _affine_forward(relu2, W3, b3)
        if y is None:
            return scores

        loss, dscores = _softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        grads = {}
        drelu2, grads["W3"], grads["b3"] = _affine_backward(dscores, scores_cache)
        dhidden = drelu2 * (hidden > 0)
        dpooled, grads["W2"], grads["b2"] = _affine_backward(dhidden, hidden_cache)
        drelu1 = max_pool_backward_fast(dpooled, pool_cache)
        dconv = drelu1 * (conv > 0)
        _, grads["W1"], grads["b1"] = conv_backward_fast(dconv, conv_cache)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        grads["W3"] += self.reg * W3
        return loss, grads
