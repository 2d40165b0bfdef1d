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
        "batchnorm": """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    if mode == "train":
        mean = x.mean(0)
        centred = x - mean
        var = np.einsum("nd,nd->d", centred, centred) / len(x)
        inv = 1.0 / np.sqrt(var + eps)
        xn = centred * inv
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        return xn * gamma + beta, (xn, inv, gamma)
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    xn = (x - running_mean) / np.sqrt(running_var + eps)
    return xn * gamma + beta, (xn, None, gamma)


def batchnorm_backward(dout, cache):
    xn, inv, gamma = cache
    n = dout.shape[0]
    dbeta = dout.sum(0)
    dgamma = np.einsum("nd,nd->d", dout, xn)
    dx = gamma * inv / n * (n * dout - dbeta - xn * dgamma)
    return dx, dgamma, dbeta
""",
        "dropout": """
def dropout_forward(x, dropout_param):
    p = dropout_param["p"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if dropout_param["mode"] != "train":
        return x, (None, "test")
    keep = np.random.random_sample(x.shape) < p
    return np.where(keep, x / p, 0.0), (keep / p, "train")


def dropout_backward(dout, cache):
    scale, mode = cache
    return dout if mode == "test" else dout * scale
""",
        "conv": """
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    f, c, kh, kw = w.shape
    padded = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], mode="constant")
    oh = (padded.shape[2] - kh) // s + 1
    ow = (padded.shape[3] - kw) // s + 1
    out = np.empty((x.shape[0], f, oh, ow))
    for r in range(oh):
        for q in range(ow):
            patch = padded[:, :, r * s : r * s + kh, q * s : q * s + kw]
            out[:, :, r, q] = np.einsum("nchw,fchw->nf", patch, w)
    out += b.reshape(1, -1, 1, 1)
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    kh, kw = w.shape[2:]
    padded = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], mode="constant")
    dpadded = np.zeros_like(padded)
    dw = np.zeros_like(w)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            patch = padded[:, :, r * s : r * s + kh, q * s : q * s + kw]
            g = dout[:, :, r, q]
            dw += np.einsum("nf,nchw->fchw", g, patch)
            dpadded[:, :, r * s : r * s + kh, q * s : q * s + kw] += np.einsum("nf,fchw->nchw", g, w)
    dx = dpadded[:, :, p : padded.shape[2] - p, p : padded.shape[3] - p]
    return dx, dw, dout.sum(axis=(0, 2, 3))
""",
        "max_pool": """
def max_pool_forward_naive(x, pool_param):
    hp, wp, st = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    oh, ow = (h - hp) // st + 1, (w - wp) // st + 1
    out = np.empty((n, c, oh, ow))
    for r in range(oh):
        for q in range(ow):
            out[:, :, r, q] = np.amax(x[:, :, r * st : r * st + hp, q * st : q * st + wp], axis=(-2, -1))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    hp, wp, st = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c = x.shape[:2]
    dx = np.zeros_like(x)
    ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            window = x[:, :, r * st : r * st + hp, q * st : q * st + wp].reshape(n, c, -1)
            a, b = np.divmod(window.argmax(axis=2), wp)
            dx[ni, ci, r * st + a, q * st + b] += dout[:, :, r, q]
    return dx
""",
        "sgd_momentum": """
def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    lr = config.setdefault("learning_rate", 1e-2)
    mu = config.setdefault("momentum", 0.9)
    v = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
    config["velocity"] = v
    return w + v, config
""",
        "adam": """
def adam(w, dw, config=None):
    config = {} if config is None else config
    lr = config.setdefault("learning_rate", 1e-3)
    b1 = config.setdefault("beta1", 0.9)
    b2 = config.setdefault("beta2", 0.999)
    eps = config.setdefault("epsilon", 1e-8)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    t = config.get("t", 0) + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.square(dw)
    step = lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    config.update(m=m, v=v, t=t)
    return w - step, config
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
        "batchnorm": """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    cache = None
    if mode == "train":
        sample_mean = np.sum(x, axis=0) / N
        x_centered = x - sample_mean
        sample_var = np.sum(np.square(x_centered), axis=0) / N
        std = np.sqrt(sample_var + eps)
        x_norm = x_centered / std
        out = gamma * x_norm + beta
        running_mean = momentum * running_mean + (1.0 - momentum) * sample_mean
        running_var = momentum * running_var + (1.0 - momentum) * sample_var
        cache = {"x_norm": x_norm, "x_centered": x_centered, "std": std, "gamma": gamma}
    else:
        x_norm = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_norm + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    N = dout.shape[0]
    x_norm = cache["x_norm"]
    x_centered = cache["x_centered"]
    std = cache["std"]
    gamma = cache["gamma"]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_norm, axis=0)
    dx_norm = dout * gamma
    dstd = -np.sum(dx_norm * x_centered, axis=0) / (std * std)
    dvar = dstd / (2.0 * std)
    dx_centered = dx_norm / std + 2.0 * x_centered * dvar / N
    dmean = -np.sum(dx_centered, axis=0)
    dx = dx_centered + dmean / N
    return dx, dgamma, dbeta
