"""Forward-only jax.numpy versions of every op: JAX derives each reference gradient.

Broadcasts are written out (b[None, :]) because the oracle runs with rank promotion set to raise.
ReLU is jax.nn.relu (gradient 0 at 0); jnp.maximum(x, 0) would give 0.5 there.
"""
import jax
import jax.numpy as jnp


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


def two_layer_net(X, y, W1, b1, W2, b2, reg=0.0):
    scores = affine(affine_relu(X, W1, b1), W2, b2)
    return softmax_loss(scores, y) + 0.5 * reg * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))


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
