"""Forward-only jax.numpy versions of every op: JAX derives each reference gradient.

Broadcasts are written out (b[None, :]) because the oracle runs with rank promotion set to raise.
ReLU is jax.nn.relu (gradient 0 at 0); jnp.maximum(x, 0) would give 0.5 there.
"""

import numpy as np

from reference.lazy import LazyModule

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")


def affine(x, w, b):
    return jnp.reshape(x, (x.shape[0], -1)) @ w + b[None, :]


def linear(X, W, B):
    return X @ W.T + B[None, :]


def relu(x):
    return jax.nn.relu(x)


def sigmoid(x):
    return jax.nn.sigmoid(x)


def tanh(x):
    return jnp.tanh(x)


def affine_relu(x, w, b):
    return jax.nn.relu(affine(x, w, b))


def _target_mask(x, y):
    return y[:, None] == jnp.arange(x.shape[1], dtype=y.dtype)[None, :]


def softmax_loss(x, y):
    log_probs = jax.nn.log_softmax(x, axis=1)
    return -jnp.mean(jnp.sum(jnp.where(_target_mask(x, y), log_probs, 0.0), axis=1))


def svm_loss(x, y):
    target = _target_mask(x, y)
    correct = jnp.sum(jnp.where(target, x, 0.0), axis=1, keepdims=True)
    margins = jnp.where(target, 0.0, jax.nn.relu(x - correct + 1.0))
    return jnp.sum(margins) / x.shape[0]


def linear_svm(W, X, y, reg):
    return svm_loss(X @ W, y) + reg * jnp.sum(W * W)


def linear_svm_half(W, X, y, reg):
    return svm_loss(X @ W, y) + 0.5 * reg * jnp.sum(W * W)


def linear_softmax(W, X, y, reg):
    return softmax_loss(X @ W, y) + reg * jnp.sum(W * W)


def linear_softmax_half(W, X, y, reg):
    return softmax_loss(X @ W, y) + 0.5 * reg * jnp.sum(W * W)


def two_layer_net(X, y, W1, b1, W2, b2, reg=0.0):
    scores = affine(affine_relu(X, W1, b1), W2, b2)
    return softmax_loss(scores, y) + 0.5 * reg * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))


def two_layer_net_scores(X, W1, b1, W2, b2):
    """The two-layer net's class scores, what its loss(X) returns without labels."""
    return affine(affine_relu(X, W1, b1), W2, b2)


def two_layer_net_full(X, y, W1, b1, W2, b2, reg=0.0):
    return two_layer_net(X, y, W1, b1, W2, b2, 2.0 * reg)


def add_mul_circuit(x, y, z):
    return (x + y) * z


def sigmoid_neuron(w, x):
    return jax.nn.sigmoid(jnp.sum(w[:-1] * x) + w[-1])


def staged_expression(x, y):
    return (x + jax.nn.sigmoid(y)) / (jax.nn.sigmoid(x) + (x + y) ** 2)


def max_gate(x, y):
    # where() sends the gradient to y at a tie, the same rule as relu'(0) = 0.
    return jnp.where(x > y, x, y)


def matmul(W, X):
    return W @ X


# ----- the rest of the CS231n layer set -----


def _normalise(x, axes, eps):
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axes, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps)


