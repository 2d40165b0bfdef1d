"""A JAX function re-run the way NumPy computes: its sums in NumPy's order, its elementary functions
rounded once.

NumPy sums a contiguous block (the last axis, or the trailing ones) pairwise, but along any other
axis one entry at a time, in order: its float32 column sums carry 2-5x the rounding error of XLA's,
which sums in blocks, and its pairwise row sums less. Its exp, log and tanh come from a math library
correct to about one rounding, where XLA's float32 tanh is off by up to 4. The tolerance's estimate
of what correct NumPy code reaches runs the reference in float32 through as_numpy_computes(), so that
a batchnorm's dgamma (a sum over the batch) is held to what a correct NumPy batchnorm reaches, and
np.tanh to what np.tanh reaches, not to what XLA reaches.
"""

import functools

import numpy as np

from reference.lazy import LazyModule

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")
lax = LazyModule("jax.lax")
core = LazyModule("jax.extend.core")


# Longer blocks are summed by XLA: the pairwise program grows with the block (8192 entries compile in
# 5 s), and there XLA's blocked sum is within 2x of NumPy's error (1.3 u against 0.8-1.1 u, measured).
PAIRWISE_LIMIT = 2**10

# Primitives that carry a sub-program to evaluate (their sums included) rather than bind as a whole.
# A custom rule's primal is evaluated as written; the pullback's jaxpr holds its backward as plain ops.
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}


def as_numpy_computes(fn):
    """fn with its sums taken in NumPy's order (_sum_as_numpy) and its exp, log, tanh and kin as NumPy's
    math library gives them (_as_library); a sigmoid as NumPy code writes it, 1 / (1 + exp(-x))."""

    def in_order(*args):
        closed, shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        outs = _evaluate(closed.jaxpr, closed.consts, jax.tree_util.tree_leaves(args))
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape), outs)

    return in_order


def _evaluate(jaxpr, consts, args):
    values = dict(zip(jaxpr.constvars, consts)) | dict(zip(jaxpr.invars, args))

    def read(var):
        return var.val if isinstance(var, core.Literal) else values[var]

    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "reduce_sum":
            outs = [_sum_as_numpy(ins[0], tuple(eqn.params["axes"]))]
        elif name in _LIBRARY and _one_float(ins):
            outs = [_as_library(eqn.primitive, ins[0], eqn.params)]
        elif name == "logistic" and _one_float(ins):
            outs = [1 / (1 + _as_library(lax.exp_p, -ins[0], eqn.params))]
        elif name in _CALLS:
            inner = eqn.params[_CALLS[name]]
            inner = getattr(inner, "jaxpr", inner), getattr(inner, "consts", ())
            outs = _evaluate(inner[0], inner[1], ins)
        else:
            outs = eqn.primitive.bind(*ins, **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
        values.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


# Elementary functions that NumPy takes from its math library, correct to about one rounding; XLA's
# float32 tanh is off by up to 4 roundings at large |x|, its float64 tanh by up to 13 (6.4 ulp, measured).
_LIBRARY = {
    "exp": np.exp,
    "exp2": np.exp2,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "atan": np.arctan,
}


def _one_float(ins):
    return len(ins) == 1 and getattr(ins[0], "dtype", None) in (jnp.float32, jnp.float64)


def _as_library(primitive, x, params):
    """NumPy's `primitive` at x: in float32 XLA's float64 one rounded to float32 once (within a
    rounding of what NumPy's float32 loops give; XLA's few float64 roundings vanish in it), in float64
    NumPy's own, called back on the host (slower: once per float64 case)."""
    if x.dtype == jnp.float32:
        return primitive.bind(x.astype(jnp.float64), **params).astype(jnp.float32)
    function = functools.partial(_quietly, _LIBRARY[primitive.name])
    return jax.pure_callback(function, jax.ShapeDtypeStruct(x.shape, x.dtype), x)


def _quietly(function, x):
    with np.errstate(all="ignore"):  # exp(1000) is inf here as in the reference; no warning to the user
        return function(x)


def _sum_as_numpy(x, axes):
    """x summed over `axes` as NumPy sums: over the trailing axes (a row, a whole array: a contiguous
    block) pairwise, to the bit (_pairwise); otherwise over every one of them one entry at a time, in
    order, as NumPy sums a column. A sum over batch and space, x.sum(axis=(0, 2, 3)), is taken as the
    channels-last reshape's column sum (x.transpose(0, 2, 3, 1).reshape(-1, C).sum(axis=0), the usual
    spatial batchnorm): of the two ways NumPy code takes it, the one with more rounding."""
    axes = tuple(sorted(axes))
    if x.size == 0:
        return jnp.sum(x, axis=axes)
    kept = [x.shape[a] for a in range(x.ndim) if a not in axes]
    if axes == tuple(range(x.ndim - len(axes), x.ndim)):
        block = x.reshape((*kept, -1))
        return _pairwise(block) if block.shape[-1] <= PAIRWISE_LIMIT else jnp.sum(block, axis=-1)
    rows = jnp.transpose(x, (*axes, *[a for a in range(x.ndim) if a not in axes])).reshape((-1, *kept))
    return lax.scan(lambda total, row: (total + row, None), rows[0], rows[1:])[0]


def _pairwise(x):
    """x summed over its last axis as NumPy's pairwise_sum does it, to the bit: in order below 8
    entries, in 8 interleaved partial sums up to 128, else the two halves (split at a multiple of 8)
    apiece."""
    n = x.shape[-1]
    if n < 8:
        total = jnp.zeros(x.shape[:-1], x.dtype)
        for i in range(n):
            total = total + x[..., i]
        return total
    if n <= 128:
        whole = n - n % 8
        r = x[..., :8]
        for start in range(8, whole, 8):
            r = r + x[..., start : start + 8]
        total = ((r[..., 0] + r[..., 1]) + (r[..., 2] + r[..., 3])) + (
            (r[..., 4] + r[..., 5]) + (r[..., 6] + r[..., 7])
        )
        for i in range(whole, n):
            total = total + x[..., i]
        return total
    half = n // 2 - (n // 2) % 8
    return _pairwise(x[..., :half]) + _pairwise(x[..., half:])
