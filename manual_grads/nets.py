"""Whole models as losses of their parameters: the two-layer net (affine - relu - affine - softmax)
and the three-layer convnet (conv - relu - 2x2 max pool - affine - relu - affine - softmax), each
with L2 regularisation of its weights."""

import numpy as np

from ._mode import gradients_wanted
from ._xp import namespace
from .conv import (
    conv_backward_fast,
    conv_forward_fast,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from .layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    relu_backward,
    relu_forward,
)
from .losses import softmax_loss
from .norms import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from .sequence import (
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)


def two_layer_net_loss_full(X, y, W1, b1, W2, b2, reg=0.0):
    """two_layer_net_loss with reg * (|W1|^2 + |W2|^2), no factor 0.5 (CS231n 2017 on)."""
    return two_layer_net_loss(X, y, W1, b1, W2, b2, 2.0 * reg)


def two_layer_net_loss(X, y, W1, b1, W2, b2, reg=0.0):
    """Returns (loss, grads) with grads a dict for W1, b1, W2, b2.

    The loss adds 0.5 * reg * (|W1|^2 + |W2|^2), so the weight gradients gain reg * W.
    """
    xp = namespace(X, W1)
    hidden, cache1 = affine_relu_forward(X, W1, b1)
    scores, cache2 = affine_forward(hidden, W2, b2)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2))
    if not gradients_wanted():
        return loss, None
    dhidden, dW2, db2 = affine_backward(dscores, cache2)
    _, dW1, db1 = affine_relu_backward(dhidden, cache1)
    return loss, {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2}


