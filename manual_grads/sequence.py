"""Recurrent layers and their helpers in the CS231n convention: x (N, T, D), hidden states (N, H)."""

from ._xp import astype, concat, namespace, one_hot, scatter_add, stable_sigmoid


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b)."""
    xp = namespace(x, Wx)
    next_h = xp.tanh(xp.matmul(x, Wx) + xp.matmul(prev_h, Wh) + b[None, :])
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """(dx, dprev_h, dWx, dWh, db)."""
    xp = namespace(dnext_h)
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h * next_h)
    return (xp.matmul(da, Wx.T), xp.matmul(da, Wh.T), xp.matmul(x.T, da), xp.matmul(prev_h.T, da), xp.sum(da, axis=0))


def rnn_forward(x, h0, Wx, Wh, b):
    """h (N, T, H): rnn_step over the T time steps, starting from h0."""
    xp = namespace(x, Wx)
    h, caches = h0, []
    states = []
    for t in range(x.shape[1]):
        h, cache = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        states.append(h)
        caches.append(cache)
    return xp.stack(states, axis=1), caches


def rnn_backward(dh, caches):
    """(dx, dh0, dWx, dWh, db): backwards through time; each step's dprev_h joins the next dh."""
    xp = namespace(dh)
    dprev = xp.zeros_like(dh[:, 0, :])
    dxs = []
    dWx = dWh = db = None
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev, caches[t])
        dxs.append(dx_t)
        dWx, dWh, db = (dWx_t, dWh_t, db_t) if dWx is None else (dWx + dWx_t, dWh + dWh_t, db + db_t)
    return xp.stack(dxs[::-1], axis=1), dprev, dWx, dWh, db


def word_embedding_forward(x, W):
    """out[n, t] = W[x[n, t]]; x holds integer indices into the V rows of W (V, D)."""
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    """dW only (x is integer): rows that repeat in x add up, as np.add.at does.

    NumPy adds in place (np.add.at). Elsewhere a one-hot product: a GPU scatter-add uses atomics
    whose order varies, so two runs would differ in the last bits (measured on CuPy, H100)."""
    xp = namespace(dout)
    x, shape = cache
    if xp.__name__ == "numpy":
        return scatter_add(xp.zeros(shape, dtype=dout.dtype), x, dout)
    rows = xp.reshape(x, (-1,))
    words = one_hot(rows, shape[0], dout)  # (N*T, V)
    return xp.matmul(words.T, xp.reshape(dout, (rows.shape[0], shape[1])))


def temporal_affine_forward(x, w, b):
    """out (N, T, M) = x (N, T, D) w + b at every time step."""
    xp = namespace(x, w)
    n, t, d = x.shape
    out = xp.matmul(xp.reshape(x, (n * t, d)), w) + b[None, :]
    return xp.reshape(out, (n, t, w.shape[1])), (x, w)


def temporal_affine_backward(dout, cache):
    """(dx, dw, db)."""
    xp = namespace(dout)
    x, w = cache
    n, t, d = x.shape
    d2 = xp.reshape(dout, (n * t, -1))
    dx = xp.reshape(xp.matmul(d2, w.T), x.shape)
    return dx, xp.matmul(xp.reshape(x, (n * t, d)).T, d2), xp.sum(d2, axis=0)


def temporal_softmax_loss(x, y, mask):
    """Softmax loss summed over the time steps where mask is true, divided by N. Returns (loss, dx)."""
    xp = namespace(x)
    n, t, v = x.shape
    scores = xp.reshape(x, (n * t, v))
    shifted = scores - xp.max(scores, axis=1, keepdims=True)
    dx = xp.exp(shifted)
    sums = xp.sum(dx, axis=1, keepdims=True)
    target = one_hot(xp.reshape(y, (n * t,)), v, scores)
    keep = astype(xp.reshape(mask, (n * t, 1)), x.dtype)
    loss = (xp.sum(keep * xp.log(sums)) - xp.sum(keep * shifted * target)) / n
    dx = (dx / sums - target) * keep / n
    return loss, xp.reshape(dx, x.shape)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """Returns (next_h, next_c, cache): gates i, f, o = sigma(.), g = tanh(.) from a = x Wx + prev_h Wh + b."""
    xp = namespace(x, Wx)
    h = prev_h.shape[1]
    a = xp.matmul(x, Wx) + xp.matmul(prev_h, Wh) + b[None, :]
    i, f, o = (stable_sigmoid(a[:, k * h : (k + 1) * h]) for k in range(3))
    g = xp.tanh(a[:, 3 * h :])
    next_c = f * prev_c + i * g
    tanh_c = xp.tanh(next_c)
    return o * tanh_c, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """(dx, dprev_h, dprev_c, dWx, dWh, db); the cell state's gradient gets both paths (a fork)."""
    xp = namespace(dnext_h)
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    da = concat(
        xp,
        [dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g * g)],
        axis=1,
    )
    return (
        xp.matmul(da, Wx.T),
        xp.matmul(da, Wh.T),
        dc * f,
        xp.matmul(x.T, da),
        xp.matmul(prev_h.T, da),
        xp.sum(da, axis=0),
    )


def lstm_forward(x, h0, Wx, Wh, b):
    """h (N, T, H) over T steps from h0, with the cell state starting at 0."""
    xp = namespace(x, Wx)
    h, c = h0, xp.zeros_like(h0)
    states, caches = [], []
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t, :], h, c, Wx, Wh, b)
        states.append(h)
        caches.append(cache)
    return xp.stack(states, axis=1), caches


def lstm_backward(dh, caches):
    """(dx, dh0, dWx, dWh, db)."""
    xp = namespace(dh)
    dprev_h = xp.zeros_like(dh[:, 0, :])
    dprev_c = xp.zeros_like(dprev_h)
    dxs, totals = [], None
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev_h, dprev_c, *weights = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, caches[t])
        dxs.append(dx_t)
        totals = weights if totals is None else [a + b for a, b in zip(totals, weights)]
    return (xp.stack(dxs[::-1], axis=1), dprev_h, *totals)


def temporal_softmax_ignore(x, y, ignore_index):
    """temporal_softmax_loss over the steps whose label is not ignore_index: (loss, dx)."""
    return temporal_softmax_loss(x, y, y != ignore_index)


def dot_product_attention_forward(prev_h, A):
    """(attn (N, H), cache): A (N, H, D, D) weighted by softmax(prev_h . A / sqrt(H)) over its D*D positions."""
    xp = namespace(prev_h, A)
    n, h, d, _ = A.shape
    flat = xp.reshape(A, (n, h, d * d))
    logits = xp.sum(prev_h[:, :, None] * flat, axis=1) / h**0.5
    shifted = xp.exp(logits - xp.max(logits, axis=1, keepdims=True))
    weights = shifted / xp.sum(shifted, axis=1, keepdims=True)
    return xp.sum(flat * weights[:, None, :], axis=2), (prev_h, flat, weights, A.shape)


def dot_product_attention_backward(dattn, cache):
    """(dprev_h, dA)."""
    xp = namespace(dattn)
    prev_h, flat, weights, shape = cache
    dweights = xp.sum(flat * dattn[:, :, None], axis=1)
    dscores = weights * (dweights - xp.sum(weights * dweights, axis=1, keepdims=True)) / shape[1] ** 0.5
    dprev_h = xp.sum(flat * dscores[:, None, :], axis=2)
    dflat = dattn[:, :, None] * weights[:, None, :] + prev_h[:, :, None] * dscores[:, None, :]
    return dprev_h, xp.reshape(dflat, shape)
