"""Check your own backward pass in your own tests, with the conformance suite's checks and messages.

    from gradref.testing import assert_backward_matches
    assert_backward_matches(affine_forward, affine_backward, reference=lambda x, w, b: x @ w + b[None, :],
                            inputs={"x": x, "w": w, "b": b})

One call runs what the conformance suite runs on every registry op (the suite itself goes through
`assert_case` below): values against the precision-pinned JAX oracle; three-way against central
finite differences on small float64 inputs; the contracts (shapes, dtypes, no mutation, linear in
dout, determinism). A failure raises AssertionError naming the gradient, the worst element, both
values, the tolerance and the likely mistake. Without a JAX reference it falls back to finite
differences alone, and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from conformance import checks
from conformance.registry import LAYER, LOSS, Op
from conformance.samples import SampleSpec, as_float64
from gradref.grade.explain.diagnose import Context, diagnose

__all__ = [
    "assert_backward_matches",
    "check_backward",
    "make_op",
    "assert_case",
    "NO_REFERENCE",
    "FiniteDifferencesOnly",
]


class FiniteDifferencesOnly(UserWarning):
    """A check passed without a JAX reference: only finite differences vouch for the gradients."""


NO_REFERENCE = (
    "no JAX reference was given: the gradients were checked by finite differences only: "
    "directional derivatives along 3 seeded random directions and central differences at 20 "
    "sampled entries of each input (every size and dtype, the forward run in float64), and the "
    "full Jacobian by central differences on inputs of at most 2,000 float64 entries"
)
SMALL = 2000  # finite differences on inputs with at most this many entries in all


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
        draw = (
            (lambda rng, f=source: _named(f(rng)))
            if callable(source)
            else (
                lambda rng, values=source: {
                    k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in values.items()
                }
            )
        )
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

    return forward, backward, tuple(forward_names) + tuple(init[: len(grad_attrs)])


def _user_names(forward, backward, name, loss):
    """The names failures use: the user's own function (or class) names, not the registry's."""

    def called(fn, fallback):
        given = getattr(fn, "__name__", "")
        return given if given and given != "<lambda>" else fallback

    if loss:
        return (called(forward, name),)
    if hasattr(forward, "forward") or isinstance(forward, type):
        owner = forward.__name__ if isinstance(forward, type) else type(forward).__name__
        return (f"{owner}.forward", f"{owner}.backward")
    return (called(forward, f"{name}_forward"), called(backward, f"{name}_backward"))


def make_op(
    forward: Callable | object,
    backward: Callable | None = None,
    reference: Callable | None = None,
    *,
    inputs: Mapping[str, Any] | Sequence[Any] | None = None,
    samples: Sequence[SampleSpec] | None = None,
    wrt: Sequence[str | int] | None = None,
    name: str | None = None,
    loss: bool = False,
    init: Sequence[str] = (),
    grad_attrs: Sequence[str] = (),
    tol_factor: float = 1.0,
) -> Op:
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
    manual_names = _user_names(forward, backward, name, loss)
    floats = tuple(n for n in names if isinstance(example[n], np.ndarray) and example[n].dtype.kind == "f")
    if hasattr(forward, "forward") or (init and callable(forward) and backward is None and not loss):
        forward, backward, default_wrt = _object_functions(forward, names, tuple(init), tuple(grad_attrs))
        floats = tuple(n for n in default_wrt if n in floats)
    wrt = tuple(names[w] if isinstance(w, int) else w for w in (wrt or floats))
    largest = max((max(np.shape(v), default=1) for v in example.values() if isinstance(v, np.ndarray)), default=1)
    op = Op(
        name,
        names,
        wrt,
        reference,
        specs,
        kind=LOSS if loss else LAYER,
        traceable=None,
        manual_names=manual_names,
        tol_factor=tol_factor,
        reduction=lambda **_: largest,
    )
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


def check_backward(
    op: Op, dtypes: Sequence[str] | None = None, devices: Sequence[str] = ("cpu",), order: int = 1
) -> list[checks.CheckResult]:
    """Every applicable check of `op` (from make_op or the registry): a list of CheckResults;
    order=2 adds the second-order check."""
    pairs = checks.cases([op], _dtypes(op, dtypes), devices, order)
    return [checks.run_check(check, case) for check, case in pairs]


def likely_mistakes(result: checks.CheckResult) -> list[str]:
    """Diagnosis sentences for a failing vjp, finite-difference or directional result (may be empty)."""
    case = result.case
    if result.check not in ("vjp", "finite_differences", "directional"):
        return []
    try:
        args = as_float64(checks.named_args(case))
        run = checks.manual_run(case)
        want = checks.oracle_run(case)[1]
        if want is None:
            if not case.small:
                return []
            want = checks.numeric_vjp(
                case.op.forward, checks.sample_args(case), checks.wrt_positions(case.op), checks.case_dout(case)
            )
        got = {n: np.asarray(g, np.float64) for n, g in zip(case.op.grad_names, run.grads)}
        first = next(iter(args.values()))
        context = Context(
            case.op.name,
            case.sample,
            args,
            np.asarray(checks.case_dout(case), np.float64),
            got,
            dict(zip(case.op.grad_names, want)),
            batch=np.shape(first)[0] if np.ndim(first) else 0,
        )
        return diagnose(context)
    except Exception:  # noqa: BLE001 - a diagnosis is a bonus; the failure stands without it
        return []


# ----- one failure, one line -----

PROJECTION = "directional derivative <grads, u>"


def _quantity(comparison_name):
    """'dw (jax)', 'dw at 20 sampled entries', 'second order ddw' -> the gradient it is about;
    '<grads, u0>' -> the directional derivative."""
    if comparison_name.startswith("<grads"):
        return PROJECTION
    return comparison_name.split(" (")[0].split(" at ")[0]


def failure_groups(results):
    """Failures grouped by what is wrong: {(quantity or check, mistake): group}, each group with the
    worst comparison, the checks and the samples where it shows."""
    groups = {}
    for result in results:
        if result.passed:
            continue
        mistakes = likely_mistakes(result)
        failed = [c for c in result.comparisons if not c.passed]
        keys = []
        for comparison in failed:
            quantity = _quantity(comparison.name)
            name = quantity.removeprefix("second order ")
            mistake = next((m for m in mistakes if m.startswith((f"{name}:", f"{name} "))), "")
            # The sentence ends with the worst element's values, which differ from sample to sample.
            keys.append(((quantity, mistake.split(" At ")[0]), comparison))
        if not failed:  # an exception or a contract: the same words in every check say one thing
            keys.append(((result.detail if result.detail.startswith("raised") else result.check, ""), None))
        for key, comparison in keys:
            group = groups.setdefault(key, {"worst": None, "checks": [], "samples": [], "detail": result.detail})
            if comparison is not None and (
                group["worst"] is None
                or np.nan_to_num(comparison.ratio, nan=np.inf) > np.nan_to_num(group["worst"].ratio, nan=np.inf)
            ):
                group["worst"] = comparison
            for field_name, value in (
                ("checks", result.check),
                ("samples", f"{result.case.sample} {result.case.dtype}"),
            ):
                if value not in group[field_name]:
                    group[field_name].append(value)
    if any(
        key[0] != PROJECTION and {"vjp", "finite_differences", "directional"} & set(group["checks"])
        for key, group in groups.items()
        if group["worst"] is not None
    ):
        # A wrong gradient shows in the projections too; name the gradient alone, with the checks
        # whose projections saw it.
        seen_by = [c for key, group in groups.items() if key[0] == PROJECTION for c in group["checks"]]
        groups = {key: group for key, group in groups.items() if key[0] != PROJECTION}
        for group in groups.values():
            if group["worst"] is not None:
                group["checks"] += [c for c in dict.fromkeys(seen_by) if c not in group["checks"]]
    return groups


def _listed(values, most=4):
    return ", ".join(values[:most]) + (f" and {len(values) - most} more" if len(values) > most else "")


def failure_message(results: Sequence[checks.CheckResult], op: Op) -> str:
    """One line per distinct problem: the gradient (or check), the worst element against its tolerance,
    the likely mistake, the checks and samples where it shows."""
    failed = [r for r in results if not r.passed]
    groups = failure_groups(failed)
    ran = sorted({r.check for r in results if not r.skipped})
    lines = [
        f"{op.backward_name}: {len(groups)} problem(s), from {len(failed)} of {len(results)} checks "
        f"(checks run: {', '.join(ran)}):"
    ]
    for (quantity, mistake), group in groups.items():
        if group["worst"] is not None:
            what = ("along random directions u, " if quantity == PROJECTION else "") + group["worst"].describe()
        elif quantity.startswith("raised"):
            what = f"{op.backward_name} (or its forward) {quantity}"
        else:
            what = f"{quantity}: {group['detail']}"
        where = f" [{_listed(group['checks'])}; samples {_listed(group['samples'])}]"
        lines.append(f"  - {what}{where}")
        if mistake:
            lines.append(f"    likely mistake: {mistake}")
    if op.reference is None:
        lines.append(f"  note: {NO_REFERENCE}")
    return "\n".join(lines)


# ----- blame the right function: the inputs, the forward or the reference -----

REFERENCE_FIXES = (
    (
        ("rank promotion", "Operands could not be broadcast"),
        "the oracle runs with jax_numpy_rank_promotion='raise': broadcast explicitly, e.g. x @ w + b[None, :]",
    ),
    (
        ("TracerArrayConversionError", "__array__() method was called on traced", "was called on traced array"),
        "the reference calls NumPy on JAX's traced values: use jax.numpy (jnp.sin, not np.sin)",
    ),
    (
        ("ConcretizationTypeError", "TracerBoolConversionError"),
        "the reference branches on values with Python `if`: use jnp.where (or jnp.maximum) instead",
    ),
    (
        ("dtype promotion", "implicit dtype promotion"),
        "the oracle runs with strict dtype promotion: cast explicitly (y.astype(x.dtype)) or use Python numbers",
    ),
)


def _raised(error):
    return checks.describe_error(error)


def input_problem(op: Op, dtype: str) -> str | None:
    """A sentence when the inputs, the forward or the reference (not the backward) is what fails."""
    case = checks.Case(op, op.samples[0].name, dtype)
    try:
        args = checks.sample_args(case)
    except Exception as error:  # noqa: BLE001 - user-supplied samples
        return f"the inputs could not be drawn: {_raised(error)}"
    for name, value in zip(op.signature, args):
        if isinstance(value, (list, tuple)):
            return f"input {name} is a {type(value).__name__}: give a NumPy array (np.asarray({name}))"
    for name in op.wrt:
        value = args[op.signature.index(name)]
        if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            kind = getattr(value, "dtype", type(value).__name__)
            return (
                f"input {name} is differentiated but is {kind}, not a float array: give it as floats, "
                f"or leave it out of wrt"
            )
    forward_name, backward_name = op.manual_names[0], op.backward_name
    try:
        result = op.forward(*checks.fresh(list(args), checks.backend_for("cpu")))
    except Exception as error:  # noqa: BLE001
        return f"the forward {forward_name} raised {_raised(error)}"
    if op.kind == LAYER and not (isinstance(result, tuple) and len(result) == 2):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else f"a {type(result).__name__}"
        return (
            f"the forward {forward_name} must return (out, cache) for {backward_name}(dout, cache); it returned {got}"
        )
    if op.reference is not None:
        try:
            checks.oracle_run(case)
        except Exception as error:  # noqa: BLE001
            fix = next(
                (f for needles, f in REFERENCE_FIXES if any(n in f"{type(error).__name__} {error}" for n in needles)),
                "",
            )
            return f"the reference {getattr(op.reference, '__name__', 'function')} raised {_raised(error)}" + (
                f"; fix: {fix}" if fix else ""
            )
    return ""


def _outside_gradref():
    """The stacklevel of the first caller outside gradref (the user's test, not our plugin)."""
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame, level = frame.f_back, level + 1
    return level


def assert_backward_matches(
    forward: Callable | object,
    backward: Callable | None = None,
    reference: Callable | None = None,
    *,
    inputs: Mapping[str, Any] | Sequence[Any] | None = None,
    samples: Sequence[SampleSpec] | None = None,
    wrt: Sequence[str | int] | None = None,
    name: str | None = None,
    loss: bool = False,
    init: Sequence[str] = (),
    grad_attrs: Sequence[str] = (),
    dtypes: Sequence[str] | None = None,
    devices: Sequence[str] = ("cpu",),
    tol_factor: float = 1.0,
    order: int = 1,
) -> list[checks.CheckResult]:
    """Raise AssertionError unless the hand-written backward pass passes every check.

    Returns the list of CheckResults (each says how close it sat to its tolerance). See make_op for
    the arguments; `dtypes` defaults to the dtype of the inputs, `devices` to ("cpu",); order=2 also
    checks second derivatives: JAX differentiates your backward (it must run on jax.numpy arrays)
    and that must match the reference's second derivative (or finite differences of your backward).
    """
    __tracebackhide__ = True  # pytest shows the user's call and our message, not our frames
    op = make_op(
        forward,
        backward,
        reference,
        inputs=inputs,
        samples=samples,
        wrt=wrt,
        name=name,
        loss=loss,
        init=init,
        grad_attrs=grad_attrs,
        tol_factor=tol_factor,
    )
    problem = input_problem(op, _dtypes(op, dtypes)[0])
    if problem:
        raise AssertionError(f"{op.backward_name} was not checked: {problem}")
    results = check_backward(op, dtypes, devices, order)
    if not results or not all(r.passed for r in results):
        raise AssertionError(failure_message(results, op) if results else f"no checks apply to {op.name}")
    if reference is None:
        import warnings

        ran = ", ".join(sorted({r.check for r in results}))
        warnings.warn(
            f"{op.backward_name}: {NO_REFERENCE} (checks run: {ran})",
            FiniteDifferencesOnly,
            stacklevel=_outside_gradref(),
        )
    return results


def assert_case(check: str, case: checks.Case) -> checks.CheckResult:
    """One check of one case (the conformance suite's unit); AssertionError with its message."""
    __tracebackhide__ = True
    result = checks.run_check(check, case)
    if not result.passed:
        raise AssertionError(failure_message([result], case.op))
    return result