class TwoLayerNet:
    """CS231n's model of affine - relu - affine - softmax (fc_net.py, 2020 on): params W1, b1, W2, b2;
    loss(X) -> scores, loss(X, y) -> (loss, grads keyed like params). Its L2 regularization includes
    a factor of 0.5, as that edition's starter asks."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        rng = np.random.default_rng()
        self.reg = reg
        self.params = {
            "W1": weight_scale * rng.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * rng.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        p = self.params
        if y is None:
            hidden, _ = affine_relu_forward(X, p["W1"], p["b1"])
            return affine_forward(hidden, p["W2"], p["b2"])[0]
        return two_layer_net_loss(X, y, p["W1"], p["b1"], p["W2"], p["b2"], self.reg)


def fc_net_loss(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """Returns (loss, grads) for W1..b3 of {affine - relu} x 2 - affine - softmax; the loss adds
    0.5 * reg * (|W1|^2 + |W2|^2 + |W3|^2)."""
    return _fully_connected_loss(X, y, [(W1, b1), (W2, b2), (W3, b3)], reg)


def fc_net_loss_full(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """fc_net_loss with reg * (|W1|^2 + |W2|^2 + |W3|^2), no factor 0.5."""
    return fc_net_loss(X, y, W1, b1, W2, b2, W3, b3, 2.0 * reg)


def _fully_connected_loss(X, y, layers, reg):
    """{affine - relu} x (L - 1) - affine - softmax over [(W, b), ...]: (loss, {W1, b1, ...})."""
    xp = namespace(X, layers[0][0])
    hidden, caches = X, []
    for W, b in layers[:-1]:
        hidden, cache = affine_relu_forward(hidden, W, b)
        caches.append(cache)
    scores, last = affine_forward(hidden, *layers[-1])
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * sum(xp.sum(W * W) for W, _ in layers)
    if not gradients_wanted():
        return loss, None
    grads = {}
    dhidden, grads[f"W{len(layers)}"], grads[f"b{len(layers)}"] = affine_backward(dscores, last)
    for number in range(len(layers) - 1, 0, -1):
        dhidden, grads[f"W{number}"], grads[f"b{number}"] = affine_relu_backward(dhidden, caches[number - 1])
    for number, (W, _) in enumerate(layers, 1):
        grads[f"W{number}"] = grads[f"W{number}"] + reg * W
    return loss, grads


def _fc_net_normed_loss(X, y, layers, norms, reg, normalization):
    """{affine - norm - relu} x (L - 1) - affine - softmax, train mode: (loss, {W1, b1, gamma1, beta1, ...})."""
    forward, backward = {
        "batchnorm": (affine_bn_relu_forward, affine_bn_relu_backward),
        "layernorm": (affine_ln_relu_forward, affine_ln_relu_backward),
    }[normalization]
    xp = namespace(X, layers[0][0])
    hidden, caches = X, []
    for (W, b), (gamma, beta) in zip(layers[:-1], norms):
        hidden, cache = forward(hidden, W, b, gamma, beta, {"mode": "train"})
        caches.append(cache)
    scores, last = affine_forward(hidden, *layers[-1])
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * sum(xp.sum(W * W) for W, _ in layers)
    if not gradients_wanted():
        return loss, None
    grads = {}
    dhidden, grads[f"W{len(layers)}"], grads[f"b{len(layers)}"] = affine_backward(dscores, last)
    for number in range(len(layers) - 1, 0, -1):
        dhidden, dW, db, dgamma, dbeta = backward(dhidden, caches[number - 1])
        grads[f"W{number}"], grads[f"b{number}"] = dW + reg * layers[number - 1][0], db
        grads[f"gamma{number}"], grads[f"beta{number}"] = dgamma, dbeta
    grads[f"W{len(layers)}"] = grads[f"W{len(layers)}"] + reg * layers[-1][0]
    return loss, grads


def fc_net_batchnorm_loss(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """FullyConnectedNet with batch normalisation (train mode) after each hidden affine layer, 0.5 reg |W|^2."""
    return _fc_net_normed_loss(
        X, y, [(W1, b1), (W2, b2), (W3, b3)], [(gamma1, beta1), (gamma2, beta2)], reg, "batchnorm"
    )


def fc_net_batchnorm_loss_full(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """fc_net_batchnorm_loss with reg |W|^2, no factor 0.5."""
    return fc_net_batchnorm_loss(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, 2.0 * reg)


def fc_net_layernorm_loss(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """FullyConnectedNet with layer normalisation after each hidden affine layer, 0.5 reg |W|^2."""
    return _fc_net_normed_loss(
        X, y, [(W1, b1), (W2, b2), (W3, b3)], [(gamma1, beta1), (gamma2, beta2)], reg, "layernorm"
    )


def fc_net_layernorm_loss_full(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """fc_net_layernorm_loss with reg |W|^2, no factor 0.5."""
    return fc_net_layernorm_loss(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, 2.0 * reg)


def fc_net_dropout_loss(X, y, W1, b1, W2, b2, W3, b3, mask1, mask2, reg=0.0):
    """FullyConnectedNet with dropout after each hidden ReLU, the masks given (0 or 1 / keep):
    (loss, grads of W1..b3), 0.5 reg |W|^2."""
    xp = namespace(X, W1)
    relu1, cache1 = affine_relu_forward(X, W1, b1)
    relu2, cache2 = affine_relu_forward(relu1 * mask1, W2, b2)
    scores, cache3 = affine_forward(relu2 * mask2, W3, b3)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2) + xp.sum(W3 * W3))
    if not gradients_wanted():
        return loss, None
    dhidden2, dW3, db3 = affine_backward(dscores, cache3)
    dhidden1, dW2, db2 = affine_relu_backward(dhidden2 * mask2, cache2)
    _, dW1, db1 = affine_relu_backward(dhidden1 * mask1, cache1)
    return loss, {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2, "W3": dW3 + reg * W3, "b3": db3}


def fc_net_dropout_loss_full(X, y, W1, b1, W2, b2, W3, b3, mask1, mask2, reg=0.0):
    """fc_net_dropout_loss with reg |W|^2, no factor 0.5."""
    return fc_net_dropout_loss(X, y, W1, b1, W2, b2, W3, b3, mask1, mask2, 2.0 * reg)


def deep_convnet_loss(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """EECS 498's DeepConvNet with num_filters=[F1, F2], max_pools=[0]: conv 3x3 pad 1 - relu - 2x2
    pool - conv 3x3 pad 1 - relu - linear - softmax; (loss, grads), 0.5 reg |W|^2."""
    xp = namespace(X, W1)
    same, pool = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    pooled, cache1 = conv_relu_pool_forward(X, W1, b1, same, pool)
    hidden, cache2 = conv_relu_forward(pooled, W2, b2, same)
    scores, cache3 = affine_forward(hidden, W3, b3)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2) + xp.sum(W3 * W3))
    if not gradients_wanted():
        return loss, None
    dhidden, dW3, db3 = affine_backward(dscores, cache3)
    dpooled, dW2, db2 = conv_relu_backward(dhidden, cache2)
    _, dW1, db1 = conv_relu_pool_backward(dpooled, cache1)
    return loss, {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2, "W3": dW3 + reg * W3, "b3": db3}


def deep_convnet_batchnorm_loss(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """DeepConvNet(batchnorm=True) in train mode: conv - spatial batch norm - relu - 2x2 pool, conv -
    spatial batch norm - relu, linear, softmax; (loss, grads), 0.5 reg |W|^2."""
    xp = namespace(X, W1)
    same, pool = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    conved1, conv_cache1 = conv_forward_fast(X, W1, b1, same)
    normed1, bn_cache1 = spatial_batchnorm_forward(conved1, gamma1, beta1, {"mode": "train"})
    relu1, relu_cache1 = relu_forward(normed1)
    pooled, pool_cache = max_pool_forward_naive(relu1, pool)
    conved2, conv_cache2 = conv_forward_fast(pooled, W2, b2, same)
    normed2, bn_cache2 = spatial_batchnorm_forward(conved2, gamma2, beta2, {"mode": "train"})
    hidden, relu_cache2 = relu_forward(normed2)
    scores, affine_cache = affine_forward(hidden, W3, b3)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2) + xp.sum(W3 * W3))
    if not gradients_wanted():
        return loss, None
    dhidden, dW3, db3 = affine_backward(dscores, affine_cache)
    dconved2, dgamma2, dbeta2 = spatial_batchnorm_backward(relu_backward(dhidden, relu_cache2), bn_cache2)
    dpooled, dW2, db2 = conv_backward_fast(dconved2, conv_cache2)
    drelu1 = max_pool_backward_naive(dpooled, pool_cache)
    dconved1, dgamma1, dbeta1 = spatial_batchnorm_backward(relu_backward(drelu1, relu_cache1), bn_cache1)
    _, dW1, db1 = conv_backward_fast(dconved1, conv_cache1)
    return loss, {
        "W1": dW1 + reg * W1,
        "b1": db1,
        "gamma1": dgamma1,
        "beta1": dbeta1,
        "W2": dW2 + reg * W2,
        "b2": db2,
        "gamma2": dgamma2,
        "beta2": dbeta2,
        "W3": dW3 + reg * W3,
        "b3": db3,
    }


def deep_convnet_batchnorm_loss_full(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """deep_convnet_batchnorm_loss with reg |W|^2, no factor 0.5."""
    return deep_convnet_batchnorm_loss(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, 2.0 * reg)


def deep_convnet_loss_full(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """deep_convnet_loss with reg |W|^2, no factor 0.5."""
    return deep_convnet_loss(X, y, W1, b1, W2, b2, W3, b3, 2.0 * reg)


def three_layer_convnet_loss(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """Returns (loss, grads) for W1..b3 of conv ("same" padding, stride 1) - relu - 2x2 max pool -
    affine - relu - affine - softmax; the loss adds 0.5 * reg * (|W1|^2 + |W2|^2 + |W3|^2)."""
    xp = namespace(X, W1)
    conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pooled, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
    hidden, cache2 = affine_relu_forward(pooled, W2, b2)
    scores, cache3 = affine_forward(hidden, W3, b3)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2) + xp.sum(W3 * W3))
    if not gradients_wanted():
        return loss, None
    dhidden, dW3, db3 = affine_backward(dscores, cache3)
    dpooled, dW2, db2 = affine_relu_backward(dhidden, cache2)
    _, dW1, db1 = conv_relu_pool_backward(dpooled, cache1)
    return loss, {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2, "W3": dW3 + reg * W3, "b3": db3}


def three_layer_convnet_loss_full(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """three_layer_convnet_loss with reg * (|W1|^2 + |W2|^2 + |W3|^2), no factor 0.5."""
    return three_layer_convnet_loss(X, y, W1, b1, W2, b2, W3, b3, 2.0 * reg)


class FullyConnectedNet:
    """CS231n's FullyConnectedNet without dropout (fc_net.py): {affine - [batch/layer norm] - relu} x
    (L - 1) - affine - softmax, params W1..WL, b1..bL (and gamma1.., beta1.. with `normalization`);
    loss(X) -> scores, loss(X, y) -> (loss, grads), with 0.5 * reg * sum of |W|^2."""

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
    ):
        rng = np.random.default_rng()
        sizes = [input_dim, *hidden_dims, num_classes]
        self.reg, self.num_layers, self.normalization = reg, len(sizes) - 1, normalization
        self.params = {}
        for number, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
            self.params[f"W{number}"] = (weight_scale * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self.params[f"b{number}"] = np.zeros(fan_out, dtype=dtype)
            if normalization and number < self.num_layers:
                self.params[f"gamma{number}"] = np.ones(fan_out, dtype=dtype)
                self.params[f"beta{number}"] = np.zeros(fan_out, dtype=dtype)

    def loss(self, X, y=None):
        layers = [(self.params[f"W{n}"], self.params[f"b{n}"]) for n in range(1, self.num_layers + 1)]
        if self.normalization and y is not None:
            norms = [(self.params[f"gamma{n}"], self.params[f"beta{n}"]) for n in range(1, self.num_layers)]
            return _fc_net_normed_loss(X, y, layers, norms, self.reg, self.normalization)
        if y is None and not self.normalization:
            hidden = X
            for W, b in layers[:-1]:
                hidden, _ = affine_relu_forward(hidden, W, b)
            return affine_forward(hidden, *layers[-1])[0]
        if y is None:  # test mode: layer norm as in training, batch norm with its running statistics
            hidden = X
            for number, (W, b) in enumerate(layers[:-1], 1):
                forward = affine_bn_relu_forward if self.normalization == "batchnorm" else affine_ln_relu_forward
                gamma, beta = self.params[f"gamma{number}"], self.params[f"beta{number}"]
                hidden, _ = forward(hidden, W, b, gamma, beta, {"mode": "test"})
            return affine_forward(hidden, *layers[-1])[0]
        return _fully_connected_loss(X, y, layers, self.reg)


class ThreeLayerConvNet:
    """CS231n's model of conv - relu - 2x2 max pool - affine - relu - affine - softmax (cnn.py):
    params W1..b3; loss(X) -> scores, loss(X, y) -> (loss, grads keyed like params), with
    0.5 * reg * (|W1|^2 + |W2|^2 + |W3|^2)."""

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
        rng = np.random.default_rng()
        channels, height, width = input_dim
        pooled = num_filters * (height // 2) * (width // 2)
        self.reg = reg
        shapes = {
            "W1": (num_filters, channels, filter_size, filter_size),
            "W2": (pooled, hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for number, (name, shape) in enumerate(shapes.items(), 1):
            self.params[name] = (weight_scale * rng.standard_normal(shape)).astype(dtype)
            self.params[f"b{number}"] = np.zeros(shape[0] if number == 1 else shape[1], dtype=dtype)

    def loss(self, X, y=None):
        p = self.params
        if y is None:
            conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
            pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
            pooled, _ = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
            hidden, _ = affine_relu_forward(pooled, p["W2"], p["b2"])
            return affine_forward(hidden, p["W3"], p["b3"])[0]
        return three_layer_convnet_loss(X, y, *(p[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3")), self.reg)


NULL = 0  # <NULL>'s index in the course's word_to_idx


def captioning_rnn_loss(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab, cell_type="rnn"):
    """CS231n's CaptioningRNN.loss: (loss, grads of W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab)."""
    recurrence_forward, recurrence_backward = {
        "rnn": (rnn_forward, rnn_backward),
        "lstm": (lstm_forward, lstm_backward),
    }[cell_type]
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    h0 = features @ W_proj + b_proj[None, :]
    words, embed_cache = word_embedding_forward(captions_in, W_embed)
    states, recurrence_cache = recurrence_forward(words, h0, Wx, Wh, b)
    scores, affine_cache = temporal_affine_forward(states, W_vocab, b_vocab)
    loss, dscores = temporal_softmax_loss(scores, captions_out, captions_out != NULL)
    if not gradients_wanted():
        return loss, None
    grads = {}
    dstates, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, affine_cache)
    dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = recurrence_backward(dstates, recurrence_cache)
    grads["W_embed"] = word_embedding_backward(dwords, embed_cache)
    grads["W_proj"], grads["b_proj"] = features.T @ dh0, dh0.sum(axis=0)
    return loss, grads


