"""Losses: `loss(x, y) -> (loss, dx)`, the mean over the N rows of x (N, C); y holds class indices."""

from ._xp import namespace, one_hot


def softmax_loss(x, y):
    """Cross-entropy of softmax(x); finite for scores of any magnitude (log-sum-exp shift)."""
    xp = namespace(x)
    n, c = x.shape
    shifted = x - xp.max(x, axis=1, keepdims=True)
    dx = xp.exp(shifted)  # one exp pass; it becomes the gradient below
    sums = xp.sum(dx, axis=1, keepdims=True)
    target = one_hot(y, c, x)
    loss = (xp.sum(xp.log(sums)) - xp.sum(shifted * target)) / n
    dx *= 1 / (n * sums)  # softmax / N, in place on our own array
    dx -= target / n
    return loss, dx


def svm_loss(x, y):
    """Multiclass hinge loss with margin 1: sum over j != y of max(0, x_j - x_y + 1)."""
    xp = namespace(x)
    n, c = x.shape
    target = one_hot(y, c, x)
    correct = xp.sum(x * target, axis=1, keepdims=True)
    raw = x - correct + 1
    active = ((raw > 0) & (target == 0)).astype(x.dtype)
    loss = xp.sum(raw * active) / n
    dx = (active - target * xp.sum(active, axis=1, keepdims=True)) / n
    return loss, dx
