"""A backward must cost what a backward costs, timed from outside the student's process.

Reverse-mode differentiation costs a small constant times the forward (the cheap-gradient principle),
whatever the style: a naive loop backward is about as slow as the naive loop forward beside it. A
numerical gradient needs one or two forward evaluations per input entry, however it is hidden
(threads, profilers switched off, code under another file name) or batched. So each op's cost sample
is one with many input entries, and the grader itself times one forward-and-backward call of the
student's code on it, from the moment the request is written to the moment the reply is read. The
yardstick is the project's own NumPy forward and backward on the same sample, timed here in the
grader's process at the same moment (so a busy machine slows both) and on one BLAS thread, as the
student's process runs (a BLAS pool of several threads on a busy machine is many times slower than
one, which loosened the limit exactly when numerical gradients ran beside each other): nothing the
student's interpreter reports is used, and a forward made slow on purpose only makes the call slower.

A call over LIMIT_FACTOR times the yardstick (plus FLOOR_S for starting up and moving the arrays) is
measured again once; over it twice, it fails with the sentence that names numerical differentiation.
So does a call that runs out of memory there (every perturbed input stacked into one call), and one
that raises or breaks there after passing every other sample (a function must work on every input).
The factor comes from honest code of every style; the ops in COST_SAMPLES are those where even the
fastest numerical gradient (2 x its entries x the project's fastest forward) is SEPARATION times the
limit or more. `python -m bench.cost` measures both and says whether that holds for each.
"""

import functools
import time

import numpy as np
from threadpoolctl import threadpool_limits

from conformance import tolerance as policy
from conformance.backends import NUMPY
from conformance.checks import Case, as_tuple, cotangent, floors, fresh, run_manual
from conformance.registry import LOSS, REGISTRY
from conformance.samples import Sample, rng_for

from ..untrusted import protocol as P
from ..untrusted.sandbox import BadResult

# Honest code of every style in the corpus stays under 57x the project's own NumPy forward and
# backward on the cost samples (bench/cost.py: loops over rows, classes, features, windows and steps
# included); the limit leaves 3.5 times that. A numerical gradient takes at least SEPARATION times the
# whole limit on every op that is checked.
LIMIT_FACTOR = 200.0
FLOOR_S = 0.5  # starting the call, loading and saving its arrays, a scheduler's hiccup
BYTES_PER_S = 200e6  # moving the sample's arrays in and the results out, both ways, at worst
SEPARATION = 5.0  # the fastest numerical gradient / the limit, for an op to be cost-checked
# PyTorch pays several times NumPy's overhead per operation on small tensors (EECS 498's naive conv,
# four loops over windows, took 4.6 s on the registry's large conv sample where the same loops in
# NumPy take ~1 s). A torch submission's limit is this many times a NumPy one (conv's fastest
# numerical gradient then still takes about twice the limit; every other op 6 times or more).
TORCH_FACTOR = 3.0
REPEATS = 3  # timings of the yardstick; the fastest is kept
WAIT = 1.5  # x the limit: how long a call on the cost sample is waited for
# The timed call's gradients against the project's own, as loosely as the unseen sample is judged (a
# result the course accepts by a hair on the published samples is not failed on other values): one
# computed another way on large inputs than on small ones is off by its whole size.
TIMED_TOLERANCE = policy.COURSE_REL * policy.UNSEEN_SLACK
NUMERICAL = (
    "a backward that costs this much computes its gradient numerically (one or two forward calls per "
    "input entry); the assignment is to derive the gradient with the chain rule"
)


def _affine_sample(rng):
    return {
        "x": rng.standard_normal((128, 8, 64)),
        "w": rng.standard_normal((512, 512)) / 20,
        "b": rng.standard_normal(512),
    }


def _net_sample(rng):
    return REGISTRY["two_layer_net_full"].draw_sample("model", "float64").args


def _conv_sample(rng):
    """Many input entries over few output positions: loops over windows (the course's naive conv,
    one small operation per position: 4.8 s in torch on the registry's large sample) stay cheap,
    while a numerical gradient, one forward per input entry, does not."""
    fan_in = 32 * 3 * 3
    return {
        "x": rng.standard_normal((4, 32, 8, 8)),
        "w": rng.standard_normal((16, 32, 3, 3)) / np.sqrt(fan_in),
        "b": rng.standard_normal(16) / 10,
        "conv_param": {"stride": 1, "pad": 1},
    }