def batchnorm(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    if bn_param["mode"] == "train":
        xhat = _normalise(x, (0,), eps)
    else:
        xhat = (x - bn_param["running_mean"][None, :]) / jnp.sqrt(bn_param["running_var"] + eps)[None, :]
    return gamma[None, :] * xhat + beta[None, :]


def layernorm(x, gamma, beta, ln_param):
    return gamma[None, :] * _normalise(x, (1,), ln_param.get("eps", 1e-5)) + beta[None, :]


def spatial_batchnorm(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    if bn_param["mode"] == "train":
        xhat = _normalise(x, (0, 2, 3), eps)
    else:
        mean, var = bn_param["running_mean"], bn_param["running_var"]
        xhat = (x - mean[None, :, None, None]) / jnp.sqrt(var + eps)[None, :, None, None]
    return gamma[None, :, None, None] * xhat + beta[None, :, None, None]


def spatial_groupnorm(x, gamma, beta, G, gn_param):
    n = x.shape[0]
    xhat = jnp.reshape(_normalise(jnp.reshape(x, (n, G, -1)), (2,), gn_param.get("eps", 1e-5)), x.shape)
    channels = (1, x.shape[1], 1, 1)  # gamma, beta of shape (C,) or (1, C, 1, 1)
    return jnp.reshape(gamma, channels) * xhat + jnp.reshape(beta, channels)


def dropout(x, dropout_param):
    """The same mask as the course's: np.random.seed(seed); np.random.rand(*x.shape) < p, scaled by 1/p."""
    if dropout_param["mode"] == "test":
        return x
    p = dropout_param["p"]
    mask = (np.random.RandomState(dropout_param["seed"]).rand(*x.shape) < p) / p
    return x * jnp.asarray(mask, dtype=x.dtype)


def conv(x, w, b, conv_param):
    pad, stride = conv_param["pad"], conv_param["stride"]
    out = jax.lax.conv_general_dilated(
        x,
        w,
        (stride, stride),
        [(pad, pad), (pad, pad)],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=jax.lax.Precision.HIGHEST,
    )
    return out + b[None, :, None, None]


conv_fast = conv


def max_pool(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, ph, pw), (1, 1, stride, stride), "VALID")


def conv_relu(x, w, b, conv_param):
    return jax.nn.relu(conv(x, w, b, conv_param))


def conv_relu_pool(x, w, b, conv_param, pool_param):
    return max_pool(conv_relu(x, w, b, conv_param), pool_param)


def fc_net_scores(X, W1, b1, W2, b2, W3, b3):
    """The three-layer fully-connected net's class scores (its loss(X) without labels)."""
    return affine(affine_relu(affine_relu(X, W1, b1), W2, b2), W3, b3)


def fc_net(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """CS231n's FullyConnectedNet with two hidden layers, no dropout or normalisation: {affine - relu} x 2
    - affine - softmax, loss + 0.5 reg (|W1|^2 + |W2|^2 + |W3|^2)."""
    scores = fc_net_scores(X, W1, b1, W2, b2, W3, b3)
    return softmax_loss(scores, y) + 0.5 * reg * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2) + jnp.sum(W3 * W3))


