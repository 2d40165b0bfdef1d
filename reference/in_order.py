"""A JAX function re-run the way NumPy computes: in NumPy, primitive by primitive.

NumPy sums a contiguous block (the last axis, or the trailing ones) pairwise, but along any other
axis one entry at a time, in order: its float32 column sums carry 2-5x the rounding error of XLA's,
which sums in blocks, and its pairwise row sums less. Its exp, log and tanh come from a math library
correct to about one rounding, where XLA's float32 tanh is off by up to 4. The tolerance's estimate
of what correct NumPy code reaches runs the reference in float32 through as_numpy_computes(), so that
a batchnorm's dgamma (a sum over the batch) is held to what a correct NumPy batchnorm reaches, and
np.tanh to what np.tanh reaches, not to what XLA reaches.

The function's jaxpr is evaluated eagerly, each primitive by its NumPy twin (_NUMPY): its sums by
np.sum over the layout NumPy code sums in, its products by np.matmul, its elementwise arithmetic as
NumPy rounds it; nothing is compiled for them. A primitive with no NumPy twin here (a convolution, a
gather, a pooling window) is bound as JAX computes it, eagerly.
"""

import functools

import numpy as np

from reference.lazy import LazyModule

jax = LazyModule("jax")
core = LazyModule("jax.extend.core")

# Primitives that carry a sub-program to evaluate (their sums included) rather than bind as a whole.
# A custom rule's primal is evaluated as written; the pullback's jaxpr holds its backward as plain ops.
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "remat2": "jaxpr",
    "checkpoint": "jaxpr",
}


def as_numpy_computes(fn):
    """fn evaluated in NumPy (it takes and gives arrays; nothing is traced through it): its sums in
    NumPy's order (_sum_as_numpy), its exp, log, tanh and kin as NumPy's math library gives them
    (_as_library), a sigmoid as NumPy code writes it, 1 / (1 + exp(-x)). Its jaxpr is traced once
    per argument structure and kept; `.eval_shape(*args)` gives its output's shapes from that trace,
    as a jitted function's does."""

    @functools.lru_cache(maxsize=64)
    def traced(treedef, avals):
        leaves = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in avals]
        return jax.make_jaxpr(fn, return_shape=True)(*jax.tree_util.tree_unflatten(treedef, leaves))

    def trace_of(args):
        leaves, treedef = jax.tree_util.tree_flatten(args)
        arrays = [np.asarray(leaf) for leaf in leaves]
        return traced(treedef, tuple((a.shape, a.dtype) for a in arrays)), arrays

    def in_order(*args):
        (closed, shape), arrays = trace_of(args)
        outs = _evaluate(closed.jaxpr, closed.consts, arrays)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape), outs)

    in_order.eval_shape = lambda *args: trace_of(args)[0][1]
    return in_order


def _evaluate(jaxpr, consts, args):
    values = dict(zip(jaxpr.constvars, map(np.asarray, consts))) | dict(zip(jaxpr.invars, args))

    def read(var):
        if isinstance(var, core.Literal):
            return np.asarray(var.val, var.aval.dtype)
        return values[var]

    for eqn in jaxpr.eqns:
        outs = _apply(eqn, [read(v) for v in eqn.invars])
        values.update(zip(eqn.outvars, (np.asarray(o, v.aval.dtype) for o, v in zip(outs, eqn.outvars))))
    return [read(v) for v in jaxpr.outvars]


