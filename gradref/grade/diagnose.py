"""Name the mistake behind a wrong result, in words a student can act on.

First the catalogue (mistakes.py): each entry rebuilds what one real mistake produces, and for each
wrong quantity the first entry that reproduces it exactly (float64, 1e-6) names it. Quantities nothing in the catalogue explains
go to generic detectors: None or all zeros, transposed, right up to a reshape, off by a constant
factor (N, 1/N, 2, -1, ...), or the only wrong one among several gradients. Each sentence says which
quantity, what is wrong, the line of the formula to look at, and both values at the worst element.
All of it runs in the grader's process on float64 arrays, never in the student's.
"""

from dataclasses import dataclass, field

import numpy as np

from .mistakes import CATALOGUE

MATCH = 1e-6  # relative to the larger entry: a float64 result either matches a mistake or it does not


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


def from_catalogue(ctx, wrong):
    explained = set()
    for mistake in CATALOGUE.get(ctx.op, ()):
        try:
            with np.errstate(all="ignore"):  # mistakes overflow, that is the point of some
                produced = mistake.variant(ctx.args, ctx.dout, ctx.got)
        except Exception:  # noqa: BLE001 - a variant that does not apply to this sample
            continue
        # Quantity by quantity, so that a second mistake elsewhere does not hide this one.
        for quantity in produced:
            if quantity in wrong and quantity not in explained and close(ctx.got.get(quantity), produced[quantity]):
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
        (batch, "N times too large (N = batch size): the 1/N of a mean over the batch is missing"),
        (1 / batch if batch else None, "N times too small (N = batch size): 1/N is applied twice"),
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


def generic(quantity, got, want, batch):
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
        return f"{label} is all zeros: it is never written (or only created)"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and not close(got, want) and close(got.T, want):
        return f"{label} is transposed"
    factor = constant_factor(got, want)
    if factor is not None:
        return f"{label} is {_factor_words(factor, batch)}.{worst(got, want).replace('{name}', label)}"
    return None


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
    for quantity in wrong:
        if quantity in explained:
            continue
        words = generic(quantity, ctx.got[quantity], ctx.want[quantity], ctx.batch)
        if words:
            factor = constant_factor(ctx.got[quantity], ctx.want[quantity])
            if factor is not None:
                ctx.factors[quantity] = factor
            ctx.found.append((quantity, "generic", words))
            explained.add(quantity)
    grads = [q for q in ctx.want if q.startswith("d")]
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
    return [text for _, _, text in ctx.found]
