"""Name the mistake behind a wrong result, in words a student can act on.

First the catalogue (mistakes.py): each entry rebuilds what one real mistake produces, and for each
wrong quantity the first entry that reproduces it exactly (float64, 1e-6) names it. Quantities nothing in the catalogue explains
go to generic detectors: None or all zeros, transposed, right up to a reshape, off by a constant
factor (N, 1/N, 2, -1, ...) or a constant offset, wrong only in some samples, channels, rows, columns,
time steps or on the border, or the only wrong one among several gradients. Each sentence says which
quantity, what is wrong, the line of the formula to look at, and both values at the worst element.
All of it runs in the grader's process on float64 arrays, never in the student's.
"""

import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .mistakes import CATALOGUE

# How a quantity refutes a catalogue mistake (the verdict keeps which).
CHANGES_A_RIGHT_ONE, NOT_REPRODUCED = "right", "wrong"

MATCH = 1e-6  # relative to the larger entry: a float64 result either matches a mistake or it does not
NEVER_WRITTEN = "it is never written (or only created)"
# generic()'s sentence for a quantity all zeros on one sample: a verdict says it once for all of them.
ALL_ZEROS_ON_A_SAMPLE = re.compile(rf"^(.+) is all zeros on sample (.+): {re.escape(NEVER_WRITTEN)}$")


@dataclass
class Context:
    op: str
    sample: str
    args: dict  # the sample's arguments, float64
    dout: object
    got: dict  # quantity -> the student's value (None where missing)
    want: dict  # quantity -> the right value
    batch: int = 0
    wrong: list = None  # the quantities that failed their graded comparison (None: decide here)
    found: list = field(default_factory=list)  # (quantity, mistake key, sentence)
    formulas: list = field(default_factory=list)  # the "look at" lines the sentences hold (feedback.py)
    factors: dict = field(default_factory=dict)  # quantity -> the constant factor a "factor" sentence names
    contradicted: set = field(default_factory=set)  # (quantity, key, how): the student's quantity refutes that mistake


def close(a, b):
    """Same shape and the same values (non-finite values in the same places)."""
    if a is None or b is None:
        return False
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(finite_a, finite_b) or not np.array_equal(a[~finite_a], b[~finite_b], equal_nan=True):
        return False
    if not finite_a.any():
        return True
    scale = max(float(np.max(np.abs(b[finite_b]))), 1e-300)
    return float(np.max(np.abs(a[finite_a] - b[finite_b]))) <= MATCH * scale