def _apply(eqn, ins):
    """The outputs (a list) of one equation, in NumPy where it has a twin here."""
    name, params = eqn.primitive.name, eqn.params
    if name in _CALLS:
        inner = params[_CALLS[name]]
        return _evaluate(getattr(inner, "jaxpr", inner), getattr(inner, "consts", ()), ins)
    if name == "cond":
        branch = params["branches"][int(np.clip(ins[0], 0, len(params["branches"]) - 1))]
        return _evaluate(branch.jaxpr, branch.consts, ins[1:])
    if name in _LIBRARY and _floating(ins[0]):
        return [_as_library(_LIBRARY[name], ins[0])]
    if name == "logistic" and _floating(ins[0]):
        one = np.ones((), ins[0].dtype)
        return [one / (one + _as_library(np.exp, -ins[0]))]
    twin = _NUMPY.get(name)
    try:
        if twin is None:
            raise _NotMine
        with np.errstate(all="ignore"):  # inf and NaN arise as they do in the reference; no warning
            out = twin(*ins, **params)
    except _NotMine:
        out = eqn.primitive.bind(*ins, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def _floating(x):
    return x.dtype in (np.float32, np.float64)


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


def _as_library(function, x):
    """NumPy's `function` at x: in float32 its float64 value rounded to float32 once (within a
    rounding of what NumPy's float32 loops give), in float64 NumPy's own."""
    with np.errstate(all="ignore"):  # exp(1000) is inf here as in the reference; no warning to the user
        if x.dtype == np.float32:
            return function(x.astype(np.float64)).astype(np.float32)
        return function(x)


def _sum_as_numpy(x, axes, **_):
    """x summed over `axes` as NumPy sums: over the trailing axes (a row, a whole array: a contiguous
    block) pairwise; otherwise over every one of them one entry at a time, in order, as NumPy sums a
    column. A sum over batch and space, x.sum(axis=(0, 2, 3)), is taken as the channels-last
    reshape's column sum (x.transpose(0, 2, 3, 1).reshape(-1, C).sum(axis=0), the usual spatial
    batchnorm): of the two ways NumPy code takes it, the one with more rounding."""
    axes = tuple(sorted(axes))
    kept = [x.shape[a] for a in range(x.ndim) if a not in axes]
    if axes == tuple(range(x.ndim - len(axes), x.ndim)):
        return np.ascontiguousarray(x).reshape((*kept, -1)).sum(axis=-1)
    order = (*axes, *[a for a in range(x.ndim) if a not in axes])
    rows = np.ascontiguousarray(np.transpose(x, order)).reshape((-1, *kept))
    return rows.sum(axis=0)  # along the outer axis of a contiguous array NumPy adds row after row


def _dot_general(lhs, rhs, dimension_numbers, **_):
    """lax.dot_general as np.matmul of (batch, free, contracted) by (batch, contracted, free)."""
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    lhs_free = [d for d in range(lhs.ndim) if d not in (*lhs_contract, *lhs_batch)]
    rhs_free = [d for d in range(rhs.ndim) if d not in (*rhs_contract, *rhs_batch)]
    batch = [lhs.shape[d] for d in lhs_batch]
    contracted = int(np.prod([lhs.shape[d] for d in lhs_contract], dtype=np.int64))
    left = np.transpose(lhs, (*lhs_batch, *lhs_free, *lhs_contract)).reshape((*batch, -1, contracted))
    right = np.transpose(rhs, (*rhs_batch, *rhs_contract, *rhs_free)).reshape((*batch, contracted, -1))
    shape = (*batch, *[lhs.shape[d] for d in lhs_free], *[rhs.shape[d] for d in rhs_free])
    return np.matmul(left, right).reshape(shape)


def _broadcast_in_dim(x, shape, broadcast_dimensions, **_):
    placed = [1] * len(shape)
    for axis, size in zip(broadcast_dimensions, x.shape):
        placed[axis] = size
    return np.broadcast_to(x.reshape(placed), shape)


def _reshape(x, new_sizes, dimensions=None, **_):
    return np.reshape(x if dimensions is None else np.transpose(x, dimensions), new_sizes)


def _pad(x, value, padding_config):
    """lax.pad: (low, high, interior) per axis; a negative low or high crops."""
    spread = [n + (n - 1) * interior if n else 0 for n, (_, _, interior) in zip(x.shape, padding_config)]
    inner = np.full(spread, value, x.dtype)
    inner[tuple(slice(None, None, interior + 1) for _, _, interior in padding_config)] = x
    grown = np.pad(inner, [(max(low, 0), max(high, 0)) for low, high, _ in padding_config], constant_values=value)
    return grown[
        tuple(slice(-min(low, 0), n - max(-high, 0)) for (low, high, _), n in zip(padding_config, grown.shape))
    ]


def _integer_pow(x, y):
    """x ** y by repeated squaring, as lax.integer_pow multiplies."""
    result, base, power = None, x, abs(y)
    while power:
        if power & 1:
            result = base if result is None else result * base
        power >>= 1
        if power:
            base = base * base
    result = np.ones_like(x) if result is None else result
    return np.ones((), x.dtype) / result if y < 0 else result


def _select_n(which, *cases):
    return np.where(which, cases[1], cases[0]) if which.dtype == np.bool_ else np.choose(which, cases)


def _iota(dtype, shape, dimension, **_):
    placed = [1] * len(shape)
    placed[dimension] = shape[dimension]
    return np.broadcast_to(np.arange(shape[dimension], dtype=dtype).reshape(placed), shape)


def _split(x, sizes, axis):
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def _float_only(function):
    """An elementwise NumPy function for floats; on integers (whose lax semantics differ: a division
    rounds toward zero) the primitive is bound as JAX computes it."""

    def twin(*xs, **_):
        if not all(_floating(x) for x in xs):
            raise _NotMine
        return function(*xs)

    return twin


def _elementwise(function):
    """A NumPy ufunc with the primitive's parameters (none that change its value) left aside."""
    return lambda *xs, **_: function(*xs)


class _NotMine(Exception):
    """A primitive's inputs this module leaves to JAX."""


_NUMPY = {
    "reduce_sum": _sum_as_numpy,
    "dot_general": _dot_general,
    "add": lambda a, b, **_: a + b,
    "add_any": lambda a, b, **_: a + b,
    "sub": lambda a, b, **_: a - b,
    "mul": lambda a, b, **_: a * b,
    "div": _float_only(np.divide),
    "neg": lambda a, **_: -a,
    "max": _elementwise(np.maximum),
    "min": _elementwise(np.minimum),
    "abs": _elementwise(np.abs),
    "sign": _float_only(np.sign),
    "sqrt": _float_only(np.sqrt),
    "square": lambda a, **_: a * a,
    "integer_pow": _integer_pow,
    "eq": _elementwise(np.equal),
    "ne": _elementwise(np.not_equal),
    "gt": _elementwise(np.greater),
    "ge": _elementwise(np.greater_equal),
    "lt": _elementwise(np.less),
    "le": _elementwise(np.less_equal),
    "and": _elementwise(np.bitwise_and),
    "or": _elementwise(np.bitwise_or),
    "not": _elementwise(np.invert),
    "select_n": _select_n,
    "convert_element_type": lambda x, new_dtype, **_: x.astype(new_dtype),
    "stop_gradient": lambda x, **_: x,
    "copy": _elementwise(np.copy),
    "copy_p": _elementwise(np.copy),
    "broadcast_in_dim": _broadcast_in_dim,
    "reshape": _reshape,
    "squeeze": lambda x, dimensions: np.squeeze(x, axis=tuple(dimensions)),
    "transpose": lambda x, permutation: np.transpose(x, permutation),
    "concatenate": lambda *xs, dimension: np.concatenate(xs, axis=dimension),
    "pad": _pad,
    "slice": lambda x, start_indices, limit_indices, strides: x[
        tuple(slice(a, b, s) for a, b, s in zip(start_indices, limit_indices, strides or [1] * x.ndim))
    ],
    "split": _split,
    "stack": lambda *xs, axis: np.stack(xs, axis=axis),
    "unstack": lambda x, axis: [np.take(x, i, axis=axis) for i in range(x.shape[axis])],
    "rev": lambda x, dimensions: np.flip(x, axis=tuple(dimensions)),
    "iota": _iota,
    "reduce_max": lambda x, axes, **_: np.max(x, axis=tuple(axes)),
    "reduce_min": lambda x, axes, **_: np.min(x, axis=tuple(axes)),
}
