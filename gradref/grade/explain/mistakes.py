"""The mistake catalogue: per op, the mistakes students really make, one line each.

Each entry is a variant of the reference with that one mistake, written in NumPy (float64): it takes
the sample's arguments `a`, the upstream gradient `dout` and what the student's code returned `got`
(dropout needs its own mask) and returns the quantities the mistaken code produces: gradients by
name (dx, dw, ...), "out" (a forward's output), "loss", or for an update rule "step" (next_w - w)
and "config['name']". The grader evaluates them in its own process and names the first entry whose
quantities match the student's; entries are listed simplest first. The same table serves
`gradref.testing`, and the README lists it.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

import manual_grads as mg

# Dropout as first published: kept units unscaled in train mode, every unit times p at test time.
NOT_INVERTED = (
    "this is dropout as first published (kept units unscaled, every unit times the keep probability at test "
    "time); the course's is inverted dropout: train mode divides the kept units by it, so test mode returns x"
)


@dataclass(frozen=True)
class Mistake:
    op: str
    key: str
    says: str  # what is wrong, in a student's words
    look_at: str  # the line of the formula to look at
    variant: Callable  # (a, dout, got) -> {quantity: value}


# ----- helpers: the right pieces, from which each mistake departs -----


def _flat(x):
    return x.reshape(x.shape[0], -1)


def _affine_grads(x, w, dmid):
    return {"dx": (dmid @ w.T).reshape(x.shape), "dw": _flat(x).T @ dmid, "db": dmid.sum(axis=0)}


def _softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(x):
    """log(softmax(x)) in log space: finite where the scores are extreme, as a student's loss is."""
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _one_hot(y, classes):
    return np.eye(classes)[y]


def _quiet(fn):
    """Evaluate a variant that overflows on purpose without warnings."""

    def wrapped(a, dout, got):
        with np.errstate(all="ignore"):
            return fn(a, dout, got)

    return wrapped


def _bn_parts(x, eps, axis=0, ddof=0):
    mean = x.mean(axis=axis, keepdims=True)
    std = np.sqrt(x.var(axis=axis, keepdims=True, ddof=ddof) + eps)
    return (x - mean) / std, std


def _bn_out(a, axis=0, ddof=0):
    eps = a["bn_param"].get("eps", 1e-5)
    xhat, _ = _bn_parts(a["x"], eps, axis, ddof)
    return {"out": a["gamma"] * xhat + a["beta"]}


def _sbn_not_transposed_back(a, dout, got):
    """Spatial batch norm done right on rows (N*H*W, C), reshaped straight back to (N, C, H, W)."""
    x, p = a["x"], a["bn_param"]
    rows = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
    if p.get("mode") == "train":
        xhat = _bn_parts(rows, p.get("eps", 1e-5))[0]
    elif "running_mean" in p and "running_var" in p:
        xhat = (rows - p["running_mean"]) / np.sqrt(p["running_var"] + p.get("eps", 1e-5))
    else:
        return {}
    return {"out": (a["gamma"] * xhat + a["beta"]).reshape(x.shape)}


def _bn_backward(a, dout, terms="all"):
    """batchnorm's dx with all its terms, without the mean's, or without the variance's."""
    xhat, std = _bn_parts(a["x"], a["bn_param"].get("eps", 1e-5))
    g = dout * a["gamma"]
    if terms == "none":
        return g / std
    if terms == "no_variance":
        return (g - g.mean(axis=0)) / std
    return (g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0)) / std


def _bn_test_with_batch_stats(a, dout, got):
    if a["bn_param"].get("mode") != "test":
        return {}
    return _bn_out(a)


def _bn_running(a, stored=True, swapped=False):
    """Train mode's running statistics as written by a student: computed and never stored back in
    bn_param (it keeps what it held), or with momentum on the batch's statistics instead of the old ones."""
    p = a["bn_param"]
    if p.get("mode") != "train" or "running_mean" not in p or "running_var" not in p:
        return {}
    old = {"mean": np.asarray(p["running_mean"], np.float64), "var": np.asarray(p["running_var"], np.float64)}
    if not stored:
        return {f"bn_param['running_{k}']": v for k, v in old.items()}
    m = p.get("momentum", 0.9)
    new = {"mean": a["x"].mean(axis=0), "var": a["x"].var(axis=0)}
    keep, take = (1 - m, m) if swapped else (m, 1 - m)
    return {f"bn_param['running_{k}']": keep * old[k] + take * new[k] for k in old}


def _bn_test(a, root=True, scale_shift=True):
    """Test mode with the running statistics, as written by a student: without the square root of
    the variance, or without gamma and beta."""
    p = a["bn_param"]
    if p.get("mode") != "test":
        return {}
    var = p["running_var"] + p.get("eps", 1e-5)
    xhat = (a["x"] - p["running_mean"]) / (np.sqrt(var) if root else var)
    return {"out": a["gamma"] * xhat + a["beta"] if scale_shift else xhat}


# ----- convolution and pooling -----


def _conv_cache(a, w=None):
    return mg.conv_forward_naive(a["x"], a["w"] if w is None else w, a["b"], a["conv_param"])


def _conv_flipped(a, dout, got):
    return {"out": _conv_cache(a, a["w"][:, :, ::-1, ::-1])[0]}


def _conv_without_bias(a, dout, got):
    return {"out": mg.conv_forward_naive(a["x"], a["w"], np.zeros_like(a["b"]), a["conv_param"])[0]}


def _conv_pad_slice(a, dout, got):
    pad = a["conv_param"]["pad"]
    if pad:
        return {}
    n, c = a["x"].shape[:2]
    return {"dx": np.zeros((n, c, 0, 0))}


def _conv_dx_padded(a, dout, got):
    """dx as the padded input's gradient (N, C, H + 2 pad, W + 2 pad), never cropped."""
    pad = a["conv_param"]["pad"]
    if not pad:
        return {}
    xpad = np.pad(a["x"], ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cache = mg.conv_forward_naive(xpad, a["w"], a["b"], dict(a["conv_param"], pad=0))[1]
    return {"dx": mg.conv_backward_naive(dout, cache)[0]}


def _conv_dw_last_window(a, dout, got):
    x, w, param = a["x"], a["w"], a["conv_param"]
    stride, pad = param["stride"], param["pad"]
    hh, ww = w.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    i, j = dout.shape[2] - 1, dout.shape[3] - 1
    window = xpad[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
    return {"dw": np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))}


def _pool_windows(a):
    p = a["pool_param"]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    x = a["x"]
    ho, wo = 1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s
    for i in range(ho):
        for j in range(wo):
            yield i, j, (slice(None), slice(None), slice(i * s, i * s + ph), slice(j * s, j * s + pw))


def _pool_assign(a, dout, got):
    """dx[window] = mask * dout: each window overwrites what an overlapping one wrote before it."""
    x, dx = a["x"], np.zeros_like(a["x"])
    for i, j, where in _pool_windows(a):
        window = x[where]
        dx[where] = (window == window.max(axis=(2, 3), keepdims=True)) * dout[:, :, i, j][:, :, None, None]
    return {"dx": dx}


def _pool_argmax_assigned(a, dout, got):
    """dx[argmax] = dout[n, c, i, j]: where one value is the maximum of two overlapping windows, the
    later window's gradient replaces the earlier one's instead of adding to it."""
    x, dx = a["x"], np.zeros_like(a["x"])
    n, c = np.indices(x.shape[:2])
    for i, j, where in _pool_windows(a):
        window = x[where]
        flat = window.reshape(*window.shape[:2], -1).argmax(axis=2)
        r, q = np.unravel_index(flat, window.shape[2:])
        dx[n, c, where[2].start + r, where[3].start + q] = dout[:, :, i, j]
    return {"dx": dx}


