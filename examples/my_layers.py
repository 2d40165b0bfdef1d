"""The layers that docs/testing-api.md checks in its own tests: an affine layer as functions (with a
right and a wrong backward) and as a textbook class."""


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def wrong_affine_backward(dout, cache):
    """dw counted twice: the kind of mistake the checks must name."""
    x, w = cache
    return dout @ w.T, 2 * (x.T @ dout), dout.sum(axis=0)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T
