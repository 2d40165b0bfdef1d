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
from conformance.checks import Case, as_tuple, cotangent, floors, fresh
from conformance.registry import LOSS, REGISTRY
from conformance.samples import Sample, rng_for

from ..untrusted import protocol as P
from ..untrusted.sandbox import BadResult

# Honest code of every style in the corpus takes at most a quarter of its limit on the cost samples,
# as the grader times it (bench/cost.py --grade: loops over rows, classes, features, windows and steps
# included; the slowest, a loss looping over classes, 146x the project's own NumPy forward and
# backward). A numerical gradient, one forward per entry or per group of entries perturbed together
# (bench/cost.py's COLOURS), takes at least SEPARATION times the whole limit on every op that is
# checked but max_pool (docs/sandbox.md).
LIMIT_FACTOR = 200.0
FLOOR_S = 0.5  # starting the call, loading and saving its arrays, a scheduler's hiccup
BYTES_PER_S = 200e6  # moving the sample's arrays in and the results out, both ways, at worst
SEPARATION = 5.0  # the fastest numerical gradient / the limit, for an op to be cost-checked
# PyTorch pays several times NumPy's overhead per operation on small tensors (EECS 498's naive conv,
# four loops over windows, took 4.6 s on the registry's large conv sample where the same loops in
# NumPy take ~1 s). A torch submission's limit is this many times a NumPy one.
TORCH_FACTOR = 3.0
REPEATS = 2  # timings of the yardstick; the fastest is kept
WAIT = 1.5  # x the limit: how long a call on the cost sample is waited for
# The timed call's gradients against the project's own, as loosely as the unseen sample is judged (a
# result the course accepts by a hair on the published samples is not failed on other values): one
# computed another way on large inputs than on small ones is off by its whole size.
TIMED_TOLERANCE = policy.COURSE_REL * policy.UNSEEN_SLACK
NUMERICAL = (
    "a backward that costs this much computes its gradient numerically (a forward call per input entry, "
    "or per group of entries perturbed together); the assignment is to derive the gradient with the chain rule"
)


# Each cost sample is shaped so that a numerical gradient which perturbs at once every entry whose
# outputs no other perturbed entry reaches (the rows of a batch are independent, a column of x reaches
# only its own column in batchnorm; bench/cost.py's COLOURS) still needs thousands of forward calls:
# many features per row where rows are independent, many rows where columns are, many classes for a
# loss, many words in a vocabulary. Derived code of any style costs the same on it as on any sample of
# as many entries.


