"""Assignment-2 layers written once more in styles of their own, and with mistakes of their own, for
the similarity benchmark (bench/similarity.py): each entry is the source of one op's functions."""

STYLES = {
    "einsum": {
        "affine": """
def affine_forward(x, w, b):
    flat = x.reshape(len(x), -1)
    out = np.einsum("nd,dm->nm", flat, w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(len(x), -1)
    dx = np.einsum("nm,dm->nd", dout, w).reshape(x.shape)
    dw = np.einsum("nd,nm->dm", flat, dout)
    db = dout.sum(0)
    return dx, dw, db
""",
        "relu": """
def relu_forward(x):
    return np.where(x > 0, x, 0.0), x


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)
""",
        "softmax_loss": """
def softmax_loss(x, y):
    n = x.shape[0]
    z = x - x.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), y].mean()
    grad = np.exp(log_p)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n
""",
        "svm_loss": """
def svm_loss(x, y):
    n = x.shape[0]
    right = x[np.arange(n), y][:, None]
    margin = np.clip(x - right + 1.0, 0.0, None)
    margin[np.arange(n), y] = 0.0
    loss = margin.sum() / n
    hits = (margin > 0).astype(x.dtype)
    hits[np.arange(n), y] = -hits.sum(axis=1)
    return loss, hits / n
""",
    },
    "explicit": {
        "affine": """
def affine_forward(x, w, b):
    N = x.shape[0]
    x_rows = np.reshape(x, (N, np.prod(x.shape[1:])))
    out = np.matmul(x_rows, w)
    out = out + b[np.newaxis, :]
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    x_rows = np.reshape(x, (N, -1))
    dw = np.matmul(np.transpose(x_rows), dout)
    db = np.sum(dout, axis=0)
    dx_rows = np.matmul(dout, np.transpose(w))
    dx = np.reshape(dx_rows, x.shape)
    return dx, dw, db
""",
        "relu": """
def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx
""",
        "softmax_loss": """
def softmax_loss(x, y):
    N = x.shape[0]
    scores = x - np.max(x, axis=1)[:, np.newaxis]
    exp_scores = np.exp(scores)
    probs = exp_scores / np.sum(exp_scores, axis=1)[:, np.newaxis]
    correct_logprobs = -np.log(probs[range(N), y])
    loss = np.sum(correct_logprobs) / N
    dscores = probs
    dscores[range(N), y] = dscores[range(N), y] - 1
    dscores = dscores / N
    return loss, dscores
""",
        "svm_loss": """
def svm_loss(x, y):
    N = x.shape[0]
    correct_scores = x[range(N), y]
    margins = x - correct_scores[:, np.newaxis] + 1
    margins = np.maximum(margins, 0)
    margins[range(N), y] = 0
    loss = np.sum(margins) / N
    positive = np.zeros_like(x)
    positive[margins > 0] = 1
    row_counts = np.sum(positive, axis=1)
    positive[range(N), y] = -row_counts
    dx = positive / N
    return loss, dx
""",
    },
}

# Mistakes, each in a style of its own: an op's functions with one thing wrong; {c}, where it is
# there, is a constant each student gets wrong their own way (CONSTANTS).
CONSTANTS = ("2.0", "3.0", "0.5", "1.5", "4.0", "2.5")
BUGS = {
    "affine_db_keepdims": (
        "affine",
        """
def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0, keepdims=True)
""",
    ),
    "affine_dw_over_n": (
        "affine",
        """
def affine_forward(x, w, b):
    xf = x.reshape(x.shape[0], -1)
    return xf.dot(w) + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    xf = x.reshape(x.shape[0], -1)
    dw = xf.T.dot(dout) / {c}
    return dout.dot(w.T).reshape(x.shape), dw, dout.sum(axis=0)
""",
    ),
    "relu_mask_at_zero": (
        "relu",
        """
def relu_forward(x):
    return x * (x > 0), x


def relu_backward(dout, cache):
    return dout * (cache >= 0)
""",
    ),
    "relu_mask_of_dout": (
        "relu",
        """
def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (dout > 0)
""",
    ),
    "softmax_no_average": (
        "softmax_loss",
        """
def softmax_loss(x, y):
    s = x - np.max(x, axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).sum()
    p[np.arange(len(y)), y] -= 1
    return loss, p
""",
    ),
    "softmax_gradient_sign": (
        "softmax_loss",
        """
def softmax_loss(x, y):
    n = len(y)
    s = x - x.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1
    return loss, (onehot - p) / n
""",
    ),
    "svm_margin_two": (
        "svm_loss",
        """
def svm_loss(x, y):
    n = x.shape[0]
    m = np.maximum(0, x - x[np.arange(n), y][:, None] + {c})
    m[np.arange(n), y] = 0
    d = (m > 0).astype(float)
    d[np.arange(n), y] -= d.sum(axis=1)
    return m.sum() / n, d / n
""",
    ),
    "svm_counts_correct_class": (
        "svm_loss",
        """
def svm_loss(x, y):
    n = x.shape[0]
    m = np.maximum(0, x - x[np.arange(n), y][:, None] + 1.0)
    loss = (m.sum() - n) / n
    d = (m > 0).astype(float)
    d[np.arange(n), y] = -d.sum(axis=1)
    return loss, d / n
""",
    ),
}
