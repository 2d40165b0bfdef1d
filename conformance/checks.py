"""The checks run for every op x sample x dtype x device, each returning a CheckResult.

A Case names what to check; its manual run and its oracle run are computed once and shared by
every check. Exceptions raised by the manual code become failing results, never crashes.
"""

import copy
import dataclasses
import functools
import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from manual_grads._mode import value_only
from reference import oracle

from . import cache
from . import tolerance as policy
from .backends import backend_for, to_numpy_tree, trees_identical
from .registry import LAYER, LOSS, OMIT, UPDATE
from .samples import as_float64, cast_floats, map_floats, rng_for, seeded


@dataclass(frozen=True)
class Case:
    """One op on one sample in one dtype on one device."""

    op: object
    sample: str
    dtype: str
    device: str = "cpu"
    seed: int = 0  # draws the sample, cotangent and directions (0: the registry's own draws)

    def __str__(self):
        return f"{self.op.name}-{self.sample}-{self.dtype}-{self.device}" + (f"-seed{self.seed}" if self.seed else "")

    @property
    def small(self):
        base = self.sample.split("/")[0]
        return any(s.name == base and s.small for s in self.op.samples)

    @property
    def where(self):
        return f"[{self.op.backward_name}, sample {self.sample}, {self.dtype}, {self.device}]"


@dataclass
class CheckResult:
    """The outcome of one check on one case; `comparisons` carry the numbers."""

    check: str
    case: Case
    passed: bool
    detail: str = ""
    comparisons: list = field(default_factory=list)
    skipped: bool = False  # the check does not apply to this op, and says why in `detail`

    @property
    def worst(self):
        """The comparison closest to (or furthest over) its tolerance, if any."""
        return worst_of(self.comparisons)

    @property
    def message(self):
        verdict = "skipped" if self.skipped else "passed" if self.passed else "FAILED"
        return f"{self.check} {verdict}: {self.detail} {self.case.where}"


@dataclass
class ManualRun:
    out: object
    cache: object
    grads: tuple


def _read_only(value):
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for item in value.values():
            _read_only(item)
    return value


@functools.lru_cache(maxsize=4)
def _sample(op, name, dtype, seed):
    """The drawn sample, cached and read-only (a write into it would leak into later checks)."""
    sample = op.draw_sample(name, dtype, seed)
    _read_only(sample.args)
    return sample


def clear_caches():
    """Forget this process's samples and runs (the oracle's disk cache stays)."""
    for cached in (_sample, oracle_run, manual_run, achievable):
        cached.cache_clear()


def sample_args(case):
    """The case's arguments as NumPy values in signature order."""
    sample = _sample(case.op, case.sample, case.dtype, case.seed)
    return [sample.args[name] for name in case.op.signature]


def named_args(case):
    return dict(zip(case.op.signature, sample_args(case)))


def wrt_positions(op):
    return [op.signature.index(name) for name in op.wrt]


@functools.lru_cache(maxsize=2)
def oracle_run(case):
    """(out, grads, dout) from JAX in float64 on the case's device, for the case's cotangent.

    Without a reference (op.reference is None) there is no oracle: the output comes from the manual
    forward in float64, the gradients are None, and only the checks that need no oracle apply.
    """
    if case.op.reference is None:
        args = list(as_float64(named_args(case)).values())  # float64 copies, parameter dicts new
        out = np.asarray(to_numpy_tree(case.op.forward(*args)[0], backend_for("cpu")), np.float64)
        return out, None, _read_only(cotangent(case, out.shape))
    out, grads, dout = cache.vjp(
        case.op.reference,
        sample_args(case),
        wrt_positions(case.op),
        functools.partial(cotangent, case),
        cotangent_label(case),
        case.device,
    )
    return out, grads, _read_only(np.asarray(dout))


def _moved(value, rng, u):
    """A float array moved by one rounding u (relative) in random directions; anything else as it is."""

    def move(array):
        if array.size == 0:
            return array
        array = array.astype(np.float64)
        return array + u * np.abs(array) * rng.choice([-1.0, 1.0], size=array.shape)

    return map_floats(value, move)


@functools.lru_cache(maxsize=2)
def achievable(case):
    """(out, [grads]): what correct NumPy code in the case's dtype can be off by, as absolute
    values: the reference's own error when computed in float32 the way NumPy computes (its sums in
    NumPy's order, its exp and tanh as NumPy's: reference.in_order), the largest over a few runs at
    nudged inputs, scaled to the dtype's rounding (_float32_error). In float64, the oracle's own
    rounding (_oracle_rounding) and how far NumPy's way of computing lands from it (_numpy_float64),
    where larger: the oracle then rounds as much as the code under test. Where float32 overflows (a
    finite float64 result, an infinite or NaN float32 one) that run cannot show the error, and how
    far the float64 reference moves when every input moves by one rounding of the dtype stands in (a
    backward-stable implementation is exact for inputs moved that much). Zero on a sample placed
    exactly on kinks, where any of these would cross them. Kept on disk with the oracle's answers
    (cache.remembered), so that a warm run reads a few numbers instead of every run behind them."""
    out, grads, dout = oracle_run(case)
    if case.op.reference is None or any(spec.at_kinks for spec in case.op.samples if spec.name == case.sample):
        return 0.0, [0.0] * len(grads or ())
    args = sample_args(case)
    label = f"{cotangent_label(case)}: achievable in {case.dtype}, {case.op.name} {case.sample} seed {case.seed}"
    return cache.remembered(
        case.op.reference,
        args,
        wrt_positions(case.op),
        label,
        case.device,
        lambda: _estimate(case, args, dout, out, grads),
        ESTIMATE_MODULES,
    )


# The code an estimate comes from: a change to any of them makes every remembered estimate stale.
ESTIMATE_MODULES = ("conformance.checks", "conformance.tolerance", "conformance.samples")


def _estimate(case, args, dout, out, grads):
    """achievable() computed: the runs of the reference behind it."""
    error_out, errors, overflowed = _float32_error(case, args, dout, out, grads)
    estimate = error_out, errors
    if case.dtype == "float64":  # the oracle rounds as much as the code under test: it may be the worse of the two
        estimate = _larger(estimate, _oracle_rounding(case, args, dout, out, grads))
        estimate = _larger(estimate, _numpy_float64(case, args, dout, out, grads))
    if overflowed:
        estimate = _larger(estimate, _change_when_moved(case, args, dout, out, grads))
    return estimate