def _pool_argmax_unravelled_swapped(a, dout, got):
    """The window's argmax unravelled with (pool_width, pool_height): on a window that is not square,
    the gradient lands on another position than the maximum's (or outside x, where the code breaks)."""
    p, x = a["pool_param"], a["x"]
    if p["pool_height"] == p["pool_width"]:
        return {}
    dx = np.zeros_like(x)
    n, c = np.indices(x.shape[:2])
    for i, j, where in _pool_windows(a):
        window = x[where]
        flat = window.reshape(*window.shape[:2], -1).argmax(axis=2)
        r, q = np.unravel_index(flat, (p["pool_width"], p["pool_height"]))
        rows, cols = where[2].start + r, where[3].start + q
        if rows.max() >= x.shape[2] or cols.max() >= x.shape[3]:
            return {}  # the student's code raises here: nothing to compare
        np.add.at(dx, (n, c, rows, cols), dout[:, :, i, j])
    return {"dx": dx}


def _pooled(x, ho, wo, ph, pw, step):
    """Max pooling's output of ho x wo windows of ph x pw, window (i, j) at row i * step, column j * step."""
    out = np.empty(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * step : i * step + ph, j * step : j * step + pw].max(axis=(2, 3))
    return out


def _pool_stride_ignored(a, dout, got):
    """Windows taken at (i, j) instead of (i * stride, j * stride)."""
    p, x = a["pool_param"], a["x"]
    if p["stride"] == 1:
        return {}
    ho, wo = 1 + (x.shape[2] - p["pool_height"]) // p["stride"], 1 + (x.shape[3] - p["pool_width"]) // p["stride"]
    return {"out": _pooled(x, ho, wo, p["pool_height"], p["pool_width"], 1)}


def _pool_size_without_stride(a, dout, got):
    """H // pool_height rows and W // pool_width columns of windows, each at i * stride, j * stride."""
    p, x = a["pool_param"], a["x"]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    ho, wo = x.shape[2] // ph, x.shape[3] // pw
    if (ho, wo) == (1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s) or (ho - 1) * s + ph > x.shape[2]:
        return {}  # the right size, or windows past the edge (where the code breaks)
    if (wo - 1) * s + pw > x.shape[3]:
        return {}
    return {"out": _pooled(x, ho, wo, ph, pw, s)}


def _pool_whole_window(a, dout, got):
    dx = np.zeros_like(a["x"])
    for i, j, where in _pool_windows(a):
        dx[where] += dout[:, :, i, j][:, :, None, None]
    return {"dx": dx}


def _pool_swapped(a, dout, got):
    p = a["pool_param"]
    if p["pool_height"] == p["pool_width"]:
        return {}
    swapped = {**p, "pool_height": p["pool_width"], "pool_width": p["pool_height"]}
    try:
        return {"out": mg.max_pool_forward_naive(a["x"], swapped)[0]}
    except ValueError:
        return {}


# ----- recurrent layers -----


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _rnn_step_grads(a, dnext, da_rule):
    x, h, Wx, Wh, b = a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"]
    pre = x @ Wx + h @ Wh + b
    da = da_rule(dnext, pre, np.tanh(pre))
    return {"dx": da @ Wx.T, "dprev_h": da @ Wh.T, "dWx": x.T @ da, "dWh": h.T @ da, "db": da.sum(axis=0)}


def _rnn_no_carry(a, dout, got):
    """Backward through time without adding the next step's dprev_h to dh[:, t]."""
    _, caches = mg.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    dxs, totals, dprev = [], None, None
    for t in reversed(range(dout.shape[1])):
        dx_t, dprev, *weights = mg.rnn_step_backward(dout[:, t, :], caches[t])
        dxs.append(dx_t)
        totals = weights if totals is None else [p + q for p, q in zip(totals, weights)]
    return {"dx": np.stack(dxs[::-1], axis=1), "dh0": dprev, "dWx": totals[0], "dWh": totals[1], "db": totals[2]}


def _rnn_forward_order(a, dout, got):
    """Backward through time run from the first step up, carrying dprev_h the wrong way."""
    _, caches = mg.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    if dout.shape[1] < 2:
        return {}
    dxs, totals, dprev = [], None, np.zeros_like(dout[:, 0, :])
    for t in range(dout.shape[1]):
        dx_t, dprev, *weights = mg.rnn_step_backward(dout[:, t, :] + dprev, caches[t])
        dxs.append(dx_t)
        totals = weights if totals is None else [p + q for p, q in zip(totals, weights)]
    return {"dx": np.stack(dxs, axis=1), "dh0": dprev, "dWx": totals[0], "dWh": totals[1], "db": totals[2]}


def _lstm_step(
    a,
    dnext_h,
    dnext_c,
    order="ifog",
    tanh_c_from="next",
    cell_path=True,
    f_in_dprev_c=True,
    g_squash=np.tanh,
    o_prime=True,
):
    """An LSTM step forward and backward with one of the course's mistakes switched on."""
    x, h, c, Wx, Wh, b = a["x"], a["prev_h"], a["prev_c"], a["Wx"], a["Wh"], a["b"]
    n = h.shape[1]
    pre = x @ Wx + h @ Wh + b
    blocks = {name: pre[:, k * n : (k + 1) * n] for k, name in enumerate(order)}
    i, f, o, g = (_sigmoid(blocks["i"]), _sigmoid(blocks["f"]), _sigmoid(blocks["o"]), g_squash(blocks["g"]))
    next_c = f * c + i * g
    next_h = o * np.tanh(next_c)
    tc = np.tanh(next_c if tanh_c_from == "next" else c)
    dc = dnext_c + (dnext_h * o * (1 - tc * tc) if cell_path else 0)
    grads = {
        "i": dc * g * i * (1 - i),
        "f": dc * c * f * (1 - f),
        "o": dnext_h * np.tanh(next_c) * (o * (1 - o) if o_prime else 1),
        "g": dc * i * ((1 - g * g) if g_squash is np.tanh else g * (1 - g)),
    }
    da = np.concatenate([grads[name] for name in order], axis=1)
    return {
        "out": np.stack([next_h, next_c]),
        "dx": da @ Wx.T,
        "dprev_h": da @ Wh.T,
        "dprev_c": dc * f if f_in_dprev_c else dc,
        "dWx": x.T @ da,
        "dWh": h.T @ da,
        "db": da.sum(axis=0),
    }


def _lstm_variant(**mistake):
    return lambda a, dout, got: _lstm_step(a, dout[0], dout[1], **mistake)


def _lstm_seq(a, dout, carry_cell=True, zero_dh0=False):
    _, caches = mg.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    dprev_h = np.zeros_like(dout[:, 0, :])
    dprev_c = np.zeros_like(dprev_h)
    dxs, totals = [], None
    for t in reversed(range(dout.shape[1])):
        dx_t, dprev_h, dprev_c, *weights = mg.lstm_step_backward(
            dout[:, t, :] + dprev_h, dprev_c if carry_cell else 0 * dprev_c, caches[t]
        )
        dxs.append(dx_t)
        totals = weights if totals is None else [p + q for p, q in zip(totals, weights)]
    return {
        "dx": np.stack(dxs[::-1], axis=1),
        "dh0": 0 * dprev_h if zero_dh0 else dprev_h,
        "dWx": totals[0],
        "dWh": totals[1],
        "db": totals[2],
    }


# ----- losses -----


def _softmax_parts(a):
    x, y = a["x"], a["y"]
    n = x.shape[0]
    return x, y, n, _softmax(x), _one_hot(y, x.shape[1])


def _softmax_unshifted(a, dout, got):
    x, y, n, _, onehot = _softmax_parts(a)
    e = np.exp(x)
    p = e / e.sum(axis=1, keepdims=True)
    return {"loss": -np.mean(np.log(p[np.arange(n), y])), "dx": (p - onehot) / n}


def _softmax_log_of_prob(a, dout, got):
    x, y, n, p, _ = _softmax_parts(a)
    return {"loss": -np.mean(np.log(p[np.arange(n), y]))}


def _svm(a, delta=1.0, count_correct=False, correct_sign=-1):
    x, y = a["x"], a["y"]
    n = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(n), y][:, None] + delta)
    if not count_correct:
        margins[np.arange(n), y] = 0
    dx = (margins > 0).astype(float)
    dx[np.arange(n), y] += correct_sign * (margins > 0).sum(axis=1)
    return {"loss": margins.sum() / n, "dx": dx / n}