def worst(got, want):
    """' At dx[1, 2]: got 0.5, want 0.25.' (empty when the shapes differ)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or got.size == 0:
        return f" It has shape {got.shape}, want {want.shape}." if got.shape != want.shape else ""
    diff = np.where(np.isnan(got - want), np.inf, np.abs(got - want))
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    where = f"[{', '.join(map(str, index))}]" if index else ""
    return f" At {{name}}{where}: got {got[index]:.6g}, want {want[index]:.6g}."


def _label(quantity):
    return "next_w - w" if quantity == "step" else quantity


def sentence(quantity, says, look_at, got, want):
    numbers = worst(got, want).replace("{name}", _label(quantity))
    return f"{_label(quantity)}: {says}. Look at: {look_at}.{numbers}"


# ----- the catalogue -----


def is_gradient(quantity):
    """Whether a quantity is a gradient (the backward's), not an output (the forward's)."""
    return quantity.startswith("d")


# How a student's quantity refutes a catalogue mistake: the mistake would change it and the student
# has it right (not this mistake at all); it is wrong otherwise (not this mistake, for this quantity).


def _refutes(ctx, wrong, quantity, produced):
    """CHANGES_A_RIGHT_ONE, NOT_REPRODUCED or None (dgamma = dout.sum() is not "dgamma and dbeta
    swapped" when dbeta is right)."""
    if quantity not in ctx.got or quantity not in ctx.want:
        return None
    produced = np.asarray(produced, np.float64)
    if quantity in wrong:
        got = ctx.got[quantity]
        if close(got, produced):
            return None
        if got is not None and np.shape(got) == produced.shape:
            with np.errstate(all="ignore"):
                if np.any(~np.isfinite(np.asarray(got, np.float64)) & np.isfinite(produced)):
                    return None  # an overflow at extreme values is a second mistake of its own
        return NOT_REPRODUCED
    want = np.asarray(ctx.want[quantity], np.float64)
    if want.shape != produced.shape:
        return CHANGES_A_RIGHT_ONE
    if close(ctx.got.get(quantity), produced):
        return None  # the mistake's change is within the tolerance here, and the student's value is it
    # Changed beyond rounding, measured against the sample's largest quantity (affine_bn_relu's db is 0
    # up to rounding, and so is the mistake's).
    scale = max((float(np.max(np.abs(w), initial=0.0)) for w in map(np.asarray, ctx.want.values())), default=0.0)
    with np.errstate(all="ignore"):
        changed = np.max(np.abs(want - produced), initial=0.0) > MATCH * max(scale, 1e-300)
    return CHANGES_A_RIGHT_ONE if changed else None


def from_catalogue(ctx, wrong):
    explained = set()
    for mistake in CATALOGUE.get(ctx.op, ()):
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():  # mistakes overflow: the point of some
                warnings.simplefilter("ignore", RuntimeWarning)
                produced = mistake.variant(ctx.args, ctx.dout, ctx.got)
        except Exception:  # noqa: BLE001 - a variant that does not apply to this sample
            continue
        refuted = {q: _refutes(ctx, wrong, q, produced[q]) for q in produced}
        refuted = {q: how for q, how in refuted.items() if how}
        ctx.contradicted |= {(q, mistake.key, how) for q, how in refuted.items()}  # names hold everywhere
        # Quantity by quantity, so that a second mistake in the other function does not hide this one.
        for quantity in produced:
            if quantity in refuted or any(
                how == CHANGES_A_RIGHT_ONE and is_gradient(q) == is_gradient(quantity) for q, how in refuted.items()
            ):
                continue
            if quantity in wrong and quantity not in explained:
                ctx.found.append(
                    (
                        quantity,
                        mistake.key,
                        sentence(quantity, mistake.says, mistake.look_at, ctx.got[quantity], ctx.want[quantity]),
                    )
                )
                ctx.formulas.append(mistake.look_at)
                explained.add(quantity)
    return explained


# ----- generic detectors -----


def _factor_words(factor, batch):
    for value, words in (
        (batch, "N times too large (N is the batch size): the 1/N of a mean over the batch is missing"),
        (1 / batch if batch else None, "N times too small (N is the batch size): 1/N is applied twice"),
        (-1.0, "the wrong sign everywhere: check the sign of the local gradient"),
        (2.0, "twice the right value: a term is counted twice (or a factor 1/2 is missing)"),
        (0.5, "half the right value: a factor 2 is missing"),
    ):
        if value and abs(factor - value) <= 1e-6 * abs(value):
            return words
    return f"the right values times {factor:.4g}: a constant factor is off"


def constant_factor(got, want):
    """The factor c with got = c * want (within MATCH), or None."""
    if got is None:
        return None
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    norm = float(np.sum(want * want)) if got.shape == want.shape else 0.0
    if norm > 0 and np.all(np.isfinite(got)):
        factor = float(np.sum(got * want)) / norm
        if abs(factor - 1) > 1e-6 and close(got, factor * want):
            return factor
    return None


def generic(quantity, got, want, batch, sample=""):
    """A sentence for a wrong quantity that fits a simple pattern, else None."""
    label = _label(quantity)
    if got is None:
        return f"{label} is None: it is not computed (or not returned)"
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        if got.ndim == 2 and got.T.shape == want.shape and close(got.T, want):
            return f"{label} is transposed: it must have shape {want.shape}"
        if got.size == want.size and close(got.reshape(want.shape), want):
            return (
                f"{label} has shape {got.shape}, want {want.shape}: the values are right; reshape it "
                f"({label}.reshape({want.shape}) or sum without keepdims)"
            )
        return None
    if want.size and not np.any(got) and np.any(want):
        where = f" on sample {sample}" if sample else ""
        return f"{label} is all zeros{where}: {NEVER_WRITTEN}"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and not close(got, want) and close(got.T, want):
        return f"{label} is transposed"
    factor = constant_factor(got, want)
    if factor is not None:
        return f"{label} is {_factor_words(factor, batch)}.{worst(got, want).replace('{name}', label)}"
    return None


def _off_by_log_classes(ctx, quantity):
    """A softmax loss off by exactly log(C) (C classes): its denominator averaged over the classes
    (np.mean inside the log) where it is summed, or the reverse."""
    scores = ctx.args.get("x")
    if quantity != "loss" or np.ndim(scores) != 2 or np.shape(scores)[1] < 2 or ctx.got.get(quantity) is None:
        return None
    classes = np.shape(scores)[1]
    difference = float(np.asarray(ctx.got[quantity], np.float64).ravel()[0]) - float(np.ravel(ctx.want[quantity])[0])
    if abs(abs(difference) - np.log(classes)) > 1e-6 * np.log(classes):
        return None
    how = "minus" if difference < 0 else "plus"
    return (
        f"loss is the right loss {how} log(C) = {np.log(classes):.4g} (C = {classes} classes): the softmax's "
        "denominator is averaged over the classes (a mean inside the log) where it is summed"
    )


# The axes of a gradient, by its number of dimensions, in the course's layouts.
AXES = {
    1: ("element",),
    2: ("row", "column"),
    3: ("sample", "time step", "feature"),
    4: ("sample", "channel", "row", "column"),
}
FILTER_AXES = ("filter", "channel", "row", "column")  # conv's w and dw


def _axis_names(quantity, ndim):
    return FILTER_AXES if ndim == 4 and quantity in ("w", "dw") else AXES.get(ndim, ())


# How an argument of one value per feature or channel (a bias, beta) shows in a wrong output, got - want.
SHIFTS = (
    ("-2 * {}", -2.0, "is subtracted where it is added"),
    ("-{}", -1.0, "is left out"),
    ("+{}", 1.0, "is added twice"),
)


def _shifted_by_an_argument(ctx, quantity):
    """An output off by an argument that holds one value per feature or channel (b, beta), broadcast
    along that axis: the argument subtracted, left out or added twice (a conv's `... - b`)."""
    got, want = ctx.got.get(quantity), ctx.want.get(quantity)
    if got is None or is_gradient(quantity):
        return None
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or got.ndim < 2 or not np.all(np.isfinite(got)):
        return None
    difference = got - want
    for name, value in ctx.args.items():
        if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind != "f" or not np.any(value):
            continue
        for axis in (a for a in range(1, got.ndim) if got.shape[a] == value.size):
            placed = value.reshape([value.size if a == axis else 1 for a in range(got.ndim)])
            for off_by, times, words in SHIFTS:
                if close(difference, np.broadcast_to(times * placed, got.shape)):
                    per = _axis_names(quantity, got.ndim)[axis] if got.ndim in AXES else f"entry of axis {axis}"
                    return f"{_label(quantity)} is off by {off_by.format(name)}, one value per {per}: {name} {words}."
    return None


def wrong_entries(got, want):
    """Where got departs from want by more than a thousandth of its largest departure (and more than
    MATCH relative to want's scale): the entries a bug touched, not its rounding."""
    diff = np.abs(got - want)
    diff = np.where(np.isnan(diff), np.inf, diff)
    scale = max(float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)), 1e-300)
    return diff > max(1e-3 * float(np.max(diff)) if np.isfinite(np.max(diff)) else 0.0, MATCH * scale)