def _pool_sample(rng):
    return {"x": rng.standard_normal((16, 8, 32, 32)), "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}


def _embedding_sample(rng):
    return {"x": rng.integers(0, 1000, (64, 50)), "W": rng.standard_normal((1000, 128))}


# The ops a student writes whose numerical gradient is told apart by its cost, each with its cost
# sample: a registry sample's name (the large ones grading otherwise skips), or a draw of its own
# where the registry has none of a useful size (none large enough, or one so large that drawing and
# moving it would double the time a submission takes). bench/cost.py measures both sides and says whether SEPARATION holds for each.
# Left out: elementwise ops (relu, sigmoid, tanh, dropout, the circuits: two vectorised forward
# calls give their whole numerical gradient, so no cost tells it apart; the accuracy check still
# does), update rules (no gradient), and the composites the course's staff write (conv_relu,
# conv_relu_pool, affine_bn_relu, affine_ln_relu), whose samples are too small to separate.
COST_SAMPLES = {
    "affine": _affine_sample,
    "affine_relu": _affine_sample,
    "linear_svm": "wide",
    "linear_svm_half": "wide",
    "linear_softmax": "wide",
    "linear_softmax_half": "wide",
    "two_layer_net": _net_sample,
    "two_layer_net_full": "model",
    "softmax_loss": "wide",
    "svm_loss": "wide",
    "batchnorm": "wide",
    "batchnorm_alt": "wide",
    "layernorm": "wide",
    "spatial_batchnorm": "large",
    "spatial_groupnorm": "large",
    "conv": _conv_sample,
    "max_pool": _pool_sample,
    "rnn_step": "large",
    "rnn": "large",
    "lstm_step": "large",
    "lstm": "large",
    "word_embedding": _embedding_sample,
    "temporal_affine": "large",
    "temporal_softmax_loss": "large",
}
COST_SAMPLE_NAME = "large"  # how a report names a cost sample drawn here


@functools.lru_cache(maxsize=None)
def cost_inputs(op_name):
    """(sample, dout, out) of the op's cost sample: drawn once per process and read-only. dout is drawn
    as the conformance run's cotangent, shaped by the project's own forward, whose output `out` also
    builds the course's cache where the student's forward does not work (no oracle is needed:
    nothing is compared on this call, it is only timed)."""
    op, source = REGISTRY[op_name], COST_SAMPLES[op_name]
    if callable(source):
        sample = Sample(COST_SAMPLE_NAME, source(rng_for(f"cost-{op_name}", 0)))
    else:
        sample = op.draw_sample(source, "float64")
    out, _ = op.forward(*[fresh(sample.args[n], NUMPY) for n in op.signature])
    dout = cotangent(Case(op, sample.name, "float64"), np.shape(out))
    for value in [dout, out, *sample.args.values()]:
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return sample, dout, out


@functools.lru_cache(maxsize=None)
def project_gradients(op_name):
    """The project's own NumPy gradients on the op's cost sample, float64 and read-only: what the timed
    call's gradients are held to (manual_grads meets the oracle on every registry sample)."""
    op = REGISTRY[op_name]
    sample, dout, _ = cost_inputs(op_name)
    grads = run_manual(op, [sample.args[n] for n in op.signature], dout, NUMPY).grads
    answers = tuple(np.array(g, np.float64) for g in as_tuple(grads))
    for grad in answers:
        grad.setflags(write=False)
    return answers


def _call_seconds(op, args, dout, repeats=REPEATS):
    """The fastest of `repeats` runs of the project's NumPy forward and backward (the forward alone
    when `dout` is None), on fresh copies of the arguments, on one BLAS thread."""
    best = float("inf")
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeats):
            copies = [fresh(a, NUMPY) for a in args]
            start = time.perf_counter()
            out, cache = op.forward(*copies)
            if dout is not None:
                op.backward(fresh(dout, NUMPY), cache)
            best = min(best, time.perf_counter() - start)
    return best


def _sample_parts(op_name):
    op = REGISTRY[op_name]
    sample, dout, _ = cost_inputs(op_name)
    return op, sample, [sample.args[n] for n in op.signature], (None if op.kind == LOSS else dout)


@functools.lru_cache(maxsize=None)
def cost_plan(op_name):
    """(sample name, input entries, bytes moved) of an op's cost check, or None where it has none."""
    if op_name not in COST_SAMPLES:
        return None
    op, sample, args, _ = _sample_parts(op_name)
    entries = sum(int(np.size(sample.args[n])) for n in op.wrt)
    moved = sum(int(np.asarray(a).nbytes) for a in args if isinstance(a, np.ndarray)) * 3
    return sample.name, entries, moved


def limit_seconds(op_name, again=False, framework="numpy"):
    """How long a derived forward and backward may take on the cost sample: the yardstick measured
    once per process, or measured again now (`again`: a call went over, the machine may be busier);
    TORCH_FACTOR times that for a torch submission."""
    if again:
        _yardstick.cache_clear()
    limit = FLOOR_S + cost_plan(op_name)[2] / BYTES_PER_S + LIMIT_FACTOR * _yardstick(op_name)
    return limit * (TORCH_FACTOR if framework == "torch" else 1.0)


@functools.lru_cache(maxsize=None)
def _yardstick(op_name):
    op, _, args, dout = _sample_parts(op_name)
    return _call_seconds(op, args, dout)


def timed_call(sandbox, request, n_calls, limit):
    """Send a request and time it from this process; (outcome, seconds). The worker is started first
    (after a timeout it is gone), so that the time is the call's alone."""
    if not sandbox.alive():
        sandbox.start()
    start = time.monotonic()
    outcome = sandbox.call(request, n_calls, limit=limit)
    return outcome, time.monotonic() - start