def _larger(first, second):
    """The larger of two estimates (out, [grads]), quantity by quantity."""
    (first_out, first_grads), (second_out, second_grads) = first, second
    return max(first_out, second_out), [max(a, b) for a, b in zip(first_grads, second_grads)]


def _oracle_rounding(case, args, dout, out, grads):
    """How far the float64 oracle's own rounding takes its results: half the second difference of its
    results at every input (dout included) scaled by 1 + SCALING and 1 - SCALING. Scaling moves the
    inputs' low bits, so each run rounds anew, while the smooth change (SCALING^2 of the result) is
    far below a rounding: what is left is rounding noise. XLA's float64 conv sums dw in order (40 u
    on the large sample, where its float32 conv reaches 6 u)."""
    runs = []
    for sign in (1.0, -1.0):
        factor = 1.0 + sign * policy.SCALING
        scaled = [map_floats(a, lambda x, f=factor: x.astype(np.float64) * f) for a in args]
        label = f"{cotangent_label(case)} scaled by 1 {'+-'[sign < 0]} 2^-40"
        cotangent = np.asarray(dout, np.float64) * factor
        runs.append(cache.vjp(case.op.reference, scaled, wrt_positions(case.op), cotangent, label, case.device))
    (up_out, up), (down_out, down) = (run[:2] for run in runs)
    return _second_difference(up_out, down_out, out), [_second_difference(*g) for g in zip(up, down, grads)]


def _numpy_float64(case, args, dout, out, grads):
    """How far the reference computed in float64 the way NumPy computes (its sums in NumPy's order,
    NumPy's own tanh and exp: reference.in_order) lands from the oracle: what correct NumPy code
    shows against it where the two round differently by design, which the oracle's rounding noise
    does not show (XLA's float64 tanh is 6 roundings off NumPy's at saturation)."""
    label = cotangent_label(case)
    numpy_out, numpy = cache.vjp(
        case.op.reference, args, wrt_positions(case.op), dout, label, case.device, "float64", True
    )[:2]
    return _largest_change(out, numpy_out), [_largest_change(g, h) for g, h in zip(grads, numpy)]


def _second_difference(up, down, at):
    with np.errstate(invalid="ignore"):
        up, down, at = (np.asarray(a, np.float64) for a in (up, down, at))
        return _finite_max(np.abs(up + down - 2 * at) / 2)


def _change_when_moved(case, args, dout, out, grads):
    """The largest change of the float64 reference's results over PERTURBATIONS draws of inputs moved by
    one rounding u of the dtype."""
    u = policy.unit_roundoff(case.dtype)
    rng = rng_for(f"moved-{case.op.name}-{case.sample}-{case.dtype}", case.seed)
    changed_out, changed = 0.0, [0.0] * len(grads)
    for draw in range(policy.PERTURBATIONS):
        moved = [_moved(a, rng, u) for a in args]
        cotangent = _moved(np.asarray(dout), rng, u)
        label = f"{cotangent_label(case)} moved {draw}"
        out2, grads2, _ = cache.vjp(case.op.reference, moved, wrt_positions(case.op), cotangent, label, case.device)
        changed_out = max(changed_out, _largest_change(out, out2))
        changed = [max(c, _largest_change(g, g2)) for c, g, g2 in zip(changed, grads, grads2)]
    return changed_out, changed


def _float32_error(case, args, dout, out, grads):
    """(out, [grads], overflowed): the reference's float32 error on float32 inputs, computed as
    NumPy computes (reference.in_order: a column sum in NumPy carries 2-5x the error of XLA's,
    np.tanh a quarter of XLA's float32 tanh's), scaled to the dtype's rounding; the float64
    reference on the same inputs is the yardstick, so that only the computation's rounding counts.
    The largest over a few draws (_float32_draws), the first at the inputs themselves and the others
    at inputs nudged by a relative NUDGE, so that one lucky rounding (of a mean, say) does not
    decide it. In float32, XLA's own float32 run at the inputs themselves counts too: a second
    correct way of computing, whose row sums round more than NumPy's pairwise ones (3-6x on a layer
    or group norm far from zero, measured), as code that sums a row in a loop does (in float64 the
    oracle's own rounding stands for it). `overflowed`: some float32 result is infinite or NaN where
    the float64 one is finite."""
    scaled = policy.unit_roundoff(case.dtype) / policy.unit_roundoff("float32")
    rng = rng_for(f"nudged-{case.op.name}-{case.sample}-{case.dtype}", case.seed)
    worst_out, worst, overflowed = 0.0, [0.0] * len(grads), False
    wrt = wrt_positions(case.op)
    for draw in range(_float32_draws(args)):
        inputs, cotangent = (args, dout) if draw == 0 else ([_nudged(a, rng) for a in args], _nudged(dout, rng))
        rounded = [cast_floats(a, np.float32) for a in inputs]
        cotangent = np.asarray(cotangent).astype(np.float32)
        label = f"{cotangent_label(case)} on float32 inputs" + (f" nudged {draw}" if draw else "")
        if draw == 0 and case.dtype == "float32":  # the inputs are float32 already: the oracle is the yardstick
            exact = out, grads
        else:
            exact = cache.vjp(case.op.reference, rounded, wrt, cotangent, label, case.device)
        runs = [cache.vjp(case.op.reference, rounded, wrt, cotangent, label, case.device, "float32", True)]
        if draw == 0 and case.dtype == "float32":  # in float64 the oracle's own rounding stands for XLA's way
            runs.append(cache.vjp(case.op.reference, rounded, wrt, cotangent, label, case.device, "float32"))
        for low in runs:
            worst_out = max(worst_out, scaled * _largest_change(exact[0], low[0]))
            worst = [max(w, scaled * _largest_change(a, b)) for w, a, b in zip(worst, exact[1], low[1])]
            overflowed = overflowed or any(map(_overflow, (exact[0], *exact[1]), (low[0], *low[1])))
    return worst_out, worst, overflowed


def _overflow(exact, low):
    """Whether `low` is infinite or NaN anywhere `exact` is finite."""
    exact, low = np.asarray(exact, np.float64), np.asarray(low, np.float64)
    return bool(np.any(np.isfinite(exact) & ~np.isfinite(low)))