def _axis_words(names, axis, indices, size):
    ndim = len(names)
    name = names[axis]
    indices = sorted(int(i) for i in indices)
    if ndim == 4 and axis >= 2 and set(indices) <= {0, size - 1}:
        return f"on the first and last {name}s only (the border)"
    if indices == [0]:
        return f"in the first {name} only"
    if indices == [size - 1]:
        return f"in the last {name} only"
    if len(indices) <= 3:
        return f"in {name}s {', '.join(map(str, indices))} of {size} only"
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"in {name}s {indices[0]} to {indices[-1]} of {size} only (one block)"
    if set(range(0, size, 2)) == set(indices) or set(range(1, size, 2)) == set(indices):
        return f"in every other {name} only"
    return ""


def locate(quantity, got, want):
    """Where a wrong quantity is wrong, when that is a pattern a student can look for: a constant
    offset everywhere, or only some samples, channels, rows, columns, time steps, the border."""
    label = _label(quantity)
    if got is None:
        return None
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or want.size < 2:
        return None
    with np.errstate(all="ignore"):
        offset = got - want
        if np.all(np.isfinite(offset)) and np.ptp(offset) <= MATCH * max(float(np.max(np.abs(want))), 1e-300):
            return f"{label} is off by the same amount {float(offset.flat[0]):.4g} everywhere: a term is added that should not be (or one is missing)"
        bad = wrong_entries(got, want)
    names = _axis_names(quantity, want.ndim)
    if not bad.any() or bad.all() or len(names) != want.ndim:
        return None
    places = [
        words
        for axis in range(want.ndim)
        if want.shape[axis] > 1
        for touched in [np.flatnonzero(bad.any(axis=tuple(a for a in range(want.ndim) if a != axis)))]
        if len(touched) < want.shape[axis]
        for words in [_axis_words(names, axis, touched, want.shape[axis])]
        if words
    ]
    where = " and ".join(places[:2])
    if not where and want.ndim == 4 and min(want.shape[2:]) > 2:
        plane = bad.any(axis=(0, 1))
        inner = np.zeros_like(plane)
        inner[1:-1, 1:-1] = True
        if not (plane & inner).any():
            where = "on the border only (the first and last rows and columns)"
    if not where:
        zero = want == 0
        if zero.any() and not (bad & ~zero).any():
            where = "only where the right value is 0"
        elif zero.any() and not (bad & zero).any():
            where = "only where the right value is not 0"
    if not where:
        return None
    numbers = worst(got, want).replace("{name}", label)
    return f"{label} is right in {int((~bad).sum())} of {bad.size} entries and wrong {where}.{numbers}"


