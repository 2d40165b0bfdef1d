"""Every value the reference computes on the way to its answer: the outputs of each primitive of its
forward and of its vjp, as JAX traces them, in float64.

A correct derivation, however a student writes it, passes through values of this kind (x - mean,
1 / sqrt(var + eps), dout * gamma, their sums over the batch); gradref.grade.explain.firstwrong
looks for the first value of a failing function that is none of them.
"""

import numpy as np

from reference import oracle
from reference.in_order import _CALLS
from reference.lazy import LazyModule

jax = LazyModule("jax")
core = LazyModule("jax.extend.core")

MAX_VALUES = 2000  # a reference unrolled over many steps: enough of them to find the first wrong one
MAX_ENTRIES = 1 << 20  # values larger than this are left out (their parts are there)


def intermediates(fn, args, wrt, cotangent):
    """[NumPy float64 arrays]: the arguments, the cotangent, and the output of every primitive of
    fn's forward and of its pullback of `cotangent` at `args` (positions `wrt`), in the order JAX
    computes them. A loss's cotangent is 1.0."""
    found = [np.asarray(a, np.float64) for a in args if isinstance(a, np.ndarray)]
    found.append(np.asarray(cotangent, np.float64))
    with oracle.exact_mode("cpu"):
        jargs = [oracle._to_jax(a) for a in args]
        wrt_values = [jargs[i] for i in wrt]

        def forward_and_back(cot, *diff):
            out, pullback = jax.vjp(oracle.with_wrt(fn, jargs, wrt), *diff)
            return out, pullback(cot)

        if wrt:
            jcot = oracle._put(np.asarray(cotangent, np.float64))
            closed, inputs = jax.make_jaxpr(forward_and_back)(jcot, *wrt_values), [jcot, *wrt_values]
        else:  # an update rule: its forward's values alone
            closed, inputs = jax.make_jaxpr(lambda: fn(*jargs))(), []
        computed = []
        _perturbed(closed.jaxpr, closed.consts, inputs, computed, None)
    for value in computed:
        _keep(value, found)
    return found[: MAX_VALUES + len(args) + 1]


def cotangents(fn, args, wrt, cotangent):
    """[(primal, cotangent)] as NumPy float64: each value fn's forward computes (the output of each
    primitive), with the gradient of <fn(args), cotangent> with respect to that value, all from one
    pullback: a zero is added to every primal, and the pullback to those zeros is each primal's
    cotangent (a backward's d<name> for the forward's <name>)."""
    with oracle.exact_mode("cpu"):
        jargs = [oracle._to_jax(a) for a in args]
        wrt_values = [jargs[i] for i in wrt]
        closed = jax.make_jaxpr(oracle.with_wrt(fn, jargs, wrt))(*wrt_values)
        primals = []
        _perturbed(closed.jaxpr, closed.consts, wrt_values, primals, None)
        kept = [i for i, p in enumerate(primals) if p.dtype.kind == "f" and p.size <= MAX_ENTRIES][:MAX_VALUES]
        zeros = [jax.numpy.zeros_like(primals[i]) for i in kept]

        def of_zeros(*added):
            where = dict(zip(kept, added))
            return _perturbed(closed.jaxpr, closed.consts, wrt_values, [], where)[0]

        _, pullback = jax.vjp(of_zeros, *zeros)
        found = pullback(oracle._put(np.asarray(cotangent, np.float64)))
    return [(np.asarray(primals[i], np.float64), np.asarray(ct, np.float64)) for i, ct in zip(kept, found)]


def _perturbed(jaxpr, consts, args, primals, added):
    """Evaluate jaxpr; each primitive's output appended to `primals` (count kept across nested calls)
    and, where `added` maps its index to a value, that value added to it."""
    values = dict(zip(jaxpr.constvars, consts)) | dict(zip(jaxpr.invars, args))

    def read(var):
        return var.val if isinstance(var, core.Literal) else values[var]

    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        if eqn.primitive.name in _CALLS:
            inner = eqn.params[_CALLS[eqn.primitive.name]]
            outs = _perturbed(getattr(inner, "jaxpr", inner), getattr(inner, "consts", ()), ins, primals, added)
        else:
            outs = eqn.primitive.bind(*ins, **eqn.params)
            outs = list(outs) if eqn.primitive.multiple_results else [outs]
            for k, out in enumerate(outs):
                index = len(primals)
                primals.append(out)
                if added is not None and index in added:
                    outs[k] = out + added[index]
        values.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def _keep(value, found):
    if len(found) >= MAX_VALUES or not hasattr(value, "dtype") or np.size(value) > MAX_ENTRIES:
        return
    array = np.asarray(value)
    if array.dtype.kind in "fiub":
        found.append(array.astype(np.float64))
