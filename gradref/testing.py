"""Check your own backward pass in your own tests, with the conformance suite's checks and messages.

    from gradref.testing import assert_backward_matches
    assert_backward_matches(affine_forward, affine_backward, reference=lambda x, w, b: x @ w + b,
                            inputs={"x": x, "w": w, "b": b})

One call runs what the conformance suite runs on every registry op (the suite itself goes through
`assert_case` below): values against the precision-pinned JAX oracle; three-way against central
finite differences on small float64 inputs; the contracts (shapes, dtypes, no mutation, linear in
dout, determinism). A failure raises AssertionError naming the gradient, the worst element, both
values, the tolerance and the likely mistake. Without a JAX reference it falls back to finite
differences alone, and says so.
"""
import dataclasses

import numpy as np

from conformance import checks
from conformance.grade.diagnose import Context, diagnose
from conformance.registry import LAYER, LOSS, Op
from conformance.samples import SampleSpec, as_float64

__all__ = ["assert_backward_matches", "check_backward", "make_op", "assert_case", "NO_REFERENCE",
           "FiniteDifferencesOnly"]


class FiniteDifferencesOnly(UserWarning):
    """A check passed without a JAX reference: only finite differences vouch for the gradients."""

NO_REFERENCE = ("no JAX reference was given: the gradients were checked by finite differences only: "
                "directional derivatives along 3 seeded random directions and central differences at 20 "
                "sampled entries of each input (every size and dtype, the forward run in float64), and the "
                "full Jacobian by central differences on inputs of at most 2,000 float64 entries")
SMALL = 2000      # finite differences on inputs with at most this many entries in all


def _named(inputs):
    if isinstance(inputs, dict):
        return dict(inputs)
    return {f"x{i}" if len(inputs) > 1 else "x": v for i, v in enumerate(inputs)}


def _as_draw(inputs, samples):
    """SampleSpecs from fixed inputs and/or a list of input sets or a function of an rng."""
    specs = []
    if inputs is not None:
        specs.append(("inputs", _named(inputs)))
    if callable(samples):
        specs.append(("sample", samples))
    else:
        specs += [(f"sample{i}", _named(s)) for i, s in enumerate(samples or ())]
    if not specs:
        raise ValueError("give `inputs` (a tuple or dict of example inputs) or `samples`")
    out = []
    for name, source in specs:
        draw = (lambda rng, f=source: _named(f(rng))) if callable(source) else \
            (lambda rng, values=source: {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                                        for k, v in values.items()})
        example = draw(np.random.default_rng(0))
        size = sum(np.size(v) for v in example.values() if isinstance(v, np.ndarray))
        out.append(SampleSpec(name, draw, small=size <= SMALL))
    return tuple(out), example


def _object_functions(layer, names, init, grad_attrs):
    """forward/backward functions around an object with .forward/.backward (or a factory of one)."""
    forward_names = [n for n in names if n not in init]

    def forward(*args):
        values = dict(zip(names, args))
        obj = layer(*[values[n] for n in init]) if init else layer
        return obj.forward(*[values[n] for n in forward_names]), obj

    def backward(dout, obj):
        grads = checks.as_tuple(obj.backward(dout))
        return grads + tuple(getattr(obj, attr) for attr in grad_attrs)
    return forward, backward, tuple(forward_names) + tuple(init[:len(grad_attrs)])