ELEMENTWISE = ("relu", "sigmoid", "tanh")  # dx = dout * f'(x), entry by entry


def local_gradient(ctx, quantity):
    """For an elementwise layer, the local gradient the code used (dx / dout) against f'(x), at the
    entry where it is furthest off: what to recompute by hand."""
    x, got, want, dout = ctx.args.get("x"), ctx.got.get(quantity), ctx.want.get(quantity), ctx.dout
    if ctx.op not in ELEMENTWISE or quantity != "dx" or got is None or x is None:
        return None
    got, want, dout = (np.asarray(v, np.float64) for v in (got, want, dout))
    if not (got.shape == want.shape == dout.shape == np.shape(x)):
        return None
    usable = np.abs(dout) > 1e-3 * float(np.max(np.abs(dout)))
    if not usable.any():
        return None
    with np.errstate(all="ignore"):
        used, right = got / np.where(usable, dout, 1.0), want / np.where(usable, dout, 1.0)
        gap = np.where(usable, np.abs(used - right), -1.0)
    index = np.unravel_index(int(np.nanargmax(gap)), gap.shape)
    return (
        f"dx / dout, the local gradient the code uses, is wrong: at x = {float(np.asarray(x)[index]):.4g} it is "
        f"{used[index]:.4g}, want {right[index]:.4g}; work out the derivative of {ctx.op} there by hand"
    )