def _float32_draws(args):
    """FLOAT32_DRAWS, or one run where the inputs are large: they hold so many independent roundings
    (a mean per column, say) that one run already shows about the worst of them."""
    entries = sum(np.size(a) for a in args if isinstance(a, np.ndarray))
    return policy.FLOAT32_DRAWS if entries < policy.MANY_ROUNDINGS else 1


def _nudged(value, rng):
    """A float array moved by a random relative NUDGE per entry (far above a rounding, far below any
    change of the problem), in its own dtype; anything else as it is."""

    def nudge(array):
        if array.size == 0:
            return array
        return np.asarray(array * (1.0 + policy.NUDGE * rng.uniform(-1.0, 1.0, size=array.shape)), array.dtype)

    return map_floats(value, nudge)


def _largest_change(before, after):
    with np.errstate(invalid="ignore"):
        return _finite_max(np.abs(np.asarray(after, np.float64) - np.asarray(before, np.float64)))


def _finite_max(values):
    """The largest finite entry (0.0 for none)."""
    return float(np.max(np.where(np.isfinite(values), values, 0.0), initial=0.0))


def derived_tolerance(case, change, want, floor=0.0):
    """The derived tolerance of one quantity: its achievable change relative to the same yardstick
    compare() measures its error against."""
    return policy.derived(change / policy.yardstick(want, case.dtype, floor), case.dtype)


def cotangent_label(case):
    # The seed leaves out the device, so CPU and GPU runs of a case see the same cotangent.
    return (
        "ones" if case.op.kind == LOSS else f"normal {seeded(f'{case.op.name}-{case.sample}-{case.dtype}', case.seed)}"
    )


def cotangent(case, shape):
    """dout for the case: 1 for a loss, seeded standard normal values in the dtype otherwise."""
    if case.op.kind == LOSS:
        return np.ones(shape, dtype=case.dtype)
    rng = rng_for(f"{case.op.name}-{case.sample}-{case.dtype}", case.seed)
    return rng.standard_normal(shape).astype(case.dtype)


def case_dout(case):
    return oracle_run(case)[2]


def as_tuple(grads):
    return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)


def fresh(value, backend):
    """A private, writable copy on the backend: code under test never touches shared arrays.

    Parameter dicts are copied too (a train-mode forward updates running statistics in them)."""
    if isinstance(value, dict):
        return {k: fresh(v, backend) for k, v in value.items()}
    return backend.asarray(np.array(value, copy=True)) if isinstance(value, np.ndarray) else value


def run_manual(op, args, dout, backend):
    """Forward then backward on `backend`'s arrays; results are left on that backend."""
    out, cache = op.forward(*[fresh(a, backend) for a in args])
    grads = as_tuple(op.backward(fresh(dout, backend), cache))
    return ManualRun(out, cache, grads)


@functools.lru_cache(maxsize=2)
def manual_run(case):
    backend = backend_for(case.device)
    run = run_manual(case.op, sample_args(case), case_dout(case), backend)
    return ManualRun(to_numpy_tree(run.out, backend), run.cache, tuple(to_numpy_tree(g, backend) for g in run.grads))


def tolerance_terms(op, args, factor=1.0):
    """(K, condition, factor) of the tolerance policy for `op` on `args` ({name: value})."""
    args64 = as_float64(args)
    return op.reduction(**args64), op.condition(**args64), op.tol_factor * factor


def case_tolerance(case, factor=1.0):
    return policy.tolerance(case.dtype, *tolerance_terms(case.op, named_args(case), factor))


def worst_of(comparisons):
    """The comparison with the largest error / tolerance (a NaN counts as the worst)."""
    return max(comparisons, key=lambda c: np.nan_to_num(c.ratio, nan=np.inf), default=None)


def floors(op, wants):
    """{gradient name: floor}: a cancelling gradient is measured against its largest sibling."""
    if not op.cancelling:
        return {}
    largest = max((float(np.max(np.abs(w), initial=0.0)) for w in wants), default=0.0)
    return {f"d{name}": largest for name in op.cancelling}


def _result(check, case, comparisons):
    failed = [c for c in comparisons if not c.passed]
    worst = worst_of(comparisons)
    detail = "; ".join(c.describe() for c in failed) if failed else (worst.describe() if worst else "")
    return CheckResult(check, case, not failed, detail, comparisons)


def _count_mismatch(case, grads):
    op = case.op
    if len(grads) != len(op.wrt):
        names = ", ".join(op.grad_names)
        return f"{op.backward_name} returned {len(grads)} gradient(s), want {len(op.wrt)} ({names})"
    return ""


# ----- the checks -----


def check_forward(case):
    """The manual forward output agrees with the reference's."""
    want = oracle_run(case)[0]
    got = manual_run(case).out
    name = "loss" if case.op.kind == LOSS else "out"
    tol = derived_tolerance(case, achievable(case)[0], want) if case.op.reference else case_tolerance(case)
    return _result("forward", case, [policy.compare(name, got, want, tol, case.dtype)])


def check_vjp(case):
    """Each manual gradient agrees with jax.vjp's for the case's cotangent."""
    got = manual_run(case).grads
    problem = _count_mismatch(case, got)
    if problem:
        return CheckResult("vjp", case, False, problem)
    return _result("vjp", case, compare_gradients(case, got))


def gradient_tolerances(case):
    """{gradient name: its derived tolerance} ({} for an op without a reference)."""
    want = oracle_run(case)[1]
    if want is None:
        return {}
    floor, changes = floors(case.op, want), achievable(case)[1]
    if floor:  # a cancelling gradient sums terms as large as its siblings' entries: it can be off as much
        changes = [max(changes) if n in floor else c for n, c in zip(case.op.grad_names, changes)]
    return {n: derived_tolerance(case, c, w, floor.get(n, 0.0)) for n, w, c in zip(case.op.grad_names, want, changes)}


def compare_gradients(case, got):
    """Comparisons of gradients `got` (in wrt order) with the oracle's, each at its derived tolerance."""
    want, tolerances = oracle_run(case)[1], gradient_tolerances(case)
    floor = floors(case.op, want)
    return [
        policy.compare(n, g, w, tolerances[n], case.dtype, floor.get(n, 0.0))
        for n, g, w in zip(case.op.grad_names, got, want)
    ]