def make_op(forward, backward=None, reference=None, *, inputs=None, samples=None, wrt=None, name=None,
            loss=False, init=(), grad_attrs=(), tol_factor=1.0):
    """An Op record for your functions, as the registry holds for its own.

    forward/backward: `forward(*inputs) -> (out, cache)` and `backward(dout, cache) -> grads`;
    with loss=True, `forward(*inputs) -> (loss, grads)` and no backward. Or an object (or a factory
    taking the `init` inputs) with `.forward(...)` and `.backward(dout)`; `grad_attrs` name the
    attributes holding the gradients of the `init` inputs after backward.
    reference: a jax.numpy function of the same inputs, or None for finite differences alone.
    """
    specs, example = _as_draw(inputs, samples)
    names = tuple(example)
    name = name or getattr(forward, "__name__", type(forward).__name__).removesuffix("_forward")
    floats = tuple(n for n in names if isinstance(example[n], np.ndarray) and example[n].dtype.kind == "f")
    if hasattr(forward, "forward") or (init and callable(forward) and backward is None and not loss):
        forward, backward, default_wrt = _object_functions(forward, names, tuple(init), tuple(grad_attrs))
        floats = tuple(n for n in default_wrt if n in floats)
    wrt = tuple(names[w] if isinstance(w, int) else w for w in (wrt or floats))
    largest = max((max(np.shape(v), default=1) for v in example.values() if isinstance(v, np.ndarray)), default=1)
    op = Op(name, names, wrt, reference, specs, kind=LOSS if loss else LAYER,
            manual_names=(f"{name}_forward", f"{name}_backward"), tol_factor=tol_factor,
            reduction=lambda **_: largest)
    if loss:
        from conformance.registry import _loss_backward, _loss_forward
        return dataclasses.replace(op, forward=_loss_forward(forward, wrt), backward=_loss_backward)
    if backward is None:
        raise ValueError("give `backward`, or an object with .forward and .backward, or loss=True")
    return dataclasses.replace(op, forward=forward, backward=backward)


def _dtypes(op, dtypes):
    if dtypes:
        return tuple(dtypes)
    example = op.samples[0].draw(np.random.default_rng(0))
    found = [v.dtype.name for v in example.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    return (found[0] if found else "float64",)


def check_backward(op, dtypes=None, devices=("cpu",)):
    """Every applicable check of `op` (from make_op or the registry): a list of CheckResults."""
    pairs = checks.cases([op], _dtypes(op, dtypes), devices)
    return [checks.run_check(check, case) for check, case in pairs]


def likely_mistakes(result):
    """Diagnosis sentences for a failing vjp or finite-difference result (may be empty)."""
    case = result.case
    if result.check not in ("vjp", "finite_differences"):
        return []
    try:
        args = as_float64(checks.named_args(case))
        run = checks.manual_run(case)
        want = checks.oracle_run(case)[1]
        if want is None:
            want = checks.numeric_vjp(case.op.forward, checks.sample_args(case), checks.wrt_positions(case.op),
                                      checks.case_dout(case))
        got = {n: np.asarray(g, np.float64) for n, g in zip(case.op.grad_names, run.grads)}
        first = next(iter(args.values()))
        context = Context(case.op.name, case.sample, args, np.asarray(checks.case_dout(case), np.float64),
                          got, dict(zip(case.op.grad_names, want)), batch=np.shape(first)[0] if np.ndim(first) else 0)
        return diagnose(context)
    except Exception:  # noqa: BLE001 - a diagnosis is a bonus; the failure stands without it
        return []


def failure_message(results, op):
    failed = [r for r in results if not r.passed]
    lines = [f"{len(failed)} of {len(results)} gradref checks failed for {op.name}:"]
    for result in failed:
        lines.append(f"  - {result.message}")
        lines += [f"    likely mistake: {hint}" for hint in likely_mistakes(result)]
    if op.reference is None:
        lines.append(f"  note: {NO_REFERENCE}")
    return "\n".join(lines)


def assert_backward_matches(forward, backward=None, reference=None, *, inputs=None, samples=None, wrt=None,
                            name=None, loss=False, init=(), grad_attrs=(), dtypes=None, devices=("cpu",),
                            tol_factor=1.0):
    """Raise AssertionError unless the hand-written backward pass passes every check.

    Returns the list of CheckResults (each says how close it sat to its tolerance). See make_op for
    the arguments; `dtypes` defaults to the dtype of the inputs, `devices` to ("cpu",).
    """
    __tracebackhide__ = True     # pytest shows the user's call and our message, not our frames
    op = make_op(forward, backward, reference, inputs=inputs, samples=samples, wrt=wrt, name=name, loss=loss,
                 init=init, grad_attrs=grad_attrs, tol_factor=tol_factor)
    results = check_backward(op, dtypes, devices)
    if not results or not all(r.passed for r in results):
        raise AssertionError(failure_message(results, op) if results else f"no checks apply to {op.name}")
    if reference is None:
        import warnings
        warnings.warn(NO_REFERENCE, FiniteDifferencesOnly, stacklevel=2)
    return results


def assert_case(check, case):
    """One check of one case (the conformance suite's unit); AssertionError with its message."""
    __tracebackhide__ = True
    result = checks.run_check(check, case)
    if not result.passed:
        raise AssertionError(failure_message([result], case.op))
    return result
