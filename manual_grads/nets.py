"""A two-layer net: affine - relu - affine - softmax, with optional L2 regularisation."""

from ._xp import namespace
from .layers import affine_backward, affine_forward, affine_relu_backward, affine_relu_forward
from .losses import softmax_loss


def two_layer_net_loss(X, y, W1, b1, W2, b2, reg=0.0):
    """Returns (loss, grads) with grads a dict for W1, b1, W2, b2.

    The loss adds 0.5 * reg * (|W1|^2 + |W2|^2), so the weight gradients gain reg * W.
    """
    xp = namespace(X, W1)
    hidden, cache1 = affine_relu_forward(X, W1, b1)
    scores, cache2 = affine_forward(hidden, W2, b2)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (xp.sum(W1 * W1) + xp.sum(W2 * W2))
    dhidden, dW2, db2 = affine_backward(dscores, cache2)
    _, dW1, db1 = affine_relu_backward(dhidden, cache1)
    return loss, {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2}
