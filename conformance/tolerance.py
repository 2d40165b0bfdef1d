"""The tolerance policy: one rule, by dtype and op.

A gradient entry that sums K products carries a rounding error of about sqrt(K) * u times the
size of its terms (u = unit roundoff: 2**-24 in float32, 2**-53 in float64). The terms can cancel
to a result near 0, so an entry's own size is no yardstick: the elementwise
max|a-b| / max(1e-8, |a|+|b|) of the course notebooks reports 1.0 for correct float32 affine
gradients. The yardstick here is the gradient's largest entry, which is at least as large as the
terms of a typical entry:

    error     = max_i |got_i - want_i| / max_i |want_i|          (the worst element)

The forward and the gradients are held to a tolerance derived from the very inputs (derived()): the
reference's own error when computed in float32 the way NumPy computes (its sums in NumPy's order,
its exp and tanh rounded once as NumPy's math library gives them: reference.in_order), the largest
of FLOAT32_DRAWS runs at slightly nudged inputs, scaled to the dtype; plus u for the result's own
rounding; times DERIVED (checks.achievable). In float64 the oracle rounds as much as the code under
test and may be the worse of the two: its own rounding, seen as the second difference of its results
at inputs scaled by 1 +- SCALING (XLA's float64 conv sums in order), and how far the reference
computed the NumPy way in float64 lands from it (XLA's float64 tanh is not libm's), count when
larger. Where float32 overflows and so shows nothing, how far the float64 reference moves when its
inputs move by u(dtype) stands in. Ill-conditioned inputs (layer norm at 1000 + N(0, 1), saturated
units) raise it by as much as they raise the error of correct code, and neither the size of a
reduction nor max|x| does by itself. A gradient that cancels to zero by construction (the bias
before a batchnorm) may be off as much as its largest sibling. The checks that compare the manual
code with itself (linearity, determinism, devices, second order) use the estimate from the op's
terms:

    tolerance = SAFETY * factor(op) * u(dtype) * sqrt(K) * condition

K is the op's longest reduction (1 for elementwise ops); `condition` grows with the size of the
inputs where the op shifts them before an exp (softmax: max|x|); `factor` covers ops that chain
several roundings (the two-layer net, the staged expression; see the named factors below). The
reference is float64 with matmul precision "highest" on inputs cast from the dtype under test, so
both sides see the same numbers.
The error is NaN when either side has a NaN, and a NaN error fails.
"""

from dataclasses import dataclass

import numpy as np

# ----- every factor of the policy, named with its reason -----

# Headroom over the sqrt(K) * u estimate: rounding errors are not all of one sign, but a few ulp of
# difference between XLA's and NumPy's elementary functions add up on top of it.
SAFETY = 16.0
# Ops that chain several rounded steps (the two-layer net, the staged expression, the norms, the
# recurrent layers): each step adds its own sqrt(K) u.
CHAINED = 4.0
# XLA's tanh and logistic sit a few ulp from NumPy's near saturation, and a derivative taken from the
# output (1 - t^2, s (1 - s)) doubles that: measured at 0.9x the plain tolerance in float64.
FROM_OUTPUT = 4.0
# Checks that compare two of the manual code's own results, each with its rounding (linear in dout:
# three backward runs; jax.numpy against NumPy; a traced second derivative; running statistics that
# go through a momentum average).
TWO_RUNS = 4.0
# The GPU against the CPU: two roundings of one computation.
TWO_DEVICES = 2.0
# Central differences in float64 with h = 1e-6 (scaled by |x|): truncation error h^2 and rounding
# error u / h both sit near 1e-10 relative; 1e-5 leaves room for curvature.
FINITE_DIFFERENCE_TOLERANCE = 1e-5
# The rounding of a float64 central difference itself, relative to the two function values.
DIFFERENCE_NOISE = 1e-14

# The derived tolerance (see derived() below) over the error correct code reaches, measured over every
# registry sample, both dtypes and seeds 0-49 (bench/slack.py): the error of correct NumPy code is at
# most 2.5x the estimate against the exact result (longdouble), 2.8x against the float64 oracle, and
# half of it at the median; 8 keeps the slack near 3x or more and puts its median near 18x (seeds
# 50-99 agree, but for one batch norm at 1.87x: README).
DERIVED = 8.0
# How many perturbed evaluations the estimate takes where float32 overflows (their largest change counts).
PERTURBATIONS = 2
# How many float32 runs of the reference the estimate takes (the largest error counts), and how far
# the inputs of the second and later move: far enough that every rounding falls differently (one
# lucky rounding of a mean decided it with a single run: correct code was 9x over the estimate).
FLOAT32_DRAWS = 5
NUDGE = 2.0**-12
# Inputs with this many entries take one float32 run: their many roundings show the worst in one.
MANY_ROUNDINGS = 2**14
# How far the float64 oracle's inputs are scaled to see its own rounding (checks._oracle_rounding):
# the low 13 bits change, and the smooth change of the result, SCALING^2 = 2^-80, is far below u.
SCALING = 2.0**-40

# ----- grading: the course's level, not rounding level -----