""",
        "dropout": """
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    out = None
    if mode == "train":
        mask = np.random.uniform(0.0, 1.0, size=x.shape) < p
        mask = mask.astype(x.dtype) / p
        out = np.multiply(x, mask)
    elif mode == "test":
        out = x.copy()
    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    dx = None
    if mode == "train":
        dx = np.multiply(dout, mask)
    elif mode == "test":
        dx = dout
    return dx
""",
        "conv": """
def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    N, C, H, W = x.shape
    F, C, HH, WW = w.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant", constant_values=0)
    columns = np.zeros((N, H_out * W_out, C * HH * WW))
    for i in range(H_out):
        for j in range(W_out):
            h_start = i * stride
            w_start = j * stride
            patch = x_padded[:, :, h_start : h_start + HH, w_start : w_start + WW]
            columns[:, i * W_out + j, :] = patch.reshape(N, -1)
    w_rows = w.reshape(F, -1)
    out = np.matmul(columns, w_rows.T) + b
    out = out.transpose(0, 2, 1).reshape(N, F, H_out, W_out)
    cache = (x, w, b, conv_param, columns)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param, columns = cache
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    N, C, H, W = x.shape
    F, C, HH, WW = w.shape
    H_out, W_out = dout.shape[2], dout.shape[3]
    dout_rows = dout.reshape(N, F, H_out * W_out).transpose(0, 2, 1)
    db = np.sum(dout_rows, axis=(0, 1))
    dw = np.zeros((F, C * HH * WW))
    for n in range(N):
        dw += np.matmul(dout_rows[n].T, columns[n])
    dw = dw.reshape(w.shape)
    dcolumns = np.matmul(dout_rows, w.reshape(F, -1))
    dx_padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(H_out):
        for j in range(W_out):
            h_start = i * stride
            w_start = j * stride
            patch_grad = dcolumns[:, i * W_out + j, :].reshape(N, C, HH, WW)
            dx_padded[:, :, h_start : h_start + HH, w_start : w_start + WW] += patch_grad
    dx = dx_padded[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db
""",
        "max_pool": """
def max_pool_forward_naive(x, pool_param):
    pool_height = pool_param["pool_height"]
    pool_width = pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = (H - pool_height) // stride + 1
    W_out = (W - pool_width) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h_start = i * stride
                    w_start = j * stride
                    region = x[n, c, h_start : h_start + pool_height, w_start : w_start + pool_width]
                    out[n, c, i, j] = region.max()
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    pool_height = pool_param["pool_height"]
    pool_width = pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h_start = i * stride
                    w_start = j * stride
                    region = x[n, c, h_start : h_start + pool_height, w_start : w_start + pool_width]
                    index = np.argmax(region)
                    row = index // pool_width
                    col = index % pool_width
                    dx[n, c, h_start + row, w_start + col] += dout[n, c, i, j]
    return dx
""",
        "sgd_momentum": """
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    learning_rate = config.get("learning_rate", 1e-2)
    momentum = config.get("momentum", 0.9)
    config["learning_rate"] = learning_rate
    config["momentum"] = momentum
    if "velocity" in config:
        velocity = config["velocity"]
    else:
        velocity = np.zeros_like(w)
    velocity = momentum * velocity
    velocity = velocity - learning_rate * dw
    next_w = w + velocity
    config["velocity"] = velocity
    return next_w, config
""",
        "adam": """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    learning_rate = config["learning_rate"]
    beta1 = config["beta1"]
    beta2 = config["beta2"]
    epsilon = config["epsilon"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * dw * dw
    m_hat = m / (1 - np.power(beta1, t))
    v_hat = v / (1 - np.power(beta2, t))
    next_w = w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    config["m"] = m
    config["v"] = v
    config["t"] = t
    return next_w, config
""",
    },
    "compact": {
        "batchnorm": """
def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    mean_run = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    var_run = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    if bn_param["mode"] == "train":
        mu, var = np.mean(x, axis=0), np.var(x, axis=0)
        mean_run = momentum * mean_run + (1 - momentum) * mu
        var_run = momentum * var_run + (1 - momentum) * var
    else:
        mu, var = mean_run, var_run
    bn_param.update(running_mean=mean_run, running_var=var_run)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, mu, var, eps, gamma)


def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache
    m = x.shape[0]
    t = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * t
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx = (gamma * t / m) * (m * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
""",
        "dropout": """
def dropout_forward(x, dropout_param):
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    train = dropout_param["mode"] == "train"
    mask = (np.random.rand(*x.shape) < dropout_param["p"]) / dropout_param["p"] if train else np.ones_like(x)
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout * cache
""",
        "conv": """
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad : pad + h, pad : pad + wd] = x
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for k in range(f):
        for i in range(oh):
            for j in range(ow):
                region = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                out[:, k, i, j] = (region * w[k]).sum(axis=(1, 2, 3)) + b[k]
    return out, (xp, w, b, conv_param, x.shape)


def conv_backward_naive(dout, cache):
    xp, w, b, conv_param, shape = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    f, _, kh, kw = w.shape
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    for k in range(f):
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, k, i, j][:, None, None, None]
                rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                dw[k] += (xp[:, :, rows, cols] * g).sum(axis=0)
                dxp[:, :, rows, cols] += g * w[k]
    return dxp[:, :, pad : pad + shape[2], pad : pad + shape[3]], dw, db
""",
        "max_pool": """
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    rows = range(0, x.shape[2] - ph + 1, s)
    cols = range(0, x.shape[3] - pw + 1, s)
    out = np.array([[x[:, :, i : i + ph, j : j + pw].max(axis=(2, 3)) for j in cols] for i in rows])
    return out.transpose(2, 3, 0, 1), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for a, i in enumerate(range(0, x.shape[2] - ph + 1, s)):
        for b, j in enumerate(range(0, x.shape[3] - pw + 1, s)):
            window = x[:, :, i : i + ph, j : j + pw]
            top = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i : i + ph, j : j + pw] += top * dout[:, :, a, b][:, :, None, None]
    return dx
""",
        "sgd_momentum": """
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    config.setdefault("velocity", np.zeros_like(w))
    config["velocity"] = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return w + config["velocity"], config
""",
        "adam": """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8), ("t", 0)):
        config.setdefault(key, value)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config["t"] = t = config["t"] + 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    corrected = config["m"] / (1 - config["beta1"] ** t), config["v"] / (1 - config["beta2"] ** t)
    return w - config["learning_rate"] * corrected[0] / (np.sqrt(corrected[1]) + config["epsilon"]), config
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
