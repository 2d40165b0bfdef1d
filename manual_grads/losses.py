"""Losses: `loss(x, y) -> (loss, dx)`, the mean over the N rows of x (N, C); y holds class indices.

The linear classifiers of CS231n's assignment 1 take the weights: `loss(W, X, y, reg) -> (loss, dW)`
with scores X @ W and an L2 regulariser reg * sum(W^2) (the `_half` forms: 0.5 * reg * sum(W^2),
the convention of other course years)."""

from ._xp import astype, namespace, one_hot


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
    active = astype((raw > 0) & (target == 0), x.dtype)
    loss = xp.sum(raw * active) / n
    dx = (active - target * xp.sum(active, axis=1, keepdims=True)) / n
    return loss, dx


def _linear_classifier(loss, W, X, y, reg, factor):
    """loss(X @ W, y) + factor * reg * sum(W^2), and its gradient in W."""
    xp = namespace(W, X)
    data_loss, dscores = loss(X @ W, y)
    return data_loss + factor * reg * xp.sum(W * W), X.T @ dscores + 2 * factor * reg * W


def linear_svm_loss(W, X, y, reg):
    return _linear_classifier(svm_loss, W, X, y, reg, 1.0)


def linear_svm_loss_half(W, X, y, reg):
    return _linear_classifier(svm_loss, W, X, y, reg, 0.5)


def linear_softmax_loss(W, X, y, reg):
    return _linear_classifier(softmax_loss, W, X, y, reg, 1.0)


def linear_softmax_loss_half(W, X, y, reg):
    return _linear_classifier(softmax_loss, W, X, y, reg, 0.5)


# CS231n assignment 1's names (its naive and vectorised versions compute the same thing).
svm_loss_naive = svm_loss_vectorized = linear_svm_loss
softmax_loss_naive = softmax_loss_vectorized = linear_softmax_loss