def judge_cost(sandbox, op, entry, request_for, own_convention=None):
    """Time one forward-and-backward call of the student's code on the op's cost sample; fail the
    entry when it takes far longer than any derived backward does. `request_for(sample, dout, out)`
    builds (request, calls) for the sample, dout and the project's forward output (for a backward
    timed alone on the course's cache), or None where there is nothing to time. Given
    `own_convention(name, got, want)` (a gradient in the student's convention, reshaped to the
    default's), a call in time has its gradients held to the project's own as well."""
    plan = cost_plan(op.name)
    if plan is None:
        return
    name, entries, _ = plan
    request = request_for(*cost_inputs(op.name))
    if request is None:
        return
    limit = limit_seconds(op.name, framework=getattr(sandbox, "framework", "numpy"))
    # A numerical gradient would run for minutes: its process is stopped at WAIT x the limit.
    outcome, seconds = timed_call(sandbox, *request, WAIT * limit)
    if outcome.status == "ok" and seconds > limit:  # a busy moment? measure both sides again
        limit = limit_seconds(op.name, again=True, framework=getattr(sandbox, "framework", "numpy"))
        outcome, seconds = timed_call(sandbox, *request, WAIT * limit)
    if outcome.status == "error" and outcome.message.startswith("MemoryError"):
        outcome.status = "memory"  # NumPy refused the allocation before the limit stopped the process
    entry.sample, entry.stress = f"{name} sample, timed", False  # a failure here is never a stress warning
    yardstick = _yardstick(op.name)
    passed = outcome.status == "ok" and seconds <= limit
    took = f"more than {WAIT * limit:.1f} s" if outcome.status == "timeout" else f"{seconds:.2f} s"
    where = f"on the timed sample {name} ({entries:,} input entries)"
    if outcome.status in ("ok", "timeout"):
        detail = (
            f"the forward and backward took {took} {where}, where the project's own take "
            f"{yardstick * 1e3:.1f} ms and derived code of any style stays under {limit:.1f} s"
        )
        if not passed:
            detail += f": {NUMERICAL}"
    elif outcome.status in ("memory", "limit"):
        detail = (
            f"{outcome.message} {where}, where the project's own code needs a few MB: a backward that "
            "stacks a perturbed copy of its input per entry into one call computes its gradient numerically"
        )
    else:  # it raised or broke here and nowhere else: a function must work on every input
        detail = f"it failed {where} after passing the others: {outcome.message}"
    entry.check("cost", passed, detail, measured=True)
    entry.checks[-1]["cost"] = {
        "seconds": round(seconds, 4) if outcome.status == "ok" else None,
        "reference_seconds": round(yardstick, 6),
        "limit_seconds": round(limit, 3),
        "entries": entries,
    }
    if passed and own_convention is not None:
        _judge_timed_gradients(sandbox, op, outcome, entry, where, own_convention)
    if not passed and outcome.status in ("ok", "timeout", "memory", "limit"):
        entry.hints.append(
            "the backward differentiates numerically (finite differences): derive the gradient with the chain "
            "rule instead."
        )
        if "numerical_gradient" not in entry.mistakes:
            entry.mistakes.append("numerical_gradient")


def _judge_timed_gradients(sandbox, op, outcome, entry, where, own_convention):
    """The gradients of a call in time against the project's own on the cost sample. A backward that
    passed every smaller sample and answers this one otherwise computes the gradient one way where it
    is checked and another where it is timed (a numerical gradient on small inputs and something cheap
    on large ones): nothing else ever sees its values here."""
    specs = ((outcome.reply or {}).get(P.RESULTS) or {}).get(P.GRADS)
    wants = project_gradients(op.name)
    if not isinstance(specs, list) or len(specs) != len(wants):
        count = len(specs) if isinstance(specs, list) else 0
        wrong = [f"it returned {count} gradient(s), want {len(wants)}"]
    else:
        wrong, floor = [], floors(op, wants)
        for name, spec, want in zip(op.grad_names, specs, wants):
            try:
                got = own_convention(name, sandbox.load(spec, want), want)
            except BadResult as error:
                wrong.append(f"{name}: {error}")
                continue
            comparison = policy.compare(name, got, want, TIMED_TOLERANCE, "float64", floor.get(name, 0.0))
            if not comparison.passed:
                wrong.append(comparison.describe())
    detail = (
        f"{'; '.join(wrong)} {where}, where every smaller sample was right: a backward must compute the "
        "gradient the same way on every input, large ones included"
    )
    entry.check("gradients on the timed sample", not wrong, "" if not wrong else detail)
    if wrong:
        entry.hints.append(
            "the backward answers the large timed sample differently from the small ones it is checked on: "
            "derive one gradient that holds for inputs of every size."
        )
        entry.mistakes.append("wrong_on_the_timed_sample")