def _svm_other_margin(a, got):
    """The svm loss and dx at the margin that gives the student's loss (the loss grows with the
    margin, so bisection finds it), or nothing where that margin is 1 or no margin gives it."""
    target = got.get("loss")
    if target is None or np.size(target) != 1 or not np.isfinite(target) or float(target) <= 0:
        return {}
    target, low, high = float(target), -1.0, 1.0
    while _svm(a, high)["loss"] < target:
        high *= 2
        if high > 1e6:
            return {}
    if _svm(a, low)["loss"] > target:
        return {}
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if _svm(a, middle)["loss"] < target else (low, middle)
    delta = (low + high) / 2
    return {} if abs(delta - 1) < 1e-9 else _svm(a, delta)


def _linear(a, which, mean=True, reg_factor=2.0):
    """A linear classifier's loss and dW (svm or softmax on X @ W): the data loss a mean or (mean=False)
    a sum over the rows, and the regularisation's gradient reg_factor * reg * W."""
    W, X, y, reg = a["W"], a["X"], a["y"], float(a["reg"])
    scores, n = X @ W, X.shape[0]
    if which == "svm":
        parts = _svm({"x": scores, "y": y})
        data_loss, dscores = parts["loss"], parts["dx"]
    else:
        p = _softmax(scores)
        data_loss = -np.log(p[np.arange(n), y]).mean()
        dscores = (p - _one_hot(y, W.shape[1])) / n
    loss = (data_loss if mean else data_loss * n) + reg * np.sum(W * W)
    return {"loss": loss, "dW": X.T @ dscores + reg_factor * reg * W}


def _linear_softmax_over_samples(a, got, normalised=1, shifted=1):
    """A linear softmax whose probabilities divide by a sum over `normalised` and whose scores are
    shifted by a maximum over `shifted` (axis 1 is right for both; 0 takes them over the samples), in
    the regularisation convention whose loss is nearer the student's (when both conventions fail,
    the grader cannot tell which one the code follows: this mistake is the axis, not the factor)."""
    made = [_softmax_over(a, half, normalised, shifted) for half in (1.0, 0.5)]
    mine = got.get("loss")
    if mine is None or np.size(mine) != 1:
        return made[0]
    return min(made, key=lambda m: abs(float(m["loss"]) - float(np.ravel(mine)[0])))