def captioning_lstm_loss(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab):
    """captioning_rnn_loss with an LSTM."""
    return captioning_rnn_loss(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab, "lstm")


class CaptioningRNN:
    """CS231n's CaptioningRNN (classifiers/rnn.py): image features -> h0, captions embedded, an RNN or
    LSTM, scores over the vocabulary; loss(features, captions) -> (loss, grads keyed like params)."""

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="rnn", dtype=np.float32):
        rng = np.random.default_rng()
        vocab, gates = len(word_to_idx), {"rnn": 1, "lstm": 4}[cell_type]
        self.cell_type, self._null = cell_type, word_to_idx["<NULL>"]
        shapes = {
            "W_proj": (input_dim, hidden_dim),
            "b_proj": (hidden_dim,),
            "W_embed": (vocab, wordvec_dim),
            "Wx": (wordvec_dim, gates * hidden_dim),
            "Wh": (hidden_dim, gates * hidden_dim),
            "b": (gates * hidden_dim,),
            "W_vocab": (hidden_dim, vocab),
            "b_vocab": (vocab,),
        }
        self.params = {k: (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype) for k, shape in shapes.items()}

    def loss(self, features, captions):
        p = self.params
        keys = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")
        return captioning_rnn_loss(features, captions, *(p[k] for k in keys), self.cell_type)