# A norm's running statistic in the param dict it keeps them in (bn_param['running_mean']).
RUNNING = re.compile(r"\['(running_mean|running_var)'\]$")
RUNNING_UPDATE = "running_update"  # the mistakes key of its sentence


def _said_by_the_first(ctx, quantity, detectors):
    """Whether one of `detectors` ((key, detector(ctx, quantity) -> sentence or None), tried in order)
    has a sentence for the quantity; the first one's goes into ctx.found."""
    for key, detector in detectors:
        words = detector(ctx, quantity)
        if words:
            ctx.found.append((quantity, key, words))
            return True
    return False


# Tried before generic()'s "constant factor", which any wrong number fits, and after it.
BEFORE_THE_FACTOR = (("mean_in_log_sum_exp", _off_by_log_classes), ("generic", _shifted_by_an_argument))
AFTER_THE_FACTOR = (
    ("located", lambda ctx, quantity: locate(quantity, ctx.got[quantity], ctx.want[quantity])),
    ("local_gradient", local_gradient),
)


def diagnose(ctx):
    """Sentences for the wrong quantities of one sample: catalogue first, then the generic detectors."""
    wrong = [
        q
        for q in (ctx.wrong if ctx.wrong is not None else ctx.want)
        if q in ctx.got and q in ctx.want and (ctx.wrong is not None or not close(ctx.got[q], ctx.want[q]))
    ]
    if not wrong:
        return []
    explained = from_catalogue(ctx, wrong)
    order = list(ctx.want)
    missing = sorted((q for q in wrong if q not in explained and ctx.got[q] is None), key=order.index)
    if len(missing) > 1:  # one sentence for them all, not one each run together
        names = ", ".join(_label(q) for q in missing)
        for quantity in missing:
            ctx.found.append((quantity, "generic", f"{names} are None: they are not computed (or not returned)."))
        explained.update(missing)
    for quantity in wrong:
        if quantity in explained:
            continue
        if _said_by_the_first(ctx, quantity, BEFORE_THE_FACTOR):
            explained.add(quantity)
            continue
        words = generic(quantity, ctx.got[quantity], ctx.want[quantity], ctx.batch, ctx.sample)
        if words:
            factor = constant_factor(ctx.got[quantity], ctx.want[quantity])
            if factor is not None and np.any(ctx.got[quantity]):  # "all zeros" is not a factor's sentence
                ctx.factors[quantity] = factor
            ctx.found.append((quantity, "generic", words))
            explained.add(quantity)
    grads = [q for q in ctx.want if is_gradient(q)]
    for quantity in [q for q in wrong if q not in explained]:
        if _said_by_the_first(ctx, quantity, AFTER_THE_FACTOR):
            explained.add(quantity)
    left = [q for q in wrong if q not in explained]
    if len(grads) > 1 and len(left) == 1 and left[0] in grads and len([q for q in wrong if q in grads]) == 1:
        others = ", ".join(q for q in grads if q != left[0])
        ctx.found.append(
            (
                left[0],
                "only_one_wrong",
                f"only {left[0]} is wrong ({others} are right): look at the "
                f"line that computes {left[0]}.{worst(ctx.got[left[0]], ctx.want[left[0]]).replace('{name}', left[0])}",
            )
        )
    for quantity, running in ((q, RUNNING.search(q)) for q in left):
        if running is None:
            continue
        key = running[1]
        statistic = "mean" if key == "running_mean" else "variance (the biased one, as in train mode)"
        numbers = worst(ctx.got[quantity], ctx.want[quantity]).replace("{name}", quantity)
        ctx.found.append(
            (
                quantity,
                RUNNING_UPDATE,
                f"{quantity} is updated wrong: it is momentum * {key} + (1 - momentum) * the batch's {statistic}, "
                f"stored back in the param dict.{numbers}",
            )
        )
    return [text for _, _, text in ctx.found]