def _normal(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def _affine_sample(rng):
    """4,096 features a row: a numerical gradient over x's columns and w's rows takes 8,193 calls."""
    return {"x": _normal(rng, 128, 16, 256), "w": _normal(rng, 4096, 128, scale=1 / 64), "b": _normal(rng, 128)}


def _net_sample(rng):
    return REGISTRY["two_layer_net_full"].draw_sample("model", "float64").args


def _scores_sample(rng):
    """4,096 classes: a numerical gradient over one class of every row at once takes 4,096 calls."""
    return {"x": _normal(rng, 64, 4096), "y": rng.integers(0, 4096, 64)}


def _bn_param(d):
    return {"mode": "train", "eps": 1e-5, "momentum": 0.9, "running_mean": np.zeros(d), "running_var": np.ones(d)}


def _batchnorm_sample(rng):
    """8,192 rows of 32 features: batchnorm's columns are independent, so a numerical gradient that
    perturbs one row of every column at once still takes 8,194 calls."""
    return {
        "x": _normal(rng, 8192, 32, scale=2.0) + 1.0,
        "gamma": 1 + _normal(rng, 32, scale=0.2),
        "beta": _normal(rng, 32, scale=0.2),
        "bn_param": _bn_param(32),
    }


def _layernorm_sample(rng):
    """16 rows of 16,384 features: rows are independent, so one feature of every row at a time."""
    return {
        "x": _normal(rng, 16, 16384, scale=2.0) + 1.0,
        "gamma": 1 + _normal(rng, 16384, scale=0.2),
        "beta": _normal(rng, 16384, scale=0.2),
        "ln_param": {"eps": 1e-5},
    }


def _spatial_batchnorm_sample(rng):
    """Two channels of 32 x 32 x 32: one position of every channel at a time is 32,768 calls."""
    return {
        "x": _normal(rng, 32, 2, 32, 32, scale=2.0) + 1.0,
        "gamma": 1 + _normal(rng, 2, scale=0.2),
        "beta": _normal(rng, 2, scale=0.2),
        "bn_param": _bn_param(2),
    }


def _groupnorm_sample(rng):
    """Two samples of two groups of 32 channels: one entry of every group at a time is 32,768 calls."""
    return {
        "x": _normal(rng, 2, 64, 32, 32, scale=2.0) + 1.0,
        "gamma": 1 + _normal(rng, 1, 64, 1, 1, scale=0.2),
        "beta": _normal(rng, 1, 64, 1, 1, scale=0.2),
        "G": 2,
        "gn_param": {"eps": 1e-5},
    }


def _conv_sample(rng):
    """Few output positions of large windows: loops over windows (the course's naive conv, one small
    operation per position) stay cheap, while a numerical gradient needs a call per input entry, or,
    perturbing at once the entries no window shares (one channel and one offset within the window),
    still 10,369."""
    fan_in = 64 * 9 * 9
    return {
        "x": rng.standard_normal((4, 64, 12, 12)),
        "w": rng.standard_normal((64, 64, 9, 9)) / np.sqrt(fan_in),
        "b": rng.standard_normal(64) / 10,
        "conv_param": {"stride": 1, "pad": 0},
    }


def _pool_sample(rng):
    return {"x": rng.standard_normal((16, 8, 32, 32)), "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}


def _rnn_step_sample(rng):
    """4,096 input features and 256 hidden units a row: 8,705 calls over columns and weight rows."""
    return {
        "x": _normal(rng, 32, 4096),
        "prev_h": _normal(rng, 32, 256, scale=0.5),
        "Wx": _normal(rng, 4096, 256, scale=1 / 64),
        "Wh": _normal(rng, 256, 256, scale=1 / 16),
        "b": _normal(rng, 256, scale=0.1),
    }


def _lstm_step_sample(rng):
    """2,048 input features and 128 hidden units a row: 10,885 calls over columns and gate rows."""
    return {
        "x": _normal(rng, 16, 2048),
        "prev_h": _normal(rng, 16, 128, scale=0.5),
        "prev_c": _normal(rng, 16, 128, scale=0.5),
        "Wx": _normal(rng, 2048, 512, scale=1 / np.sqrt(2048)),
        "Wh": _normal(rng, 128, 512, scale=1 / np.sqrt(128)),
        "b": _normal(rng, 512, scale=0.1),
    }


def _temporal_affine_sample(rng):
    """4,096 features a step: 8,193 calls over x's columns and w's rows."""
    return {"x": _normal(rng, 4, 20, 4096), "w": _normal(rng, 4096, 128, scale=1 / 64), "b": _normal(rng, 128)}


def _embedding_sample(rng):
    """A vocabulary of 32,768 words: a numerical gradient takes a call per word."""
    return {"x": rng.integers(0, 32768, (128, 100)), "W": rng.standard_normal((32768, 16))}


def _temporal_loss_sample(rng):
    """8,192 words a step: a call per word."""
    return {"x": _normal(rng, 4, 8, 8192), "y": rng.integers(0, 8192, (4, 8)), "mask": rng.random((4, 8)) > 0.3}


# The ops a student writes whose numerical gradient is told apart by its cost, each with its cost
# sample: a registry sample's name (the large ones grading otherwise skips) where no structure of
# the op cuts its numerical gradient short (every weight of a classifier or a net reaches every row's
# loss), or a draw of its own shaped as above. bench/cost.py measures both sides and says whether
# SEPARATION holds for each, per entry and with the op's structure (max_pool's windows do not overlap:
# four calls for a 2 x 2 pool on any sample, so only a per-entry numerical gradient is told apart there).
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
    "softmax_loss": _scores_sample,
    "svm_loss": _scores_sample,
    "batchnorm": _batchnorm_sample,
    "batchnorm_alt": _batchnorm_sample,
    "layernorm": _layernorm_sample,
    "spatial_batchnorm": _spatial_batchnorm_sample,
    "spatial_groupnorm": _groupnorm_sample,
    "conv": _conv_sample,
    "max_pool": _pool_sample,
    "rnn_step": _rnn_step_sample,
    "rnn": "large",
    "lstm_step": _lstm_step_sample,
    "lstm": "large",
    "word_embedding": _embedding_sample,
    "temporal_affine": _temporal_affine_sample,
    "temporal_softmax_loss": _temporal_loss_sample,
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


def _call_seconds(op, args, dout, repeats=REPEATS):
    """The fastest of `repeats` runs of the project's NumPy forward and backward (the forward alone
    when `dout` is None), on fresh copies of the arguments, on one BLAS thread."""
    return _project_runs(op, args, dout, repeats)[0]


def _project_runs(op, args, dout, repeats):
    """(the fastest of `repeats` runs, the gradients of the last one): the project's NumPy forward and
    backward (a loss's forward gives its gradients) on fresh copies of the arguments, on one BLAS thread."""
    best, grads = float("inf"), ()
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeats):
            copies = [fresh(a, NUMPY) for a in args]
            start = time.perf_counter()
            out, cache = op.forward(*copies)
            grads = op.backward(fresh(dout, NUMPY), cache) if dout is not None else cache
            best = min(best, time.perf_counter() - start)
    return best, grads


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
        _project_run.cache_clear()
    limit = FLOOR_S + cost_plan(op_name)[2] / BYTES_PER_S + LIMIT_FACTOR * _yardstick(op_name)
    return limit * (TORCH_FACTOR if framework == "torch" else 1.0)


@functools.lru_cache(maxsize=None)
def _project_run(op_name):
    """(the yardstick, the project's own gradients as read-only float64 arrays) on the op's cost sample:
    the gradients the timed call is held to come from the runs that time the yardstick."""
    op, _, args, dout = _sample_parts(op_name)
    seconds, grads = _project_runs(op, args, dout, REPEATS)
    answers = tuple(np.array(g, np.float64) for g in as_tuple(grads))
    for grad in answers:
        grad.setflags(write=False)
    return seconds, answers


def _yardstick(op_name):
    return _project_run(op_name)[0]


def project_gradients(op_name):
    """The project's own NumPy gradients on the op's cost sample (manual_grads meets the oracle on every
    registry sample)."""
    return _project_run(op_name)[1]


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
        entry.differentiates_numerically()


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