def numeric_vjp(forward, args, positions, dout, step=1e-6, entries=None):
    """Central differences of sum(dout * forward(*args)[0]) with respect to args[positions]: at every
    entry, or (`entries`) at that many seeded random entries of each argument, NaN elsewhere."""
    args = [np.array(a, np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]

    def value(at):
        # Parameter dicts are copied per call: a train-mode forward writes running statistics into them.
        at = [copy.deepcopy(a) if isinstance(a, dict) else a for a in at]
        with value_only():  # a model's loss without its gradients
            value = forward(*at)[0]
        return float(np.sum(np.asarray(dout, np.float64) * np.asarray(value, np.float64)))

    grads = []
    for position in positions:
        x = args[position]
        grad = np.zeros(x.shape)
        for index in _entries(x.shape, entries, grad):
            h = step * max(1.0, abs(float(x[index])))
            shifted = []
            for sign in (1, -1):
                moved = x.copy()
                moved[index] += sign * h
                shifted.append(value(args[:position] + [moved] + args[position + 1 :]))
            grad[index] = (shifted[0] - shifted[1]) / (2 * h)
        grads.append(grad)
    return grads


def _entries(shape, entries, grad):
    """The indices central differences are taken at: all, or `entries` seeded random ones (the rest
    of `grad` set to NaN: not measured)."""
    size = int(np.prod(shape))
    if entries is None or size <= entries:
        return np.ndindex(shape)
    grad.fill(np.nan)
    chosen = np.sort(np.random.default_rng(size).choice(size, entries, replace=False))
    return [np.unravel_index(i, shape) for i in chosen]


FD_ENTRIES = 32  # per argument, where a reference exists (its vjp check looks at every entry)


def check_finite_differences(case):
    """Three-way: manual and JAX gradients both agree with central differences of the manual forward
    (at FD_ENTRIES entries of each argument where the op has a reference, at every entry otherwise)."""
    entries = None if case.op.reference is None else FD_ENTRIES
    numeric = numeric_vjp(case.op.forward, sample_args(case), wrt_positions(case.op), case_dout(case), entries=entries)
    got = manual_run(case).grads
    problem = _count_mismatch(case, got)
    if problem:
        return CheckResult("finite_differences", case, False, problem)
    jax_grads = oracle_run(case)[1]
    tol = policy.FINITE_DIFFERENCE_TOLERANCE
    measured = [_measured_only(num, g) for num, g in zip(numeric, got)]
    floor = floors(case.op, measured)
    comparisons = [
        policy.compare(n, g, num, tol, case.dtype, floor.get(n, 0.0))
        for n, g, num in zip(case.op.grad_names, got, measured)
    ]
    if jax_grads is not None:
        comparisons += [
            policy.compare(f"{n} (jax)", j, _measured_only(num, j), tol, case.dtype, floor.get(n, 0.0))
            for n, j, num in zip(case.op.grad_names, jax_grads, numeric)
        ]
    return _result("finite_differences", case, comparisons)


def _measured_only(numeric, other):
    """The central differences, with what was not measured (NaN) taken from the gradient they are
    compared with: only the measured entries can differ."""
    if not np.isnan(numeric).any() or np.shape(other) != numeric.shape:
        return numeric
    return np.where(np.isnan(numeric), np.asarray(other, np.float64), numeric)


DIRECTIONS, SAMPLED_ENTRIES, STEP = 3, 20, 1e-6


def _float64_args(case):
    return [
        np.array(a, np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else copy.deepcopy(a)
        for a in sample_args(case)
    ]


def check_directional(case):
    """Directional derivatives at any size and dtype, with or without a reference: along seeded random
    directions u (over all differentiable inputs at once), central differences of <dout, f(x + h u)>
    with the forward run on float64 copies, against <backward(dout), u> from the dtype under test;
    then central differences at a few sampled entries of each input. The yardstick is
    sum |g_i u_i| (the terms of the inner product), so that cancellation cannot hide an error."""
    op, dout = case.op, np.asarray(case_dout(case), np.float64)
    got = manual_run(case).grads
    problem = _count_mismatch(case, got)
    if problem:
        return CheckResult("directional", case, False, problem)
    grads = [np.asarray(g, np.float64) for g in got]
    args, positions = _float64_args(case), wrt_positions(op)
    rng = rng_for(f"directional-{op.name}-{case.sample}", case.seed)
    derived = gradient_tolerances(case)
    base = max(case_tolerance(case), policy.FINITE_DIFFERENCE_TOLERANCE)
    tol = max([base, *derived.values()])
    floor = floors(op, grads)

    def value(moved):
        at = list(args)
        for position, array in zip(positions, moved):
            at[position] = array
        at = [copy.deepcopy(a) if isinstance(a, dict) else a for a in at]
        return float(np.sum(dout * np.asarray(op.forward(*at)[0], np.float64)))

    comparisons = []
    for k in range(DIRECTIONS):
        # Random signs (Rademacher): as good as normals for a projection, and cheap at 1e7 entries.
        directions = [_rademacher(rng, args[p]) for p in positions]
        plus = value([args[p] + STEP * u for p, u in zip(positions, directions)])
        minus = value([args[p] - STEP * u for p, u in zip(positions, directions)])
        numeric = (plus - minus) / (2 * STEP)
        products = [np.asarray(g * u) for g, u in zip(grads, directions)]  # 0-d for a scalar, so abs works in place
        analytic = sum(float(np.sum(gu)) for gu in products)
        terms = sum(float(np.sum(np.abs(gu, out=gu))) for gu in products)
        noise = policy.DIFFERENCE_NOISE * (abs(plus) + abs(minus)) / STEP
        comparisons.append(
            policy.compare(
                f"<grads, u{k}>",
                np.asarray(analytic),
                np.asarray(numeric),
                tol,
                case.dtype,
                floor=max(terms, noise / tol),
            )
        )
    # Sampled entries where nothing else looks at single entries: no reference at all (with one, vjp
    # checks every entry against the oracle, and finite differences check the oracle's every entry).
    entries = SAMPLED_ENTRIES if op.reference is None else 0
    for name, position, g in zip(op.grad_names, positions, grads):
        flat = int(np.size(args[position]))
        picks = rng.choice(flat, size=min(entries, flat), replace=False) if flat and entries else []
        numeric, analytic = [], []
        for pick in picks:
            index = np.unravel_index(int(pick), np.shape(args[position]))
            h = STEP * max(1.0, abs(float(args[position][index])))
            shifted = []
            for sign in (1, -1):
                moved = [args[p].copy() for p in positions]
                moved[positions.index(position)][index] += sign * h
                shifted.append(value(moved))
            numeric.append((shifted[0] - shifted[1]) / (2 * h))
            analytic.append(float(g[index]))
        if picks is not None and len(picks):
            compared = policy.compare(
                f"{name} at {len(picks)} sampled entries",
                np.asarray(analytic),
                np.asarray(numeric),
                max(base, derived.get(name, 0.0)),
                case.dtype,
                floor=max(float(np.max(np.abs(g), initial=0.0)), floor.get(name, 0.0)),
            )
            comparisons.append(_at_input_index(compared, picks, np.shape(args[position])))
    return _result("directional", case, comparisons)


def _rademacher(rng, x):
    """Random signs shaped like `x`, scaled to its root mean square (at least 1); built in place,
    since a large sample's direction is 10^7 entries."""
    u = rng.integers(0, 2, np.shape(x), dtype=np.int8).astype(np.float64)
    u *= 2.0
    u -= 1.0
    u *= max(1.0, float(np.sqrt(np.vdot(x, x) / max(x.size, 1))))
    return u


def _at_input_index(compared, picks, shape):
    """The worst of the sampled entries named by its place in the input, not its place in the sample."""
    if not compared.worst_index:
        return compared
    where = np.unravel_index(int(picks[compared.worst_index[0]]), shape)
    return dataclasses.replace(compared, worst_index=tuple(int(i) for i in where))


def check_shapes_dtypes(case):
    """Each gradient has its input's shape and dtype; the output has the dtype under test."""
    run = manual_run(case)
    problems = []
    if _count_mismatch(case, run.grads):
        problems.append(_count_mismatch(case, run.grads))
    for name, grad, arg in zip(case.op.grad_names, run.grads, [named_args(case)[n] for n in case.op.wrt]):
        shape, dtype = tuple(np.shape(grad)), getattr(grad, "dtype", type(grad).__name__)
        if shape != arg.shape:
            problems.append(f"{name}.shape={shape}, want {arg.shape}")
        if str(dtype) != str(arg.dtype):
            problems.append(f"{name}.dtype={dtype}, want {arg.dtype}")
    out_dtype = getattr(run.out, "dtype", type(run.out).__name__)
    if str(out_dtype) != case.dtype:
        problems.append(f"output dtype={out_dtype}, want {case.dtype}")
    return CheckResult("shapes_dtypes", case, not problems, "; ".join(problems) or "all match")


def check_no_mutation(case):
    """Forward leaves its inputs alone; backward leaves dout and the cache alone."""
    backend = backend_for(case.device)
    op = case.op
    args = [fresh(a, backend) for a in sample_args(case)]
    dout = fresh(case_dout(case), backend)
    before_args = to_numpy_tree(args, backend)
    out, cache = op.forward(*args)
    before_cache, before_dout = to_numpy_tree(cache, backend), to_numpy_tree(dout, backend)
    op.backward(dout, cache)
    problems = [
        f"forward or backward changed its input {name}"
        for name, old, new in zip(op.signature, before_args, to_numpy_tree(args, backend))
        if name not in op.mutable and not trees_identical(old, new)
    ]
    if not trees_identical(before_dout, to_numpy_tree(dout, backend)):
        problems.append(f"{op.backward_name} changed dout")
    if not trees_identical(before_cache, to_numpy_tree(cache, backend)):
        problems.append(f"{op.backward_name} changed the cache")
    return CheckResult("no_mutation", case, not problems, "; ".join(problems) or "nothing changed")


def check_linear_in_dout(case):
    """backward(2 d1 - 3 d2) = 2 backward(d1) - 3 backward(d2)."""
    backend = backend_for(case.device)
    d1 = case_dout(case)
    d2 = np.random.default_rng(1).standard_normal(d1.shape).astype(case.dtype)
    args = sample_args(case)
    # backward(d1) is the case's own run, made once for every check.
    grads = [manual_run(case).grads] + [
        tuple(to_numpy_tree(g, backend) for g in run_manual(case.op, args, d, backend).grads)
        for d in (d2, 2 * d1 - 3 * d2)
    ]
    problem = _count_mismatch(case, grads[0])
    if problem:
        return CheckResult("linear_in_dout", case, False, problem)
    tol = case_tolerance(case, factor=policy.TWO_RUNS)
    wants = [2 * np.asarray(g1, np.float64) - 3 * np.asarray(g2, np.float64) for g1, g2 in zip(*grads[:2])]
    floor = floors(case.op, wants)
    comparisons = [
        policy.compare(name, g12, want, tol, case.dtype, floor.get(name, 0.0))
        for name, g12, want in zip(case.op.grad_names, grads[2], wants)
    ]
    return _result("linear_in_dout", case, comparisons)


def check_deterministic(case):
    """Two runs on the same inputs give bitwise identical outputs and gradients: the case's own run
    (made once for every check) and one more."""
    backend = backend_for(case.device)
    first = manual_run(case)
    again = run_manual(case.op, sample_args(case), case_dout(case), backend)
    snaps = [(first.out, first.grads), (to_numpy_tree(again.out, backend), to_numpy_tree(again.grads, backend))]
    same = trees_identical(snaps[0], snaps[1])
    return CheckResult("deterministic", case, same, "identical" if same else "two runs differ")


def check_state(case):
    """Forward updates the op's state (running statistics) as the op's `state` rule says."""
    backend = backend_for(case.device)
    args = [fresh(a, backend) for a in sample_args(case)]
    case.op.forward(*args)
    after = as_float64(dict(zip(case.op.signature, to_numpy_tree(args, backend))))
    expected = case.op.state(**as_float64(named_args(case)))
    tol = case_tolerance(case, factor=policy.TWO_RUNS)
    comparisons = []
    for param, entries in expected.items():
        for key, want in entries.items():
            got = after[param].get(key)
            if got is None:
                return CheckResult("state", case, False, f"{param}[{key!r}] was not set by the forward pass")
            comparisons.append(policy.compare(f"{param}[{key!r}]", got, want, tol, case.dtype))
    return _result("state", case, comparisons)


def _numeric(value):
    return isinstance(value, (np.ndarray, float, int)) and not isinstance(value, bool)


def check_defaults(case):
    """An argument left out (or given in its empty form: config=None, gn_param={}) means the
    documented defaults: the forward, the backward and the state it stores (running statistics, the
    returned config) agree with a call that spells the defaults out."""
    op, backend = case.op, backend_for(case.device)
    args, named = list(sample_args(case)), named_args(case)
    comparisons, problems = [], []
    tol = case_tolerance(case)
    for name, implicit, explicit in op.defaults:
        position = op.signature.index(name)
        spelled = explicit(**named)
        runs = []
        for value in (spelled, OMIT if implicit is OMIT else implicit()):
            call = [fresh(a, backend) for a in args]
            if value is OMIT:
                del call[position:]
            else:
                call[position] = fresh(value, backend)  # spelled-out state (zeros) on the backend too
            out, cache_ = op.forward(*call)
            grads = () if op.kind == UPDATE else as_tuple(op.backward(fresh(case_dout(case), backend), cache_))
            stored = cache_ if op.kind == UPDATE else (call[position] if len(call) > position else None)
            runs.append(
                (
                    to_numpy_tree(out, backend),
                    [to_numpy_tree(g, backend) for g in grads],
                    to_numpy_tree(stored, backend) if isinstance(stored, dict) else {},
                )
            )
        (out_a, grads_a, stored_a), (out_b, grads_b, stored_b) = runs
        label = f"{name} {'left out' if implicit is OMIT else f'= {implicit()!r}'}"
        comparisons.append(policy.compare(f"out with {label}", out_b, out_a, tol, case.dtype))
        comparisons += [
            policy.compare(f"{g} with {label}", b, a, tol, case.dtype)
            for g, a, b in zip(op.grad_names, grads_a, grads_b)
        ]
        for key in spelled if isinstance(spelled, dict) else ():
            if key in stored_a and key in stored_b and _numeric(stored_a[key]):
                comparisons.append(
                    policy.compare(
                        f"{name}[{key!r}] with {label}",
                        np.asarray(stored_b[key], float),
                        np.asarray(stored_a[key], float),
                        tol,
                        case.dtype,
                    )
                )
            elif key in stored_a and key not in stored_b and op.kind == UPDATE:
                problems.append(f"with {label}, the returned config lacks {key!r}")
    result = _result("defaults", case, comparisons)
    if problems:
        return CheckResult(
            "defaults", case, False, "; ".join(problems + ([result.detail] if not result.passed else [])), comparisons
        )
    return result


def check_refuses_invalid(case):
    """A forward given a parameter it does not know (bn_param["mode"] = "eval") raises instead of
    quietly running one of its branches."""
    op, backend = case.op, backend_for(case.device)
    accepted = []
    for name, key, value in op.invalid:
        call = [fresh(a, backend) for a in sample_args(case)]
        position = op.signature.index(name)
        call[position] = {**call[position], key: value}
        try:
            op.forward(*call)
        except Exception:  # noqa: BLE001 - any exception is a refusal
            continue
        accepted.append(f"{op.manual_names[0]} accepted {name}[{key!r}] = {value!r} without an error")
    return CheckResult("refuses_invalid", case, not accepted, "; ".join(accepted) or "every invalid value refused")


def _to_jax(value, device):
    """NumPy arrays as jax arrays of the same dtype on the case's device; parameter dicts copied."""
    import jax

    if isinstance(value, dict):
        return {k: _to_jax(v, device) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jax.device_put(value, oracle.jax_device(device if device in ("cpu", "gpu") else "cpu"))
    return value


NOT_TRACEABLE = "not traceable: {name} writes into its own arrays, which jax.numpy arrays refuse; {what} not checked"


def _split_arrays(value):
    """(arrays, rebuild): the arrays of an argument (a dict's array entries) to pass to jax.jit as
    traced values, and a function putting traced values back in their place (strings and numbers
    of a parameter dict stay static)."""
    if isinstance(value, dict):
        keys = [k for k, v in value.items() if isinstance(v, np.ndarray)]
        return [value[k] for k in keys], lambda arrays: {**value, **dict(zip(keys, arrays))}
    if isinstance(value, tuple):
        return list(value), tuple
    if isinstance(value, np.ndarray):
        return [value], lambda arrays: arrays[0]
    return [], lambda arrays: value


def _traced_call(args, device, body):
    """jax.jit(body)(*arrays) where body gets the arguments rebuilt around traced arrays; the arrays
    keep their dtypes (x64 on, so float64 stays float64)."""
    import jax

    splits = [_split_arrays(a) for a in args]
    counts = [len(arrays) for arrays, _ in splits]

    def traced(flat):
        rebuilt, start = [], 0
        for (_, rebuild), n in zip(splits, counts):
            rebuilt.append(rebuild(flat[start : start + n]))
            start += n
        return body(rebuilt)

    with jax.enable_x64(True):
        flat = [_to_jax(a, device) for arrays, _ in splits for a in arrays]
        return jax.tree_util.tree_map(np.asarray, jax.jit(traced)(flat))


def manual_vjp_of_vjp(op, args, positions, dout, direction, device="cpu"):
    """JAX's VJP of the hand-written backward g(x, dout) = backward(dout, forward(x)[1]) at `direction`,
    with the manual code running on jax.numpy arrays (under jax.jit) in the dtype under test:
    d<direction, g>/dx for each differentiable x, then d<direction, g>/d(dout), as NumPy arrays."""
    import jax

    def body(rebuilt):
        *full, d, v = rebuilt

        def grads_of(*diff_and_dout):
            *diff, cotangent = diff_and_dout
            at = list(full)
            for position, value in zip(positions, diff):
                at[position] = value
            return as_tuple(op.backward(cotangent, op.forward(*at)[1]))

        grads, pullback = jax.vjp(grads_of, *[full[p] for p in positions], d)
        return pullback(tuple(jax.numpy.asarray(vi, dtype=g.dtype) for vi, g in zip(v, grads)))

    return tuple(_traced_call(list(args) + [np.asarray(dout), tuple(direction)], device, body))


def _second_order_numeric(case, direction, got, names, tol):
    """Without a reference: directional central differences of <direction, backward(dout, forward(x))>
    (NumPy, float64) along seeded random directions over the inputs and dout together."""
    op, positions = case.op, wrt_positions(case.op)
    args, dout = _float64_args(case), np.asarray(case_dout(case), np.float64)
    rng = rng_for(f"second-directions-{op.name}-{case.sample}", case.seed)

    def value(moved, d):
        at = [copy.deepcopy(a) if isinstance(a, dict) else a for a in args]
        for position, array in zip(positions, moved):
            at[position] = array
        grads = as_tuple(op.backward(d, op.forward(*at)[1]))
        return float(sum(np.sum(np.asarray(g, np.float64) * v) for g, v in zip(grads, direction)))

    comparisons = []
    for k in range(DIRECTIONS):
        us = [rng.integers(0, 2, np.shape(args[p]), dtype=np.int8) * 2.0 - 1.0 for p in positions]
        ud = rng.integers(0, 2, np.shape(dout), dtype=np.int8) * 2.0 - 1.0
        plus = value([args[p] + STEP * u for p, u in zip(positions, us)], dout + STEP * ud)
        minus = value([args[p] - STEP * u for p, u in zip(positions, us)], dout - STEP * ud)
        numeric = (plus - minus) / (2 * STEP)
        terms = [np.asarray(s, np.float64) * u for s, u in zip(got, us + [ud])]
        analytic = sum(float(np.sum(t)) for t in terms)
        noise = 1e-14 * (abs(plus) + abs(minus)) / STEP
        comparisons.append(
            policy.compare(
                f"second order <{', '.join(names)}; u{k}>",
                np.asarray(analytic),
                np.asarray(numeric),
                tol,
                case.dtype,
                floor=max(sum(float(np.sum(np.abs(t))) for t in terms), noise / tol),
            )
        )
    return comparisons


def check_second_order(case):
    """gradgradcheck for a hand-written backward: JAX differentiates the manual backward itself (run on
    jax.numpy arrays) with respect to the inputs and dout, along a seeded random cotangent, and that
    must match JAX's second derivative of the reference (or, without one, finite differences of the
    manual backward). A backward right in value but built from steps JAX cannot see through (a
    stop_gradient, a NumPy round trip) fails here."""
    op = case.op
    if op.traceable is False:
        return CheckResult(
            "second_order", case, True, NOT_TRACEABLE.format(name=op.backward_name, what="second order"), skipped=True
        )
    run = manual_run(case)
    problem = _count_mismatch(case, run.grads)
    if problem:
        return CheckResult("second_order", case, False, problem)
    rng = rng_for(f"second-{op.name}-{case.sample}-{case.dtype}", case.seed)
    direction = [rng.standard_normal(np.shape(g)) for g in run.grads]
    positions, dout = wrt_positions(op), case_dout(case)
    names = [f"d{n}" for n in op.grad_names] + ["ddout"]
    try:
        got = manual_vjp_of_vjp(op, sample_args(case), positions, dout, direction, case.device)
    except Exception as error:  # noqa: BLE001 - user code under JAX may raise anything
        return CheckResult(
            "second_order",
            case,
            False,
            f"{op.backward_name} does not run on jax.numpy arrays, "
            f"which the second-order check needs ({describe_error(error)})",
        )
    tol = case_tolerance(case, factor=policy.TWO_RUNS)
    if op.reference is None:
        return _result(
            "second_order",
            case,
            _second_order_numeric(case, direction, got, names, max(tol, policy.FINITE_DIFFERENCE_TOLERANCE)),
        )
    want = oracle.vjp_of_vjp(op.reference, sample_args(case), positions, dout, direction, case.device)
    floor = max((float(np.max(np.abs(w), initial=0.0)) for w in want), default=0.0)
    return _result(
        "second_order",
        case,
        [
            policy.compare(
                f"second order {n}",
                g,
                w,
                tol,
                case.dtype,
                floor if n[2:] in op.cancelling or n == "ddout" and op.kind == LOSS else 0.0,
            )
            for n, g, w in zip(names, got, want)
        ],
    )


def check_jax_arrays(case):
    """The same manual code on jax.numpy arrays under jax.jit agrees with its NumPy run: a branch only
    jax.numpy (or CuPy) arrays take, or a NumPy-only idiom (reshape(-2)), fails here."""
    op = case.op
    if not op.traceable:
        return CheckResult(
            "jax_arrays",
            case,
            True,
            NOT_TRACEABLE.format(name=op.backward_name, what="the jax.numpy path"),
            skipped=True,
        )
    numpy_run = manual_run(case)

    def body(rebuilt):
        *args, dout = rebuilt
        out, cache = op.forward(*args)
        return out, as_tuple(op.backward(dout, cache))

    try:
        out, grads = _traced_call(list(sample_args(case)) + [np.asarray(case_dout(case))], case.device, body)
    except Exception as error:  # noqa: BLE001 - the code under test may raise anything under JAX
        return CheckResult(
            "jax_arrays",
            case,
            False,
            f"{'/'.join(op.manual_names)} fail on jax.numpy arrays under jax.jit ({describe_error(error)})",
        )
    problem = _count_mismatch(case, grads)
    if problem:
        return CheckResult("jax_arrays", case, False, problem + " on jax.numpy arrays")
    tol = case_tolerance(case, factor=policy.TWO_RUNS)
    floor = floors(op, numpy_run.grads)
    comparisons = [policy.compare("out (jax.numpy/numpy)", out, numpy_run.out, tol, case.dtype)]
    comparisons += [
        policy.compare(f"{n} (jax.numpy/numpy)", g, w, tol, case.dtype, floor.get(n, 0.0))
        for n, g, w in zip(op.grad_names, grads, numpy_run.grads)
    ]
    dtypes = [
        f"{n}.dtype={g.dtype} on jax.numpy arrays, want {case.dtype}"
        for n, g in zip(("out",) + op.grad_names, (out,) + grads)
        if g.dtype != np.dtype(case.dtype)
    ]
    if dtypes:
        return CheckResult("jax_arrays", case, False, "; ".join(dtypes), comparisons)
    return _result("jax_arrays", case, comparisons)


AGREEMENT = "gpu-vs-cpu"


def check_devices_agree(case):
    """The GPU oracle agrees with the CPU oracle in float64, and the manual pass on the GPU backend
    (CuPy, where installed) with the one on NumPy in the dtype under test."""
    on_cpu, on_gpu = (dataclasses.replace(case, device=d) for d in ("cpu", "gpu"))
    (cpu_out, cpu_grads, _), (gpu_out, gpu_grads, _) = oracle_run(on_cpu), oracle_run(on_gpu)
    exact = policy.tolerance("float64", *tolerance_terms(case.op, named_args(case)))
    floor = floors(case.op, cpu_grads)
    comparisons = [
        policy.compare(f"jax {n} gpu/cpu", g, c, exact, "float64", floor.get(n, 0.0))
        for n, g, c in zip(("out",) + case.op.grad_names, (gpu_out,) + gpu_grads, (cpu_out,) + cpu_grads)
    ]
    numpy_run, gpu_run = manual_run(on_cpu), manual_run(on_gpu)
    tol = case_tolerance(case, factor=policy.TWO_DEVICES)
    comparisons += [
        policy.compare(f"manual {n} {backend_for('gpu').name}/numpy", g, c, tol, case.dtype, floor.get(n, 0.0))
        for n, g, c in zip(
            ("out",) + case.op.grad_names, (gpu_run.out,) + gpu_run.grads, (numpy_run.out,) + numpy_run.grads
        )
    ]
    return _result("devices_agree", case, comparisons)


CHECKS = {
    "forward": check_forward,
    "vjp": check_vjp,
    "finite_differences": check_finite_differences,
    "directional": check_directional,
    "shapes_dtypes": check_shapes_dtypes,
    "no_mutation": check_no_mutation,
    "linear_in_dout": check_linear_in_dout,
    "deterministic": check_deterministic,
    "state": check_state,
    "devices_agree": check_devices_agree,
    "jax_arrays": check_jax_arrays,
    "defaults": check_defaults,
    "refuses_invalid": check_refuses_invalid,
    "second_order": check_second_order,
}
ORDER_2 = ("second_order",)  # run only when second order is asked for (gradref check --order 2)


def applicable(check, case):
    """Finite differences need a small float64 sample on the CPU (not a memory layout's copy of one
    where the oracle checks that copy's results); linearity needs a layer;
    the pseudo-device "gpu-vs-cpu" runs the agreement check alone; without a reference there is no
    forward or vjp check (finite differences stand in for the oracle)."""
    if (case.device == AGREEMENT) != (check == "devices_agree"):
        return False
    if case.op.reference is None and check in ("forward", "vjp", "devices_agree"):
        return False
    if case.op.kind == UPDATE and check in ("vjp", "finite_differences", "linear_in_dout", "directional"):
        return False
    if check == "directional":  # not across the kinks of a sample placed on them
        return case.device == "cpu" and not _spec(case).at_kinks
    if check == "jax_arrays":  # one sample per op and dtype: the path taken does not depend on the values
        # traceable None: a user's op, NumPy code unless they ask for order 2
        return case.device == "cpu" and case.sample == case.op.samples[0].name and case.op.traceable is not None
    if check == "defaults":
        return bool(case.op.defaults) and case.device == "cpu" and case.sample == case.op.samples[0].name
    if check == "refuses_invalid":
        return bool(case.op.invalid) and case.device == "cpu" and case.sample == case.op.samples[0].name
    if check == "second_order":  # the small samples (JAX unrolls loops: a large rnn takes a minute)
        smallest = case.small or (case.sample == case.op.samples[0].name and not any(s.small for s in case.op.samples))
        return (
            case.op.kind != UPDATE
            and "/" not in case.sample
            and not _spec(case).stress
            and not _spec(case).at_kinks
            and smallest
        )
    if check == "finite_differences":  # a layout variant's forward and gradients meet the oracle itself
        layout = "/" in case.sample and case.op.reference is not None
        return case.small and case.dtype == "float64" and case.device == "cpu" and not layout
    if check == "linear_in_dout":
        return case.op.kind == LAYER
    if check == "state":
        return case.op.state is not None
    return True


def run_check(check, case):
    """Run one check; an exception in the manual code is a failing result that names it."""
    try:
        return CHECKS[check](case)
    except oracle.PrecisionError:
        raise
    except Exception as error:  # noqa: BLE001 - the code under test may raise anything
        return CheckResult(check, case, False, f"raised {describe_error(error)}")


def _package_folders(*names):
    """The folders these installed packages live in, each ending in a separator."""
    folders = []
    for name in names:
        spec = importlib.util.find_spec(name)
        folders += [os.path.realpath(path) + os.sep for path in (spec.submodule_search_locations or [])] if spec else []
    return tuple(folders)


# By the packages' own folders, not by names in the path: a project checked out under a folder
# called `gradref` or `jax` is still the user's code.
_NOT_USER_CODE = _package_folders("conformance", "gradref", "jax", "jaxlib", "numpy")


def describe_error(error):
    """'ValueError: message at layers.py:12': the first line of the message and the innermost frame
    of the code under test (outside gradref, JAX and NumPy)."""
    import traceback

    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not os.path.realpath(f.filename).startswith(_NOT_USER_CODE)
    ]
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {text[:300]}{where}"


def _spec(case):
    """The SampleSpec a case's sample (or its layout variant) was drawn from."""
    base = case.sample.split("/")[0]
    return next(s for s in case.op.samples if s.name == base)


def cases(ops, dtypes=("float64", "float32"), devices=("cpu",), order=1, seed=0):
    """Every (check, case) pair that applies, grouped so each case's runs are shared; order=2 adds
    the second-order check."""
    chosen = [c for c in CHECKS if order >= 2 or c not in ORDER_2]
    pairs = []
    for op in ops:
        for device in devices:
            for dtype in dtypes:
                for sample in op.sample_names():
                    case = Case(op, sample, dtype, device, seed)
                    pairs += [(check, case) for check in chosen if applicable(check, case)]
    return pairs


def with_backward(op, backward):
    """The op with another backward function (planted bugs, students' code)."""
    return dataclasses.replace(op, backward=backward)