def fc_net_full(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """The same net with reg * (|W1|^2 + |W2|^2 + |W3|^2), no 0.5."""
    return fc_net(X, y, W1, b1, W2, b2, W3, b3, 2.0 * reg)


def _fc_net_normed(X, y, layers, norms, reg, axis):
    """{affine - batch (axis 0) or layer (axis 1) norm - relu} x 2 - affine - softmax, train mode."""
    hidden = X
    for (W, b), (gamma, beta) in zip(layers[:-1], norms):
        hidden = relu(gamma[None, :] * _normalise(affine(hidden, W, b), (axis,), 1e-5) + beta[None, :])
    data_loss = softmax_loss(affine(hidden, *layers[-1]), y)
    return data_loss + 0.5 * reg * sum(jnp.sum(W * W) for W, _ in layers)


def fc_net_batchnorm(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """FullyConnectedNet(normalization="batchnorm") with two hidden layers, train mode, 0.5 reg |W|^2."""
    return _fc_net_normed(X, y, [(W1, b1), (W2, b2), (W3, b3)], [(gamma1, beta1), (gamma2, beta2)], reg, 0)


def fc_net_batchnorm_full(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    return fc_net_batchnorm(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, 2.0 * reg)


def fc_net_layernorm(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """FullyConnectedNet(normalization="layernorm") with two hidden layers, 0.5 reg |W|^2."""
    return _fc_net_normed(X, y, [(W1, b1), (W2, b2), (W3, b3)], [(gamma1, beta1), (gamma2, beta2)], reg, 1)


def fc_net_layernorm_full(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    return fc_net_layernorm(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, 2.0 * reg)


def fc_net_dropout(X, y, W1, b1, W2, b2, W3, b3, mask1, mask2, reg=0.0):
    """FullyConnectedNet with dropout after each hidden ReLU, train mode, the masks given (each 0 or
    1 / keep, as inverted dropout scales them): 0.5 reg |W|^2."""
    hidden = affine_relu(affine_relu(X, W1, b1) * mask1, W2, b2) * mask2
    return softmax_loss(affine(hidden, W3, b3), y) + 0.5 * reg * (
        jnp.sum(W1 * W1) + jnp.sum(W2 * W2) + jnp.sum(W3 * W3)
    )


def fc_net_dropout_full(X, y, W1, b1, W2, b2, W3, b3, mask1, mask2, reg=0.0):
    return fc_net_dropout(X, y, W1, b1, W2, b2, W3, b3, mask1, mask2, 2.0 * reg)


SAME_3X3, POOL_2X2 = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}


def deep_convnet_scores(X, W1, b1, W2, b2, W3, b3):
    """EECS 498's DeepConvNet with two conv layers (3x3, pad 1), a 2x2 pool after the first
    (num_filters=[F1, F2], max_pools=[0]), then a linear layer: its class scores."""
    hidden = conv_relu(conv_relu_pool(X, W1, b1, SAME_3X3, POOL_2X2), W2, b2, SAME_3X3)
    return affine(hidden, W3, b3)


def deep_convnet(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """The DeepConvNet's loss with 0.5 reg (|W1|^2 + |W2|^2 + |W3|^2)."""
    scores = deep_convnet_scores(X, W1, b1, W2, b2, W3, b3)
    return softmax_loss(scores, y) + 0.5 * reg * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2) + jnp.sum(W3 * W3))


def deep_convnet_full(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """The same with reg |W|^2, no 0.5 (EECS 498's starters)."""
    return deep_convnet(X, y, W1, b1, W2, b2, W3, b3, 2.0 * reg)


def deep_convnet_batchnorm(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    """DeepConvNet(batchnorm=True), train mode: conv - spatial batch norm - relu - 2x2 pool, conv -
    spatial batch norm - relu, linear, softmax; 0.5 reg |W|^2 (gamma and beta not regularised)."""
    train = {"mode": "train"}
    first = max_pool(jax.nn.relu(spatial_batchnorm(conv(X, W1, b1, SAME_3X3), gamma1, beta1, train)), POOL_2X2)
    hidden = jax.nn.relu(spatial_batchnorm(conv(first, W2, b2, SAME_3X3), gamma2, beta2, train))
    scores = affine(hidden, W3, b3)
    return softmax_loss(scores, y) + 0.5 * reg * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2) + jnp.sum(W3 * W3))


def deep_convnet_batchnorm_full(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, reg=0.0):
    return deep_convnet_batchnorm(X, y, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, 2.0 * reg)


def three_layer_convnet_scores(X, W1, b1, W2, b2, W3, b3):
    """The three-layer convnet's class scores, what its loss(X) returns without labels."""
    pooled = conv_relu_pool(
        X, W1, b1, {"stride": 1, "pad": (W1.shape[2] - 1) // 2}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    )
    return affine(affine_relu(pooled, W2, b2), W3, b3)


def three_layer_convnet(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """CS231n's ThreeLayerConvNet: conv (stride 1, "same" zero padding) - relu - 2x2 max pool -
    affine - relu - affine - softmax, loss + 0.5 reg (|W1|^2 + |W2|^2 + |W3|^2)."""
    scores = three_layer_convnet_scores(X, W1, b1, W2, b2, W3, b3)
    return softmax_loss(scores, y) + 0.5 * reg * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2) + jnp.sum(W3 * W3))


def three_layer_convnet_full(X, y, W1, b1, W2, b2, W3, b3, reg=0.0):
    """The same net with reg * (|W1|^2 + |W2|^2 + |W3|^2), no 0.5 (EECS 498, some CS231n years)."""
    return three_layer_convnet(X, y, W1, b1, W2, b2, W3, b3, 2.0 * reg)


def rnn_step(x, prev_h, Wx, Wh, b):
    return jnp.tanh(x @ Wx + prev_h @ Wh + b[None, :])


def rnn(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = rnn_step(x[:, t, :], h, Wx, Wh, b)
        states.append(h)
    return jnp.stack(states, axis=1)


def word_embedding(x, W):
    return W[x]


def temporal_affine(x, w, b):
    return jnp.einsum("ntd,dm->ntm", x, w) + b[None, None, :]


def temporal_softmax_loss(x, y, mask):
    log_probs = jax.nn.log_softmax(x, axis=2)
    picked = jnp.sum(
        jnp.where(y[:, :, None] == jnp.arange(x.shape[2], dtype=y.dtype)[None, None, :], log_probs, 0.0), axis=2
    )
    return -jnp.sum(jnp.where(mask, picked, 0.0)) / x.shape[0]


def affine_bn_relu(x, w, b, gamma, beta, bn_param):
    return jax.nn.relu(batchnorm(affine(x, w, b), gamma, beta, bn_param))


def affine_ln_relu(x, w, b, gamma, beta, ln_param):
    return jax.nn.relu(layernorm(affine(x, w, b), gamma, beta, ln_param))


# ----- update rules (no gradient: the next weights, from the course's formulas) -----


def sgd(w, dw, config):
    return w - config["learning_rate"] * dw


def sgd_momentum(w, dw, config):
    return w + config["momentum"] * config["velocity"] - config["learning_rate"] * dw


def rmsprop(w, dw, config):
    cache = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw**2
    return w - config["learning_rate"] * dw / (jnp.sqrt(cache) + config["epsilon"])


def adam(w, dw, config):
    b1, b2, t = config["beta1"], config["beta2"], config["t"] + 1
    m = (b1 * config["m"] + (1 - b1) * dw) / (1 - b1**t)
    v = (b2 * config["v"] + (1 - b2) * dw**2) / (1 - b2**t)
    return w - config["learning_rate"] * m / (jnp.sqrt(v) + config["epsilon"])


def _lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b[None, :]
    i, f, o, g = jnp.split(a, 4, axis=1)
    next_c = jax.nn.sigmoid(f) * prev_c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(next_c), next_c


def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """(next_h, next_c) stacked into one (2, N, H) output."""
    return jnp.stack(_lstm_step(x, prev_h, prev_c, Wx, Wh, b))


def lstm(x, h0, Wx, Wh, b):
    h, c, states = h0, jnp.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = _lstm_step(x[:, t, :], h, c, Wx, Wh, b)
        states.append(h)
    return jnp.stack(states, axis=1)


NULL = 0  # the index of <NULL> in the course's word_to_idx: padding after a caption's end


def _captioning(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab, recurrence):
    """CS231n's CaptioningRNN.loss: h0 from the image features, the caption's words (all but the last)
    embedded and run through the recurrence, each state's scores against the next word, <NULL> masked."""
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    h0 = features @ W_proj + b_proj[None, :]
    states = recurrence(word_embedding(captions_in, W_embed), h0, Wx, Wh, b)
    return temporal_softmax_loss(temporal_affine(states, W_vocab, b_vocab), captions_out, captions_out != NULL)


def captioning_rnn(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab):
    return _captioning(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab, rnn)


def captioning_lstm(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab):
    return _captioning(features, captions, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab, lstm)


def temporal_softmax_ignore(x, y, ignore_index):
    """EECS 498's temporal_softmax_loss(x, y, ignore_index): summed over the steps whose label is not
    ignore_index, divided by N."""
    return temporal_softmax_loss(x, y, y != ignore_index)


def _attention_parts(prev_h, A):
    """(the attention's weights (N, D*D), A flattened (N, H, D*D)): scores prev_h . A / sqrt(H)."""
    n, h, d, _ = A.shape
    flat = jnp.reshape(A, (n, h, d * d))
    scores = jnp.einsum("nh,nhk->nk", prev_h, flat) / jnp.sqrt(jnp.asarray(h, dtype=A.dtype))
    return jax.nn.softmax(scores, axis=1), flat


def dot_product_attention(prev_h, A):
    """EECS 498's dot_product_attention: the attention embedding (N, H), A's D x D positions weighted
    by the softmax of prev_h . A / sqrt(H)."""
    weights, flat = _attention_parts(prev_h, A)
    return jnp.einsum("nhk,nk->nh", flat, weights)


def dot_product_attention_weights(prev_h, A):
    """Its weights, (N, D, D): the second output."""
    n, _, d, _ = A.shape
    return jnp.reshape(_attention_parts(prev_h, A)[0], (n, d, d))