# The course's notebooks accept a result within about 1e-5 of the right one, relative to the largest
# entry (epsilon inside or outside a square root, log(p + 1e-7)); real bugs sit far above it.
COURSE_REL = 1e-5
# The unseen-values sample is there to catch answers looked up rather than computed, which are wrong by
# O(1): it is held 100x looser than COURSE_REL, so that a result the course accepts by a hair on the
# public samples (epsilon outside a root) cannot fail on a secret draw.
UNSEEN_SLACK = 100.0


def unit_roundoff(dtype):
    """u = eps / 2 of a floating dtype."""
    return float(np.finfo(np.dtype(dtype)).eps) / 2


def tolerance(dtype, reduction=1, condition=1.0, factor=1.0):
    """The largest accepted error (see the module docstring) for one comparison."""
    return SAFETY * factor * unit_roundoff(dtype) * np.sqrt(max(int(reduction), 1)) * max(condition, 1.0)


def derived(estimate, dtype):
    """The tolerance derived from what correct code can reach on these very inputs: `estimate` is the
    reference's own error in `dtype` (relative to the yardstick; checks.achievable); one more u
    stands for the rounding of the result itself."""
    return DERIVED * (estimate + unit_roundoff(dtype))


@dataclass(frozen=True)
class Comparison:
    """How far `got` sits from `want`, measured against `tolerance`."""

    name: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    worst_index: tuple
    got: float
    want: float
    shape_error: str = ""
    values_right: bool = False  # with a shape error: the values, reshaped, are within the tolerance

    @property
    def passed(self):
        # Written so that a NaN error fails: `not err > tol` would pass it.
        return not self.shape_error and bool(self.max_rel_error <= self.tolerance)

    @property
    def ratio(self):
        """error / tolerance: below 1 passes."""
        if self.shape_error:
            return float("inf")
        return self.max_rel_error / self.tolerance if self.tolerance > 0 else float("inf")

    def describe(self):
        """One line: the worst element, both values, the error against the tolerance."""
        if self.shape_error:
            return self.shape_error
        where = f"[{', '.join(map(str, self.worst_index))}]" if self.worst_index else "(scalar)"
        if self.max_rel_error != self.max_rel_error:  # NaN: a non-finite value on one side
            return f"{self.name}: element {where}: got {self.got:.7g}, want {self.want:.7g} (not finite)"
        verdict = "within" if self.passed else "over"
        return (
            f"{self.name}: worst element {where}: got {self.got:.7g}, want {self.want:.7g}; "
            f"error {self.max_rel_error:.2e} is {self.ratio:.3g}x the tolerance "
            f"{self.tolerance:.1e} ({verdict})"
        )


def yardstick(want, dtype, floor=0.0):
    """What an error is measured against: the reference's largest entry (or `floor`, where larger;
    never below the dtype's smallest normal number)."""
    want = np.asarray(want, np.float64)
    # max(max, -min) is max |want| without an array of absolute values (a NaN stays a NaN).
    largest = max(float(np.max(want)), -float(np.min(want))) if want.size else 0.0
    return max(largest, float(np.finfo(np.dtype(dtype)).tiny), floor)


def compare(name, got, want, tol, dtype, floor=0.0):
    """Compare one result with its reference; `dtype` is the dtype under test (for the floor).

    `floor` raises the yardstick for a gradient that cancels to zero by construction (the bias
    before a batchnorm): its entries are sums of terms as large as its siblings' entries.
    """
    want = np.asarray(want, dtype=np.float64)
    try:
        got_shape = tuple(np.shape(got))
    except Exception:  # noqa: BLE001 - anything that is not array-like
        got_shape = None
    if got_shape != want.shape:
        message, right = f"{name}.shape={got_shape}, want {want.shape}", False
        if got_shape is not None and int(np.prod(got_shape)) == want.size:
            # Same number of entries: say whether the values are right apart from the shape.
            values = compare(name, np.reshape(np.asarray(got), want.shape), want, tol, dtype, floor)
            right = values.passed
            message += (
                ": the values are right, the shape is wrong"
                if right
                else f"; reshaped to {want.shape}, the values are wrong too: " + values.describe()
            )
        return Comparison(name, np.inf, np.inf, tol, (), np.nan, np.nan, shape_error=message, values_right=right)
    got = np.asarray(got, dtype=np.float64)
    diff = np.asarray(got - want)  # a 0-d array, not a scalar, so that abs can work in place
    np.abs(diff, out=diff)
    if diff.size == 0:
        return Comparison(name, 0.0, 0.0, tol, (), np.nan, np.nan)
    flat = int(np.argmax(diff))
    max_abs = float(diff.reshape(-1)[flat])
    # A non-finite value on either side leaves an inf or a NaN in diff, so its largest entry says
    # whether one is there; the worst entry is then the first infinite difference, NaNs ranked as inf.
    if not np.isfinite(max_abs):
        flat = int(np.argmax(np.where(np.isnan(diff), np.inf, diff)))
        max_abs = float("nan") if not np.array_equal(got, want, equal_nan=True) else 0.0
    index = tuple(int(i) for i in np.unravel_index(flat, diff.shape))
    scale = yardstick(want, dtype, floor)
    return Comparison(
        name, max_abs, max_abs / scale, tol, index, float(got.reshape(-1)[flat]), float(want.reshape(-1)[flat])
    )
