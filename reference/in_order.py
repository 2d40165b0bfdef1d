"""A JAX function re-run with its sums taken the way NumPy takes them.

NumPy sums a contiguous block (the last axis, or the trailing ones) pairwise, but along any other
axis one entry at a time, in order: its float32 column sums carry 2-5x the rounding error of XLA's,
which sums in blocks. The tolerance's estimate of what correct NumPy code reaches runs the reference
in float32 through sums_in_order(), so that a batchnorm's dgamma (a sum over the batch) is held to
what a correct NumPy batchnorm actually reaches, not to what XLA reaches.
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.extend import core

# Primitives that carry a sub-program to evaluate (their sums included) rather than bind as a whole.
# A custom rule's primal is evaluated as written; the pullback's jaxpr holds its backward as plain ops.
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}


def sums_in_order(fn):
    """fn, its every reduce_sum over axes other than the trailing ones taken one entry at a time, in order."""

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
            outs = [_sum_in_order(ins[0], tuple(eqn.params["axes"]))]
        elif name in _CALLS:
            inner = eqn.params[_CALLS[name]]
            inner = getattr(inner, "jaxpr", inner), getattr(inner, "consts", ())
            outs = _evaluate(inner[0], inner[1], ins)
        else:
            outs = eqn.primitive.bind(*ins, **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
        values.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def _sum_in_order(x, axes):
    """x summed over `axes`: as XLA sums it where they are the trailing axes (a contiguous block, which
    NumPy sums pairwise: a row sum, a whole array); otherwise over every one of them one entry at a
    time, as NumPy sums a column or a channels-last reshape (x.transpose(0, 2, 3, 1).reshape(-1,
    C).sum(axis=0), the usual spatial batchnorm)."""
    axes = tuple(sorted(axes))
    if axes == tuple(range(x.ndim - len(axes), x.ndim)) or x.size == 0:
        return jnp.sum(x, axis=axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    rows = jnp.transpose(x, (*axes, *kept)).reshape((-1, *[x.shape[a] for a in kept]))
    return lax.scan(lambda total, row: (total + row, None), rows[0], rows[1:])[0]