def _softmax_over(a, half, normalised, shifted):
    W, X, y, reg = a["W"], a["X"], a["y"], float(a["reg"])
    scores, n = X @ W, X.shape[0]
    e = np.exp(scores - scores.max(axis=shifted, keepdims=True))
    p = e / e.sum(axis=normalised, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean() + half * reg * np.sum(W * W)
    return {"loss": loss, "dW": X.T @ ((p - _one_hot(y, W.shape[1])) / n) + 2 * half * reg * W}


def _linear_gradient_summed(a, which):
    """dW with the data part summed over the rows instead of averaged."""
    regularised = 2.0 * float(a["reg"]) * a["W"]
    return (_linear(a, which)["dW"] - regularised) * a["X"].shape[0] + regularised


# A model's loss and gradients (the grader's registry ops) and the factor of reg in its loss.
MODEL_OPS = {
    "two_layer_net": (mg.two_layer_net_loss, 0.5),
    "two_layer_net_full": (mg.two_layer_net_loss_full, 1.0),
    "fc_net": (mg.fc_net_loss, 0.5),
    "fc_net_full": (mg.fc_net_loss_full, 1.0),
    "three_layer_convnet": (mg.three_layer_convnet_loss, 0.5),
    "three_layer_convnet_full": (mg.three_layer_convnet_loss_full, 1.0),
    "fc_net_batchnorm": (mg.fc_net_batchnorm_loss, 0.5),
    "fc_net_batchnorm_full": (mg.fc_net_batchnorm_loss_full, 1.0),
    "fc_net_layernorm": (mg.fc_net_layernorm_loss, 0.5),
    "fc_net_layernorm_full": (mg.fc_net_layernorm_loss_full, 1.0),
}


def _params(a, kind):
    return sorted((k for k in a if k[:1] == kind and k[1:].isdigit()), key=lambda k: int(k[1:]))


def _model_regularised(op, a, loss_factor=1.0, grad_factor=1.0, biases=False, norms=False):
    """A model's right loss and gradients with its regularisation's term scaled by `loss_factor` in the
    loss and by `grad_factor` in the gradients (0: left out), and the biases regularised too (`biases`),
    and the normalisations' gamma and beta (`norms`)."""
    manual, half = MODEL_OPS[op]
    reg = float(a.get("reg", 0.0))
    loss, grads = manual(**a)
    out = {"loss": float(loss), **{"d" + k: np.asarray(v, np.float64) for k, v in grads.items()}}
    for W in _params(a, "W"):
        out["loss"] += (loss_factor - 1.0) * half * reg * np.sum(a[W] ** 2)
        out["d" + W] = out["d" + W] + (grad_factor - 1.0) * 2 * half * reg * a[W]
    extra = (_params(a, "b") if biases else []) + (_norm_params(a) if norms else [])
    for b in extra:
        out["loss"] += half * reg * np.sum(a[b] ** 2)
        out["d" + b] = out["d" + b] + 2 * half * reg * a[b]
    return out


def _norm_params(a):
    return [k for k in a if k.startswith(("gamma", "beta")) and k.lstrip("gamebt").isdigit()]


def _where_reproduced(produced, got):
    """The quantities of `produced` that the student's code gave (a mistake made in some layers only:
    the regularisation's gradient left out of the hidden layers' weights but not the last one's)."""
    from .diagnose import close  # diagnose imports this catalogue: its comparison is read at call time

    return {name: value for name, value in produced.items() if close(got.get(name), value)}


def _model_relu_skipped(op, a):
    """A fully connected model whose backward leaves out the hidden layers' ReLUs (affine after affine)."""
    if op.startswith("three_layer_convnet") or _norm_params(a):
        return {}
    _, half = MODEL_OPS[op]
    y, reg = a["y"], float(a.get("reg", 0.0))
    layers = list(zip(_params(a, "W"), _params(a, "b")))
    hidden, caches = a["X"], []
    for W, b in layers[:-1]:
        out, cache = mg.affine_forward(hidden, a[W], a[b])
        hidden = np.maximum(out, 0)
        caches.append(cache)
    scores, last = mg.affine_forward(hidden, a[layers[-1][0]], a[layers[-1][1]])
    loss, dout = mg.softmax_loss(scores, y)
    grads = {"loss": float(loss) + half * reg * sum(np.sum(a[W] ** 2) for W, _ in layers)}
    for (W, b), cache in reversed(list(zip(layers, caches + [last]))):
        dout, grads["d" + W], grads["d" + b] = mg.affine_backward(dout, cache)
        grads["d" + W] = grads["d" + W] + 2 * half * reg * a[W]
    return grads


def _model_relu_on_scores(op, a):
    """A model whose output scores go through a ReLU too, forward and backward (built here for the
    models without a normalisation)."""
    if _norm_params(a):
        return {}
    _, half = MODEL_OPS[op]
    X, y, reg = a["X"], a["y"], float(a.get("reg", 0.0))
    weights, biases = _params(a, "W"), _params(a, "b")
    caches, hidden = [], X
    if op.startswith("three_layer_convnet"):
        conv = {"stride": 1, "pad": (a["W1"].shape[2] - 1) // 2}
        hidden, first = mg.conv_relu_pool_forward(
            X, a["W1"], a["b1"], conv, {"pool_height": 2, "pool_width": 2, "stride": 2}
        )
    layers = list(zip(weights, biases))[1 if op.startswith("three_layer_convnet") else 0 :]
    for W, b in layers:
        hidden, cache = mg.affine_relu_forward(hidden, a[W], a[b])
        caches.append(cache)
    loss, dscores = mg.softmax_loss(hidden, y)
    out = {"loss": float(loss) + half * reg * sum(np.sum(a[W] ** 2) for W in weights)}
    for (W, b), cache in reversed(list(zip(layers, caches))):
        dscores, out["d" + W], out["d" + b] = mg.affine_relu_backward(dscores, cache)
    if op.startswith("three_layer_convnet"):
        _, out["dW1"], out["db1"] = mg.conv_relu_pool_backward(dscores, first)
    for W in weights:
        out["d" + W] = out["d" + W] + 2 * half * reg * a[W]
    return out


def _model_mistakes(M):
    """The mistakes of a model's own composition, for every model op (its layers being right)."""
    for op, (_, half) in MODEL_OPS.items():
        other = 2.0 if half == 0.5 else 0.5  # the gradient or loss of the other convention
        reg_loss = "0.5 * reg * np.sum(W * W)" if half == 0.5 else "reg * np.sum(W * W)"
        reg_grad = "reg * W" if half == 0.5 else "2 * reg * W"
        yield from (
            M(
                op,
                "biases_regularised",
                "the biases are regularised too: the course regularises the weights W1, W2, ... only",
                f"loss += {reg_loss} for each W (never b)",
                lambda a, d, g, op=op: _model_regularised(op, a, biases=True),
            ),
            M(
                op,
                "every_param_regularised",
                "every parameter is regularised (the biases, and the normalisations' gamma and beta too): the "
                "course regularises the weights W1, W2, ... only",
                f"loss += {reg_loss} for each W (never b, gamma or beta)",
                lambda a, d, g, op=op: _model_regularised(op, a, biases=True, norms=True) if _norm_params(a) else {},
            ),
            M(
                op,
                "reg_not_in_loss",
                "the loss leaves out the regularisation that the gradients add",
                f"loss += {reg_loss} for each W",
                lambda a, d, g, op=op: {"loss": _model_regularised(op, a, loss_factor=0.0)["loss"]},
            ),
            M(
                op,
                "reg_not_in_gradient",
                "the gradients of the weights leave out the regularisation's term",
                f"grads['W1'] += {reg_grad}",
                lambda a, d, g, op=op: _where_reproduced(
                    {k: v for k, v in _model_regularised(op, a, grad_factor=0.0).items() if k.startswith("dW")}, g
                ),
            ),
            M(
                op,
                "reg_gradient_factor",
                f"the regularisation's gradient is off by a factor {other:g}: the derivative of {reg_loss} is {reg_grad}",
                f"grads['W1'] += {reg_grad}",
                lambda a, d, g, op=op, f=other: {
                    k: v for k, v in _model_regularised(op, a, grad_factor=f).items() if k != "loss"
                },
            ),
            M(
                op,
                "reg_loss_factor",
                f"the regularisation in the loss is off by a factor {other:g} (its gradient {reg_grad} is right): "
                f"the loss adds {reg_loss}",
                f"loss += {reg_loss}",
                lambda a, d, g, op=op, f=other: {"loss": _model_regularised(op, a, loss_factor=f)["loss"]},
            ),
            M(
                op,
                "relu_mask_missing",
                "the backward skips the hidden layers' ReLUs: mask the upstream gradient with relu_backward "
                "before each hidden affine layer's backward",
                "dhidden = relu_backward(dhidden, relu_cache)",
                lambda a, d, g, op=op: _model_relu_skipped(op, a),
            ),
            M(
                op,
                "relu_on_scores",
                "the output scores go through a ReLU: the last affine layer feeds the softmax directly",
                "scores, cache = affine_forward(hidden, W, b)  # no ReLU after the last layer",
                lambda a, d, g, op=op: _model_relu_on_scores(op, a),
            ),
        )


def _temporal(a, divide_by="n", use_mask=True):
    x, y, mask = a["x"], a["y"], a["mask"]
    n, t, v = x.shape
    p = _softmax(x.reshape(n * t, v))
    keep = mask.reshape(n * t).astype(float) if use_mask else np.ones(n * t)
    denominator = {"n": n, "nt": n * t, "mask": keep.sum()}[divide_by]
    loss = -np.sum(keep * np.log(p[np.arange(n * t), y.reshape(-1)])) / denominator
    dx = (p - _one_hot(y.reshape(-1), v)) * keep[:, None] / denominator
    return {"loss": loss, "dx": dx.reshape(x.shape)}


# ----- update rules -----


def _adam(a, t_used="next", t_stored="next", correction="beta_t", swapped=False):
    dw, c = a["dw"], a["config"]
    b1, b2 = (c["beta2"], c["beta1"]) if swapped else (c["beta1"], c["beta2"])
    t = c["t"] + 1 if t_used == "next" else c["t"]
    m = b1 * c["m"] + (1 - b1) * dw
    v = b2 * c["v"] + (1 - b2) * dw * dw
    if correction == "beta_t":
        m_hat, v_hat = m / (1 - c["beta1"] ** t), v / (1 - c["beta2"] ** t)
    elif correction == "beta":
        m_hat, v_hat = m / (1 - c["beta1"]), v / (1 - c["beta2"])
    else:
        m_hat, v_hat = m, v
    return {
        "step": -c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"]),
        "config['t']": np.asarray(c["t"] + (1 if t_stored == "next" else 0)),
        "config['m']": m,
        "config['v']": v,
    }


def _rmsprop(a, root=True, swapped=False, old_cache=False):
    dw, c = a["dw"], a["config"]
    d = 1 - c["decay_rate"] if swapped else c["decay_rate"]
    cache = d * c["cache"] + (1 - d) * dw * dw
    used = c["cache"] if old_cache else cache
    scale = np.sqrt(used) if root else used
    return {"step": -c["learning_rate"] * dw / (scale + c["epsilon"]), "config['cache']": cache}


def _momentum_other_sign(a):
    """The velocity kept as momentum * v + learning_rate * dw and subtracted from w: another course's
    sign, which gives other steps once the velocity is not zero (the notebook checks the course's)."""
    c = a["config"]
    v = c["momentum"] * c["velocity"] + c["learning_rate"] * a["dw"]
    return {"step": -v, "config['velocity']": v}


def _momentum(a, old_velocity=False, step_sign=1.0):
    c = a["config"]
    v = c["momentum"] * c["velocity"] - c["learning_rate"] * a["dw"]
    return {"step": step_sign * (c["velocity"] if old_velocity else v), "config['velocity']": v}


FORWARD_BN = (  # batchnorm_forward's mistakes, diagnosed under "batchnorm" (batchnorm_alt shares the forward)
    (
        "test_mode_batch_statistics",
        "test mode normalises with the batch's statistics; it must use running_mean and running_var",
        "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
        _bn_test_with_batch_stats,
    ),
    (
        "test_mode_without_root",
        "test mode divides by running_var + eps; normalise by the standard deviation, its square root",
        "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
        lambda a, d, g: _bn_test(a, root=False),
    ),
    (
        "test_mode_without_scale_shift",
        "test mode normalises but leaves out gamma and beta: scale and shift as in train mode",
        "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
        lambda a, d, g: _bn_test(a, scale_shift=False),
    ),
    (
        "running_not_stored",
        "the running mean and variance are computed but never stored back in bn_param, so test mode never sees them",
        "bn_param['running_mean'] = running_mean; bn_param['running_var'] = running_var",
        lambda a, d, g: _bn_running(a, stored=False),
    ),
    (
        "momentum_swapped",
        "the running averages weigh the batch's statistics by momentum: momentum keeps the old value",
        "running_mean = momentum * running_mean + (1 - momentum) * sample_mean",
        lambda a, d, g: _bn_running(a, swapped=True),
    ),
    (
        "wrong_axis",
        "the statistics are taken over the features (axis 1); batchnorm takes them over the batch (axis 0)",
        "mean = x.mean(axis=0); var = x.var(axis=0)",
        lambda a, d, g: _bn_out(a, axis=1),
    ),
    (
        "unbiased_variance",
        "the variance divides by N - 1; batchnorm divides by N (np.var's default)",
        "var = x.var(axis=0)",
        lambda a, d, g: _bn_out(a, ddof=1),
    ),
)


def _entries():
    """The catalogue, op by op, simplest mistake first."""
    M = Mistake
    bn = "batchnorm"
    rows = [
        # ----- affine -----
        M(
            "affine",
            "db_keepdims",
            "db keeps the shape (1, M): the values are right; the bias gradient has b's shape (M,)",
            "db = np.sum(dout, axis=0)  # no keepdims",
            lambda a, d, g: {"db": d.sum(axis=0, keepdims=True)},
        ),
        M(
            "affine",
            "dx_not_reshaped",
            "dx has the flattened shape (N, D) instead of x's own (N, d1, ..., dk)",
            "dx = (dout @ w.T).reshape(x.shape)",
            lambda a, d, g: {"dx": d @ a["w"].T},
        ),
        M(
            "affine",
            "dw_transposed",
            "dw is transposed: it must have w's shape (D, M)",
            "dw = x.reshape(N, -1).T @ dout",
            lambda a, d, g: {"dw": (_flat(a["x"]).T @ d).T},
        ),
        M(
            "affine",
            "db_mean",
            "db averages dout over the batch; the bias gradient is the sum over the N rows",
            "db = np.sum(dout, axis=0)",
            lambda a, d, g: {"db": d.mean(axis=0)},
        ),
        M(
            "affine",
            "dx_without_transpose",
            "dx multiplies dout by w instead of w.T",
            "dx = dout @ w.T",
            lambda a, d, g: {"dx": (d @ a["w"]).reshape(a["x"].shape)} if a["w"].shape[0] == a["w"].shape[1] else {},
        ),
        # ----- elementwise -----
        M(
            "relu",
            "mask_wrong_side",
            "the ReLU mask is on the wrong side: the gradient flows where x > 0",
            "dx = dout * (x > 0)",
            lambda a, d, g: {"dx": d * (a["x"] < 0)},
        ),
        M(
            "relu",
            "mask_missing",
            "dout passes through unmasked: the ReLU's local gradient (x > 0) is missing",
            "dx = dout * (x > 0)",
            lambda a, d, g: {"dx": d},
        ),
        M(
            "relu",
            "mask_from_dout",
            "the ReLU mask is taken from dout instead of the forward's input x: the gradient flows where x > 0, whatever dout's sign",
            "dx = dout * (x > 0)",
            lambda a, d, g: {"dx": d * (d > 0)},
        ),
        M(
            "relu",
            "dout_missing",
            "dx is the mask alone: multiply the local gradient by dout (chain rule)",
            "dx = dout * (x > 0)",
            lambda a, d, g: {"dx": (a["x"] > 0).astype(float)},
        ),
        M(
            "sigmoid",
            "derivative_from_x",
            "the sigmoid's derivative is computed from its input x instead of its output s (the forward's output, which the cache should keep)",
            "dx = dout * s * (1 - s), s = sigmoid(x) (cache the forward's output)",
            lambda a, d, g: {"dx": d * a["x"] * (1 - a["x"])},
        ),
        M(
            "sigmoid",
            "dout_missing",
            "dx is sigma'(x) alone: multiply by dout (chain rule)",
            "dx = dout * s * (1 - s)",
            lambda a, d, g: {"dx": _sigmoid(a["x"]) * (1 - _sigmoid(a["x"]))},
        ),
        M(
            "sigmoid",
            "factor_missing",
            "dx keeps only one of the two factors of the sigmoid's derivative: s without one minus s",
            "dx = dout * s * (1 - s)",
            lambda a, d, g: {"dx": d * _sigmoid(a["x"])},
        ),
        M(
            "tanh",
            "derivative_from_x",
            "tanh's derivative is computed from its input x instead of its output (the forward's output, which the cache should keep)",
            "dx = dout * (1 - t ** 2), t = tanh(x)",
            lambda a, d, g: {"dx": d * (1 - a["x"] ** 2)},
        ),
        M(
            "tanh",
            "square_missing",
            "tanh'(x) is 1 - t, not 1 - t ** 2",
            "dx = dout * (1 - t ** 2)",
            lambda a, d, g: {"dx": d * (1 - np.tanh(a["x"]))},
        ),
        # ----- losses -----
        M(
            "softmax_loss",
            "no_1_over_n",
            "dx is N times too large (N is the batch size): the loss is a mean, so its gradient is divided by N too",
            "dx = (p - onehot(y)) / N",
            lambda a, d, g: {"dx": _softmax(a["x"]) - _one_hot(a["y"], a["x"].shape[1])},
        ),
        M(
            "softmax_loss",
            "double_1_over_n",
            "dx is divided by N twice",
            "dx = (p - onehot(y)) / N",
            lambda a, d, g: {"dx": (_softmax(a["x"]) - _one_hot(a["y"], a["x"].shape[1])) / len(a["y"]) ** 2},
        ),
        M(
            "softmax_loss",
            "minus_one_missing",
            "dx misses the -1 at each row's correct class",
            "dx[np.arange(N), y] -= 1",
            lambda a, d, g: {"dx": _softmax(a["x"]) / len(a["y"])},
        ),
        M(
            "softmax_loss",
            "log_of_probability",
            "-log(softmax) underflows to inf for large scores: take the log of the softmax in log space",
            "loss = -(shifted[y] - np.log(np.exp(shifted).sum(axis=1))).mean()",
            _quiet(_softmax_log_of_prob),
        ),
        M(
            "softmax_loss",
            "no_max_shift",
            "softmax overflows for large scores: subtract each row's maximum before np.exp",
            "shifted = x - x.max(axis=1, keepdims=True)",
            _quiet(_softmax_unshifted),
        ),
        # After the overflowing ones: a loss that overflows only at extreme scores is theirs to name.
        M(
            "softmax_loss",
            "gradient_sign",
            "dx has the wrong sign: the gradient of the loss is p - onehot(y), the probabilities less 1 at each row's correct class",
            "dx = (p - onehot(y)) / N",
            lambda a, d, g: {"dx": (_one_hot(a["y"], a["x"].shape[1]) - _softmax(a["x"])) / len(a["y"])},
        ),
        M(
            "softmax_loss",
            "loss_not_averaged",
            "the loss sums -log(p) over the N rows instead of averaging it: it is N times too large",
            "loss = -np.log(p[np.arange(N), y]).sum() / N",
            lambda a, d, g: {"loss": -_log_softmax(a["x"])[np.arange(len(a["y"])), a["y"]].sum()},
        ),
        M(
            "svm_loss",
            "counts_correct_class",
            "the loss counts the correct class's own margin (1 per row)",
            "margins[np.arange(N), y] = 0",
            lambda a, d, g: {"loss": _svm(a, count_correct=True)["loss"]},
        ),
        M(
            "svm_loss",
            "margin_missing",
            "the margin (delta, which is 1) is missing from each wrong class's hinge",
            "margins = np.maximum(0, x - correct[:, None] + 1.0)",
            lambda a, d, g: _svm(a, delta=0.0),
        ),
        M(
            "svm_loss",
            "loss_not_averaged",
            "the loss sums the margins over the N rows instead of averaging them: it is N times too large",
            "loss = np.sum(margins) / N",
            lambda a, d, g: {"loss": _svm(a)["loss"] * a["x"].shape[0]},
        ),
        M(
            "svm_loss",
            "margin_not_one",
            "each wrong class's hinge adds a margin other than 1 (the loss and dx are those of another delta)",
            "margins = np.maximum(0, x - correct[:, None] + 1.0)",
            lambda a, d, g: _svm_other_margin(a, g),
        ),
        M(
            "svm_loss",
            "correct_class_counted",
            "dx at each row's correct class counts the correct class's own margin (always 1) among the positive ones: count them after that margin is set to zero",
            "dx[np.arange(N), y] -= np.sum(margins > 0, axis=1)  # margins[np.arange(N), y] = 0 first",
            lambda a, d, g: {"dx": _svm(a)["dx"] - _one_hot(a["y"], a["x"].shape[1]) / len(a["y"])},
        ),
        M(
            "svm_loss",
            "correct_class_sign",
            "dx at each row's correct class has the wrong sign: each positive margin subtracts the correct "
            "class's score, so its gradient is minus the number of positive margins",
            "dx[np.arange(N), y] -= np.sum(margins > 0, axis=1)",
            lambda a, d, g: {"dx": _svm(a, correct_sign=1)["dx"]},
        ),
        M(
            "svm_loss",
            "no_1_over_n",
            "dx is N times too large: the 1/N of the mean is missing",
            "dx /= N",
            lambda a, d, g: {"dx": _svm(a)["dx"] * len(a["y"])},
        ),
        M(
            "linear_svm",
            "counts_correct_class",
            "the loss counts each row's correct class's own margin, which is always 1: the loss is 1 too large",
            "margins[np.arange(num_train), y] = 0  # before the loss is summed",
            lambda a, d, g: {"loss": _linear(a, "svm")["loss"] + 1.0},
        ),
        *(
            M(
                op,
                key,
                says,
                look_at,
                lambda a, d, g, axes=axes: _linear_softmax_over_samples(a, g, *axes),
            )
            for op in ("linear_softmax", "linear_softmax_half")
            for key, says, look_at, axes in (
                (
                    "normalised_over_samples",
                    "the probabilities divide by a sum over the samples (axis 0); each row's softmax divides by "
                    "the sum over its own classes (axis 1)",
                    "probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)",
                    (0, 1),
                ),
                (
                    "shifted_over_samples",
                    "the scores are shifted by each column's maximum (axis 0): a row's softmax stays the same only "
                    "when all its scores move by one number, the row's own maximum (axis 1)",
                    "scores -= np.max(scores, axis=1, keepdims=True)",
                    (1, 0),
                ),
            )
        ),
        *(
            M(
                f"linear_{which}",
                key,
                says,
                look_at,
                variant,
            )
            for which in ("svm", "softmax")
            for key, says, look_at, variant in (
                (
                    "loss_not_averaged",
                    "the loss sums the data loss over the N rows instead of averaging it (the gradient may be right)",
                    "loss = data_loss / num_train + reg * torch.sum(W * W)",
                    lambda a, d, g, w=which: {"loss": _linear(a, w, mean=False)["loss"]},
                ),
                (
                    "no_1_over_n",
                    "dW is N times too large: the 1/N of the mean is missing",
                    "dW /= num_train",
                    lambda a, d, g, w=which: {"dW": _linear_gradient_summed(a, w)},
                ),
                (
                    "reg_gradient_factor",
                    "the regularisation's gradient is reg * W: the derivative of reg * sum(W^2) is 2 * reg * W",
                    "dW += 2 * reg * W",
                    lambda a, d, g, w=which: {"dW": _linear(a, w, reg_factor=1.0)["dW"]},
                ),
            )
        ),
        *_model_mistakes(M),
        M(
            "temporal_softmax_loss",
            "mask_ignored",
            "the mask is ignored: padded time steps must add nothing",
            "loss and dx multiplied by mask",
            lambda a, d, g: _temporal(a, use_mask=False),
        ),
        M(
            "temporal_softmax_loss",
            "divided_by_mask_count",
            "divided by the number of unmasked steps; the course sums over the steps and divides by N only",
            "loss = ... / N; dx = ... / N",
            lambda a, d, g: _temporal(a, divide_by="mask"),
        ),
        M(
            "temporal_softmax_loss",
            "divided_by_n_t",
            "divided by N * T; the course divides by N only",
            "loss = ... / N; dx = ... / N",
            lambda a, d, g: _temporal(a, divide_by="nt"),
        ),
        # ----- composites -----
        M(
            "affine_relu",
            "wrong_order",
            "steps in the wrong order: undo the ReLU first, then the affine layer",
            "da = relu_backward(dout, relu_cache); dx, dw, db = affine_backward(da, fc_cache)",
            lambda a, d, g: {"dw": _flat(a["x"]).T @ d, "db": d.sum(axis=0)},
        ),
        M(
            "affine_relu",
            "mask_wrong_side",
            "the ReLU mask is on the wrong side: the gradient flows where x w + b > 0",
            "da = dout * (a > 0)",
            lambda a, d, g: _affine_grads(a["x"], a["w"], d * ((_flat(a["x"]) @ a["w"] + a["b"]) < 0)),
        ),
        M(
            "conv_relu",
            "mask_missing",
            "the ReLU is skipped in the backward: mask dout with (conv output > 0) first",
            "da = relu_backward(dout, relu_cache)",
            lambda a, d, g: dict(zip(("dx", "dw", "db"), mg.conv_backward_naive(d, _conv_cache(a)[1]))),
        ),
        M(
            "conv_relu_pool",
            "relu_mask_missing",
            "the ReLU is skipped in the backward, between the pool and the conv",
            "ds = max_pool_backward(dout, pool_cache); da = relu_backward(ds, relu_cache)",
            lambda a, d, g: dict(
                zip(
                    ("dx", "dw", "db"),
                    mg.conv_backward_naive(
                        mg.max_pool_backward_naive(
                            d, mg.max_pool_forward_naive(np.maximum(_conv_cache(a)[0], 0), a["pool_param"])[1]
                        ),
                        _conv_cache(a)[1],
                    ),
                )
            ),
        ),
        M(
            "affine_bn_relu",
            "relu_mask_missing",
            "the ReLU is skipped in the backward: mask dout first",
            "da = relu_backward(dout, relu_cache)",
            lambda a, d, g: dict(
                zip(
                    ("dx", "dw", "db", "dgamma", "dbeta"),
                    mg.affine_bn_relu_backward(
                        d,
                        (
                            mg.affine_bn_relu_forward(
                                a["x"], a["w"], a["b"], a["gamma"], a["beta"], dict(a["bn_param"])
                            )[1][0],
                            mg.affine_bn_relu_forward(
                                a["x"], a["w"], a["b"], a["gamma"], a["beta"], dict(a["bn_param"])
                            )[1][1],
                            np.ones_like(d),
                        ),
                    ),
                )
            ),
        ),
        M(
            "affine_ln_relu",
            "relu_mask_missing",
            "the ReLU is skipped in the backward: mask dout first",
            "da = relu_backward(dout, relu_cache)",
            lambda a, d, g: dict(
                zip(
                    ("dx", "dw", "db", "dgamma", "dbeta"),
                    mg.affine_ln_relu_backward(
                        d,
                        (
                            mg.affine_ln_relu_forward(a["x"], a["w"], a["b"], a["gamma"], a["beta"], a["ln_param"])[1][
                                0
                            ],
                            mg.affine_ln_relu_forward(a["x"], a["w"], a["b"], a["gamma"], a["beta"], a["ln_param"])[1][
                                1
                            ],
                            np.ones_like(d),
                        ),
                    ),
                )
            ),
        ),
        # ----- normalisation -----
        *[
            M(op, key, says, look, fn)
            for op in (bn, "batchnorm_alt")
            for key, says, look, fn in (FORWARD_BN if op == bn else ())
            + (
                (
                    "dgamma_keepdims",
                    "dgamma keeps the shape (1, D): the values are right; it has gamma's shape (D,)",
                    "dgamma = np.sum(dout * xhat, axis=0)",
                    lambda a, d, g: {
                        "dgamma": (d * _bn_parts(a["x"], a["bn_param"].get("eps", 1e-5))[0]).sum(0, keepdims=True)
                    },
                ),
                (
                    "dx_without_mean_and_variance",
                    "dx treats the batch mean and variance as constants: both depend on x",
                    "dx = (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0)) / std",
                    lambda a, d, g: {"dx": _bn_backward(a, d, "none")},
                ),
                (
                    "dx_without_variance",
                    "dx misses the path through the variance",
                    "dx = (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0)) / std",
                    lambda a, d, g: {"dx": _bn_backward(a, d, "no_variance")},
                ),
                (
                    "dgamma_dbeta_swapped",
                    "dgamma and dbeta are swapped",
                    "dgamma = np.sum(dout * xhat, axis=0); dbeta = np.sum(dout, axis=0)",
                    lambda a, d, g: {
                        "dgamma": d.sum(0),
                        "dbeta": (d * _bn_parts(a["x"], a["bn_param"].get("eps", 1e-5))[0]).sum(0),
                    },
                ),
            )
        ],
        M(
            "layernorm",
            "wrong_axis",
            "the statistics are taken over the batch (axis 0); layer norm takes them over "
            "each sample's features (axis 1)",
            "mean = x.mean(axis=1, keepdims=True)",
            lambda a, d, g: {"out": a["gamma"] * _bn_parts(a["x"], a["ln_param"].get("eps", 1e-5), 0)[0] + a["beta"]},
        ),
        M(
            "layernorm",
            "dx_without_mean_and_variance",
            "dx treats each row's mean and variance as constants",
            "dx = (dxhat - dxhat.mean(1) - xhat * (dxhat * xhat).mean(1)) / std",
            lambda a, d, g: {"dx": d * a["gamma"] / _bn_parts(a["x"], a["ln_param"].get("eps", 1e-5), 1)[1]},
        ),
        M(
            "spatial_batchnorm",
            "reshaped_without_transpose",
            "x was reshaped to (N*H*W, C) without moving C last first: the statistics mix channels",
            "x.transpose(0, 2, 3, 1).reshape(-1, C)",
            lambda a, d, g: (
                {
                    "out": (
                        a["gamma"] * _bn_parts(a["x"].reshape(-1, a["x"].shape[1]), a["bn_param"].get("eps", 1e-5))[0]
                        + a["beta"]
                    ).reshape(a["x"].shape)
                }
                if a["bn_param"].get("mode") == "train"
                else {}
            ),
        ),
        M(
            "spatial_batchnorm",
            "not_transposed_back",
            "out was reshaped from rows (N*H*W, C) straight to (N, C, H, W): reshape to (N, H, W, C), then move "
            "the channels back with transpose(0, 3, 1, 2)",
            "out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
            _sbn_not_transposed_back,
        ),
        M(
            "spatial_batchnorm",
            "per_sample_statistics",
            "the statistics are per sample (axes 2, 3); spatial batch norm takes them over N, H and W for each channel",
            "mean over axes (0, 2, 3)",
            lambda a, d, g: (
                {
                    "out": a["gamma"][None, :, None, None]
                    * _bn_parts(a["x"], a["bn_param"].get("eps", 1e-5), (2, 3))[0]
                    + a["beta"][None, :, None, None]
                }
                if a["bn_param"].get("mode") == "train"
                else {}
            ),
        ),
        M(
            "spatial_groupnorm",
            "channels_interleaved",
            "the groups take every G-th channel; a group is C // G neighbouring channels",
            "x.reshape(N, G, C // G, H, W)",
            lambda a, d, g: _gn_interleaved(a),
        ),
        M(
            "spatial_groupnorm",
            "one_group",
            "all channels were normalised together (layer norm): split them into G groups",
            "x.reshape(N, G, -1)",
            lambda a, d, g: _gn_out(a, groups=1),
        ),
        # ----- dropout: the convention of p and train mode's mask are named by dropout.py; test mode and
        # the backward here -----
        M(
            "dropout",
            "not_inverted",
            NOT_INVERTED,
            "mask = (np.random.rand(*x.shape) < p) / p  (train); out = x  (test)",
            lambda a, d, g: {"out": a["x"] * a["dropout_param"]["p"]} if a["dropout_param"]["mode"] == "test" else {},
        ),
        M(
            "dropout",
            "backward_without_scale",
            "dx masks dout but drops the 1/p scale of the forward",
            "dx = dout * mask  (mask already holds 1/p)",
            lambda a, d, g: {"dx": d * (g["out"] != 0)} if g.get("out") is not None else {},
        ),
        # ----- convolution and pooling -----
        M(
            "conv",
            "bias_missing",
            "out leaves out the bias: each filter's b[f] is added to every one of its outputs",
            "out[n, f, i, j] = np.sum(window * w[f]) + b[f]",
            _conv_without_bias,
        ),
        M(
            "conv",
            "padding_not_cropped",
            "dx is the gradient of the padded input (H + 2 * pad rows, W + 2 * pad columns): crop the padding off",
            "dx = dxpad[:, :, pad:pad + H, pad:pad + W]",
            _conv_dx_padded,
        ),
        M(
            "conv",
            "pad_slice",
            "dx is cropped with a negative end ([pad:-pad]), which is empty when pad is 0: crop from pad, H rows and W columns",
            "dx = dxpad[:, :, pad:pad + H, pad:pad + W]",
            _conv_pad_slice,
        ),
        M(
            "conv",
            "filter_flipped",
            "the filter is flipped (a true convolution); the course's layer is a cross-correlation",
            "out[n, f, i, j] = sum(xpad window * w[f])",
            _conv_flipped,
        ),
        M(
            "conv",
            "dw_assigned",
            "dw keeps only the last window's contribution: accumulate with +=",
            "dw += dout[n, f, i, j] * window",
            _conv_dw_last_window,
        ),
        M(
            "max_pool",
            "assigned_not_added",
            "dx is written with = where windows overlap: a value that is the "
            "maximum of two windows gets both gradients, so add with +=",
            "dx[window] += mask * dout[n, c, i, j]",
            _pool_assign,
        ),
        M(
            "max_pool",
            "argmax_assigned",
            "dx is written with = at each window's maximum: where windows overlap, a value that is the "
            "maximum of two windows must get both gradients, so add with +=",
            "dx[n, c, i*s + r, j*s + q] += dout[n, c, i, j]  # (r, q): the window's argmax",
            _pool_argmax_assigned,
        ),
        M(
            "max_pool",
            "height_width_swapped",
            "pool height and width are swapped",
            "window = x[:, :, i*s:i*s + pool_height, j*s:j*s + pool_width]",
            _pool_swapped,
        ),
        M(
            "max_pool",
            "argmax_unravelled_swapped",
            "the window's argmax is unravelled with its width and height swapped: on a window that is not "
            "square the gradient goes to another position than the maximum",
            "r, q = np.unravel_index(np.argmax(window), (pool_height, pool_width))",
            _pool_argmax_unravelled_swapped,
        ),
        M(
            "max_pool",
            "stride_ignored",
            "the windows ignore the stride: window (i, j) starts at row i * stride and column j * stride",
            "window = x[:, :, i*s:i*s + pool_height, j*s:j*s + pool_width]",
            _pool_stride_ignored,
        ),
        M(
            "max_pool",
            "size_without_stride",
            "out has H // pool_height rows and W // pool_width columns: with a stride there are "
            "1 + (H - pool_height) // stride and 1 + (W - pool_width) // stride",
            "H_out = 1 + (H - pool_height) // stride",
            _pool_size_without_stride,
        ),
        M(
            "max_pool",
            "whole_window",
            "the gradient goes to every element of the window; only the maximum gets it",
            "dx[window] += (window == window.max()) * dout[n, c, i, j]",
            _pool_whole_window,
        ),
        # ----- recurrent -----
        M(
            "rnn_step",
            "tanh_prime_from_preactivation",
            "tanh's derivative is computed from the pre-activation a instead of from next_h, tanh's output",
            "da = dnext_h * (1 - next_h ** 2)",
            lambda a, d, g: _rnn_step_grads(a, d, lambda dn, pre, h: dn * (1 - pre**2)),
        ),
        M(
            "rnn_step",
            "tanh_prime_missing",
            "the tanh's local gradient is missing",
            "da = dnext_h * (1 - next_h ** 2)",
            lambda a, d, g: _rnn_step_grads(a, d, lambda dn, pre, h: dn),
        ),
        M(
            "rnn",
            "dprev_not_added",
            "each step's dprev_h is not added to the next (earlier) step's upstream dh",
            "dx_t, dprev_h, ... = rnn_step_backward(dh[:, t] + dprev_h, cache[t])",
            _rnn_no_carry,
        ),
        M(
            "rnn",
            "forward_order",
            "the backward runs through time from the first step up: run it from the last step down "
            "(reversed(range(T))), since each step's dprev_h goes to the step before it",
            "for t in reversed(range(T)):",
            _rnn_forward_order,
        ),
        M(
            "rnn",
            "dh0_never_assigned",
            "dh0 stays 0: it is the dprev_h of the first step",
            "dh0 = dprev_h  (after the loop)",
            lambda a, d, g: {"dh0": np.zeros_like(a["h0"])},
        ),
        M(
            "lstm_step",
            "gate_order",
            "the gates are taken in the order i, f, g, o; the course's order is i, f, o, g",
            "i, f, o, g = a[:, :H], a[:, H:2H], a[:, 2H:3H], a[:, 3H:]",
            _lstm_variant(order="ifgo"),
        ),
        M(
            "lstm_step",
            "g_gate_sigmoid",
            "the g gate (the candidate cell value) takes a sigmoid; it is tanh of its block, the other three gates sigmoid",
            "g = np.tanh(a[:, 3H:])",
            _lstm_variant(g_squash=_sigmoid),
        ),
        M(
            "lstm_step",
            "tanh_prime_of_prev_c",
            "tanh's derivative on the way to the cell is taken at prev_c, where next_h takes tanh of next_c",
            "dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c) ** 2)",
            _lstm_variant(tanh_c_from="prev"),
        ),
        M(
            "lstm_step",
            "cell_path_missing",
            "dnext_c misses the path through next_h, which depends on next_c through tanh and the output gate",
            "dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c) ** 2)",
            _lstm_variant(cell_path=False),
        ),
        M(
            "lstm_step",
            "o_gate_sigmoid_prime_missing",
            "the output gate's block of da misses the sigmoid's derivative: it is dnext_h times tanh(next_c) "
            "times o * (1 - o)",
            "da_o = dnext_h * np.tanh(next_c) * o * (1 - o)",
            _lstm_variant(o_prime=False),
        ),
        M(
            "lstm_step",
            "dprev_c_without_f",
            "dprev_c misses the forget gate, through which next_c carries prev_c",
            "dprev_c = dc * f",
            _lstm_variant(f_in_dprev_c=False),
        ),
        M(
            "lstm",
            "dh0_never_assigned",
            "dh0 stays 0: it is the dprev_h of the first step",
            "dh0 = dprev_h  (after the loop)",
            lambda a, d, g: {"dh0": np.zeros_like(a["h0"])},
        ),
        M(
            "lstm",
            "cell_gradient_not_carried",
            "the cell state's gradient is not carried from step to step",
            "dx_t, dprev_h, dprev_c, ... = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])",
            lambda a, d, g: _lstm_seq(a, d, carry_cell=False),
        ),
        M(
            "word_embedding",
            "assigned_not_added",
            "assigning the upstream gradient into dW's rows keeps one gradient for a word that appears "
            "several times: each occurrence's must be added (np.add.at adds them)",
            "np.add.at(dW, x, dout)",
            lambda a, d, g: {"dW": _embedding_assigned(a, d)},
        ),
        M(
            "temporal_affine",
            "db_over_n_only",
            "db sums over N only; it sums over N and T",
            "db = dout.sum(axis=(0, 1))",
            lambda a, d, g: {"db": d.sum(axis=0)},
        ),
        # ----- update rules: the step is next_w - w -----
        M(
            "sgd",
            "sign_flipped",
            "the step goes uphill: w - learning_rate * dw",
            "next_w = w - config['learning_rate'] * dw",
            lambda a, d, g: {"step": a["config"]["learning_rate"] * a["dw"]},
        ),
        M(
            "sgd_momentum",
            "old_velocity",
            "next_w uses the velocity from before this step's update",
            "v = momentum * v - learning_rate * dw; next_w = w + v",
            lambda a, d, g: _momentum(a, old_velocity=True),
        ),
        M(
            "sgd_momentum",
            "velocity_sign",
            "the velocity has the opposite sign to the course's (momentum * v + learning_rate * dw, then "
            "subtracted): the stored velocity and every step after the first differ from the course's",
            "v = momentum * v - learning_rate * dw; next_w = w + v",
            lambda a, d, g: _momentum_other_sign(a),
        ),
        M(
            "sgd_momentum",
            "step_sign",
            "the step goes against the velocity: v already holds minus the learning rate times dw, so the update adds v to w",
            "next_w = w + v",
            lambda a, d, g: _momentum(a, step_sign=-1.0),
        ),
        M(
            "rmsprop",
            "no_square_root",
            "the step divides by the cache, not its square root",
            "next_w = w - learning_rate * dw / (np.sqrt(cache) + eps)",
            lambda a, d, g: _rmsprop(a, root=False),
        ),
        M(
            "rmsprop",
            "decay_swapped",
            "decay_rate and 1 - decay_rate are swapped in the cache's update",
            "cache = decay_rate * cache + (1 - decay_rate) * dw ** 2",
            lambda a, d, g: _rmsprop(a, swapped=True),
        ),
        M(
            "rmsprop",
            "old_cache",
            "the step uses the cache from before this step's update",
            "cache = ...; then next_w = w - learning_rate * dw / (np.sqrt(cache) + eps)",
            lambda a, d, g: _rmsprop(a, old_cache=True),
        ),
        M(
            "adam",
            "no_bias_correction",
            "m and v are used without bias correction",
            "mt = m / (1 - beta1 ** t); vt = v / (1 - beta2 ** t)",
            lambda a, d, g: _adam(a, correction="none"),
        ),
        M(
            "adam",
            "one_minus_beta",
            "the bias correction divides by 1 - beta; it is 1 - beta ** t",
            "mt = m / (1 - beta1 ** t)",
            lambda a, d, g: _adam(a, correction="beta"),
        ),
        M(
            "adam",
            "t_after_use",
            "t is incremented after it is used; the course increments it first",
            "t += 1 (first), then mt = m / (1 - beta1 ** t)",
            lambda a, d, g: _adam(a, t_used="old"),
        ),
        M(
            "adam",
            "t_never_incremented",
            "t is never incremented: store t + 1 in config",
            "config['t'] = t + 1",
            lambda a, d, g: _adam(a, t_used="old", t_stored="old"),
        ),
        M(
            "adam",
            "betas_swapped",
            "beta1 and beta2 are swapped in the moment updates",
            "m = beta1 * m + (1 - beta1) * dw; v = beta2 * v + (1 - beta2) * dw ** 2",
            lambda a, d, g: _adam(a, swapped=True),
        ),
    ]
    return rows


def _gn_out(a, groups=None):
    x = a["x"]
    n, c = x.shape[:2]
    g = groups or a["G"]
    xhat = _bn_parts(x.reshape(n, g, -1), a["gn_param"].get("eps", 1e-5), 2)[0].reshape(x.shape)
    shape = (1, c, 1, 1)
    return {"out": np.reshape(a["gamma"], shape) * xhat + np.reshape(a["beta"], shape)}


def _gn_interleaved(a):
    x = a["x"]
    n, c, h, w = x.shape
    g = a["G"]
    grouped = x.reshape(n, c // g, g, h, w).transpose(0, 2, 1, 3, 4).reshape(n, g, -1)
    xhat = _bn_parts(grouped, a["gn_param"].get("eps", 1e-5), 2)[0]
    xhat = xhat.reshape(n, g, c // g, h, w).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    shape = (1, c, 1, 1)
    return {"out": np.reshape(a["gamma"], shape) * xhat + np.reshape(a["beta"], shape)}


def _embedding_assigned(a, dout):
    dW = np.zeros_like(a["W"])
    dW[a["x"]] = dout
    return dW


CATALOGUE = {}
for _mistake in _entries():
    CATALOGUE.setdefault(_mistake.op, []).append(_mistake)
