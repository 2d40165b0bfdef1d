"""Name the common mistake that explains a wrong gradient, in words a student can act on.

Each rule rebuilds what a specific mistake would have produced and checks whether the student's
result matches it. Rules see float64 arrays: the arguments, dout, the student's gradients (`got`,
None where missing) and the oracle's (`want`), keyed by gradient name (dx, dw, db, ...).
"""
from dataclasses import dataclass

import numpy as np

MATCH = 1e-6      # relative to the larger entry: a float64 result either matches a mistake or it does not


@dataclass
class Context:
    op: str
    sample: str
    args: dict
    dout: object
    got: dict
    want: dict


def close(a, b):
    if a is None or b is None or np.shape(a) != np.shape(b):
        return False
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0)) <= MATCH * scale


def _wrong(ctx):
    return [name for name in ctx.want if not close(ctx.got.get(name), ctx.want[name])]


def _n(ctx):
    first = next(iter(ctx.args.values()))
    return np.shape(first)[0] if np.ndim(first) else 1


# ----- rules: each returns a sentence or None -----

def transpose_missing(ctx):
    for name in _wrong(ctx):
        got, want = ctx.got.get(name), ctx.want[name]
        if got is not None and np.ndim(got) == 2 and close(np.transpose(got), want):
            return (f"{name} is the transpose of the right gradient: a transpose is missing or misplaced "
                    f"(for an affine layer dw = x.reshape(N, -1).T @ dout, shape {want.shape})")
    return None


def bias_kept_2d(ctx):
    for name in _wrong(ctx):
        got, want = ctx.got.get(name), ctx.want[name]
        if got is not None and np.ndim(want) == 1 and np.shape(got) == (1,) + np.shape(want) \
                and close(np.reshape(got, np.shape(want)), want):
            return (f"{name} has shape (1, M) instead of (M,): the values are right; sum over axis 0 "
                    f"without keepdims=True (np.sum(dout, axis=0))")
    return None


def not_reshaped(ctx):
    for name in _wrong(ctx):
        got, want = ctx.got.get(name), ctx.want[name]
        if got is not None and np.size(got) == np.size(want) and np.shape(got) != np.shape(want) \
                and close(np.reshape(got, np.shape(want)), want):
            return (f"{name} does not have its input's shape (e.g. (N, D) for an x of shape (N, d1, ..., dk)): "
                    f"the values are right; reshape it back ({name}.reshape(x.shape))")
    return None


def one_over_n(ctx):
    n = _n(ctx)
    if n == 1:
        return None
    for name in _wrong(ctx):
        got, want = ctx.got.get(name), ctx.want[name]
        if close(got, want * n):
            return f"{name} is N times too large (N = batch size): the 1/N of the mean over the batch is missing"
        if close(got, want / n):
            return f"{name} is N times too small (N = batch size): 1/N is applied twice"
    return None


def sign_flipped(ctx):
    for name in _wrong(ctx):
        if close(ctx.got.get(name), -ctx.want[name]):
            return f"{name} has the wrong sign everywhere: check the sign of the local gradient"
    return None


def derivative_from_x(ctx):
    x, got = ctx.args.get("x"), ctx.got.get("dx")
    if ctx.op == "sigmoid" and close(got, ctx.dout * x * (1 - x)):
        return ("sigmoid'(x) was computed from x instead of sigma(x): use s * (1 - s) with s = sigmoid(x) "
                "(cache the forward output)")
    if ctx.op == "tanh" and close(got, ctx.dout * (1 - x * x)):
        return "tanh'(x) was computed from x instead of tanh(x): use 1 - t**2 with t = tanh(x)"
    return None


def _affine_grads(x, w, dmid):
    x2 = x.reshape(x.shape[0], -1)
    return {"dx": (dmid @ w.T).reshape(x.shape), "dw": x2.T @ dmid, "db": dmid.sum(axis=0)}


def mask_wrong_side(ctx):
    if ctx.op == "relu":
        x = ctx.args["x"]
        for wrong in (x < 0, x <= 0):
            if close(ctx.got.get("dx"), ctx.dout * wrong):
                return "the ReLU mask is on the wrong side: the gradient flows where x > 0, and is 0 elsewhere"
    if ctx.op == "affine_relu":
        x, w, b = ctx.args["x"], ctx.args["w"], ctx.args["b"]
        pre = x.reshape(x.shape[0], -1) @ w + b
        wrong = _affine_grads(x, w, ctx.dout * (pre < 0))
        if any(close(ctx.got.get(n), wrong[n]) for n in _wrong(ctx)):
            return "the ReLU mask is on the wrong side: the gradient flows where x w + b > 0"
    return None


def wrong_order(ctx):
    if ctx.op != "affine_relu":
        return None
    x, w = ctx.args["x"], ctx.args["w"]
    unmasked = _affine_grads(x, w, ctx.dout)
    if any(close(ctx.got.get(n), unmasked[n]) for n in ("dw", "db") if n in _wrong(ctx)):
        return ("steps in the wrong order: undo the ReLU first, then the affine layer "
                "(da = relu_backward(dout, relu_cache); then affine_backward(da, fc_cache))")
    return None


def softmax_overflow(ctx):
    if ctx.op != "softmax_loss":
        return None
    got = [g for g in ctx.got.values() if g is not None]
    if any(not np.isfinite(g).all() for g in got):
        return ("the result is not finite for large scores: softmax overflows; subtract each row's "
                "maximum before np.exp (x - x.max(axis=1, keepdims=True))")
    return None


RULES = (bias_kept_2d, not_reshaped, transpose_missing, one_over_n, sign_flipped, derivative_from_x,
         mask_wrong_side, wrong_order, softmax_overflow)


def diagnose(ctx):
    """Sentences for the rules that explain the student's result: the first that fits, per gradient."""
    hints, explained = [], set()
    for rule in RULES:
        hint = rule(ctx)
        name = hint.split(" ", 1)[0] if hint else None
        if hint and name not in explained:
            hints.append(hint)
            explained.add(name)
    return hints
