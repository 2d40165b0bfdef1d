"""`gradref grade`: grade a student's file against the JAX oracle, function by function.

The student's code runs in a Sandbox; here only plain arrays come back, loaded from .npy files, and
every comparison happens in this process on float64 copies. The course defines "correct": values
are held to the course's tolerance (COURSE_REL, reported beside the rounding level), writing into
arguments is a warning, extreme-value samples give warnings, and a backward is only ever called
after a train-mode forward, as the course does. `--strict` turns the warnings into failures. Each
function also meets one sample with values from a secret seed (unseen.py), so that answers looked
up in a table rather than computed fail.
"""
import ast
import dataclasses
import functools
import os
from dataclasses import dataclass, field

import numpy as np

from conformance import cache
from conformance import tolerance as policy
from conformance.checks import Case, cotangent, cotangent_label, floors, tolerance_terms
from conformance.registry import REGISTRY, UPDATE
from conformance.samples import as_float64, using_seed
from . import confine, dropout, unseen
from .assignments import score
from .diagnose import Context, diagnose
from .plainwords import explain_error, explain_syntax_error
from .sandbox import BadResult, Sandbox, python_files
from .targets import ALL_NAMES, assignments_of, detect, in_assignments, targets_for
from ..text import clean

PASS, FAIL, ERROR, TIMEOUT, MISSING = "pass", "fail", "error", "timeout", "missing"
RANK = {PASS: 3, FAIL: 2, ERROR: 1, TIMEOUT: 1, MISSING: 0}    # which of two conventions the code follows
SKIPPED_SAMPLES = ("wide", "large")   # size checks the policy and the speed, not the student
# The course's notebooks accept a result within about 1e-5 of the right one, relative to the largest
# entry (epsilon inside or outside a square root, log(p + 1e-7)); real bugs sit far above it.
COURSE_REL = 1e-5
UPSTREAM = {"lstm_step": ("dnext_h", "dnext_c"), "rnn_step": ("dnext_h",), "rnn": ("dh",), "lstm": ("dh",)}


class CannotGrade(Exception):
    """The submission cannot be graded at all (exit 2); the message is one plain sentence."""


@dataclass
class Options:
    timeout: float = 10.0
    memory_mb: int = 2048
    allow_imports: tuple = ()
    convention: str = ""        # "" = detect
    require: tuple = ()
    sandbox: str = "auto"       # "auto", "bwrap" or "process"
    strict: bool = False        # warnings (writes into arguments, extreme values) fail
    dropout_p: str = dropout.KEEP   # what dropout's p means: "keep" (2018 on) or "drop" (2016-17)
    support: tuple = ()         # course-provided modules put beside the submission (im2col, common/)
    assignment: object = None   # an assignments.Spec: what is listed, required and worth how much
    unseen_seed: int = None     # the secret behind each function's unseen-values sample (None: this machine's)


@dataclass
class Entry:
    """The verdict on one student-facing function or class."""
    name: str
    status: str = PASS
    message: str = ""
    checks: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    sample: str = ""            # the sample being graded, for the names of its checks
    stress: bool = False        # the sample is an extreme one: failures there are warnings
    strict: bool = False
    stopped: bool = False       # it broke its process (timeout, crash, a limit) or is not written yet
    mistakes: list = field(default_factory=list)   # catalogue keys of the mistakes named
    notes: list = field(default_factory=list)      # how it was graded, where that is a choice

    def check(self, name, passed, detail="", measured=False):
        """Record a check; `detail` says what went wrong, kept on a pass only when it is a measurement."""
        label = f"{name} [{self.sample}]"
        if passed and not measured:
            detail = ""
        if not passed and self.stress and not self.strict:
            self.warn(f"{label}: {detail}")
            self.checks.append({"name": label, "passed": True, "detail": "warning: " + detail})
            return
        self.checks.append({"name": label, "passed": bool(passed), "detail": detail})
        if not passed and self.status == PASS:
            self.status, self.message = FAIL, f"{label}: {detail}"

    def warn(self, text):
        if text not in self.warnings:
            self.warnings.append(text)
        if self.strict and self.status == PASS:
            self.status, self.message = FAIL, f"{text} (--strict)"

    def broke(self, status, message):
        if self.status in (PASS, FAIL):
            self.status, self.message = status, message
        self.checks.append({"name": f"runs [{self.sample}]", "passed": False, "detail": message})

    def not_yet(self, reason):
        self.status, self.message, self.stopped = MISSING, f"not implemented yet ({reason})", True

    def as_dict(self):
        message = self.message
        if self.hints:
            message = ("Likely mistake: " + " ".join(dict.fromkeys(self.hints)) +
                       f" First failing check: {self.message}")
        if self.status == PASS and not self.checks:      # never a pass on nothing
            self.status, message = ERROR, "nothing could be checked"
        if self.status == PASS:
            message = f"passed {sum(c['passed'] for c in self.checks)} checks"
            if self.notes:
                message += f" ({'; '.join(self.notes)})"
            if self.warnings:
                message += "; warning: " + "; ".join(self.warnings[:3])
            if self.hints:
                message += "; likely cause: " + " ".join(dict.fromkeys(self.hints))
        elif self.notes:
            message += f" ({'; '.join(self.notes)})"
        return {"name": self.name, "status": self.status, "message": message, "checks": self.checks,
                "diagnosis": list(dict.fromkeys(self.hints)), "mistakes": list(dict.fromkeys(self.mistakes)),
                "warnings": self.warnings, "notes": self.notes}


# ----- reading the submission without running it -----

def defined_names(path):
    """Top-level names the file defines; CannotGrade for a missing file or a syntax error."""
    if not os.path.isfile(path):
        raise CannotGrade(f"no such file: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except SyntaxError as error:
        raise CannotGrade(explain_syntax_error(path, error)) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise CannotGrade(f"{path} is not a readable Python file ({error})") from None
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def gradable_files(path):
    """(modules, names): the files of a submission (a file, or a student's folder) that define gradable
    names, those with the most first, and the names they define; CannotGrade when there are none."""
    if os.path.isfile(path):
        return [os.path.basename(path)], defined_names(path)
    if not os.path.isdir(path):
        raise CannotGrade(f"no such file or folder: {path}")
    found, problems = [], []
    # A package keeps its own name in the sandbox (see Sandbox._fill_code), so its modules do too.
    prefix = os.path.basename(os.path.normpath(path)) if os.path.isfile(os.path.join(path, "__init__.py")) else ""
    for rel in python_files(path):
        try:
            names = defined_names(os.path.join(path, rel))
        except CannotGrade as error:
            problems.append(str(error))
            continue
        if names & set(ALL_NAMES):
            found.append((os.path.join(prefix, rel) if prefix else rel, names))
    if not found:
        raise CannotGrade(problems[0] if problems else f"nothing gradable in {path}: no file in it defines any "
                                                       f"of {', '.join(ALL_NAMES)}")
    found.sort(key=lambda item: -len(item[1] & set(ALL_NAMES)))
    return [rel for rel, _ in found], set().union(*(names for _, names in found))


# ----- one sample through the student's code -----

def _arg_spec(sandbox, value):
    if isinstance(value, dict):
        return {"dict": {k: _arg_spec(sandbox, v) for k, v in value.items()}}
    return sandbox.put(value) if isinstance(value, np.ndarray) else {"value": value}


def _arg_specs(sandbox, values):
    return [_arg_spec(sandbox, v) for v in values]


def _distinct(forward_entry, backward_entry):
    """The entries of a target, once each (a loss, class or update rule has one for both)."""
    return [forward_entry] if backward_entry is forward_entry else [forward_entry, backward_entry]


def test_mode(sample):
    """The sample runs a layer in test mode: the course grades that forward on its own."""
    return any(isinstance(v, dict) and v.get("mode") == "test" for v in sample.args.values())


def passed_names(op, target):
    return [n for n in op.signature if not target.cls or n not in target.init]


def _request(sandbox, target, op, sample, dout, with_backward):
    """The worker request for this target on this sample, and how many calls it makes."""
    if target.cls:
        forward_args = [sample.args[n] for n in passed_names(op, target)]
        if target.labels == "onehot":
            forward_args = [_one_hot(sample.args["y"], sample.args["x"].shape[1]) if n == "y" else sample.args[n]
                            for n in passed_names(op, target)]
        request = {"kind": "class", "cls": target.cls,
                   "init": _arg_specs(sandbox, [sample.args[n] for n in target.init]),
                   "args": _arg_specs(sandbox, forward_args),
                   "grad_attrs": list(target.grad_attrs), "backward": with_backward,
                   "dout": None if target.is_loss or not with_backward else sandbox.put(dout)}
        return request, 3
    args = _arg_specs(sandbox, [sample.args[n] for n in op.signature])
    if target.loss or target.update:
        return {"kind": "function", "first": target.loss or target.update, "args": args,
                "update": bool(target.update), "loss": bool(target.loss)}, 1
    request = {"kind": "function", "first": target.forward, "args": args, "outputs": op.outputs}
    if with_backward:
        request.update({"backward": target.backward, "dout": sandbox.put(dout)})
    return request, 2


def _one_hot(labels, classes):
    return np.eye(classes)[labels]


def _compare(entry, label, got, want, rounding, floor=0.0, slack=1.0):
    """Compare at the course's level (times `slack`); the detail also says how far past rounding
    level it is."""
    comparison = policy.compare(label, got, want, max(rounding, COURSE_REL) * slack, "float64", floor)
    detail = comparison.describe()
    if not comparison.shape_error and comparison.max_rel_error == comparison.max_rel_error:
        detail += f"; {comparison.max_rel_error / rounding:.3g}x rounding level"
    entry.check(label, comparison.passed, detail, measured=True)
    return comparison.passed


def _plain(sandbox, spec, entry, label):
    """Load one result; check it came back as an ndarray (or a scalar for a loss). None if it did not."""
    try:
        value = sandbox.load(spec)
    except BadResult as error:
        entry.check(label, False, f"{label}: {error}")
        return None
    kind = clean(spec.get("type", ""), 80)
    if kind not in ("numpy.ndarray", "numpy.float64", "builtins.float"):
        entry.check(f"{label} type", False, f"{label} is a {kind}, want a numpy array")
    return value


def _loaded(sandbox, spec):
    """A result array, or None when it is missing or not a plain numeric array."""
    try:
        return sandbox.load(spec)
    except BadResult:
        return None


@dataclass
class Run:
    """One sample of one target: the oracle's answer and what came back."""
    target: object
    op: object
    sample: object
    want_out: object
    want_grads: list
    dout: object
    outputs: dict
    rounding: float
    options: object = None
    slack: float = 1.0          # UNSEEN_SLACK on the unseen-values sample
    got: dict = field(default_factory=dict)       # quantity -> what came back, for the diagnosis
    want: dict = field(default_factory=dict)
    failed: set = field(default_factory=set)      # quantities whose comparison failed (warnings included)


UNSEEN = "unseen values"
# The unseen sample is there to catch answers looked up rather than computed, which are wrong by
# O(1): its values are held 100x looser than the course's 1e-5, so that a result the course accepts
# by a hair on the public samples (epsilon outside a root) cannot fail on a secret draw.
UNSEEN_SLACK = 100.0


@functools.lru_cache(maxsize=256)
def graded_sample(op_name, sample_name, seed=0):
    """(sample, want_out, want_grads, dout): drawn and answered once per process, then read-only.
    They depend only on the op, the sample's name and the seed, so every submission of a batch shares
    them. A seed other than 0 draws the sample's unseen twin (see unseen.py)."""
    op = REGISTRY[op_name]
    with using_seed(seed):
        sample = op.draw_sample(sample_name, "float64")
        args = [sample.args[n] for n in op.signature]
        positions = [op.signature.index(n) for n in op.wrt]
        case = Case(op, sample.name, "float64")
        want_out, want_grads, dout = cache.vjp(op.reference, args, positions,
                                               lambda shape: cotangent(case, shape), cotangent_label(case))
    if seed:
        sample = dataclasses.replace(sample, name=sample_label(sample.name, seed))
    for array in _arrays((sample.args, want_out, want_grads, dout)):
        array.setflags(write=False)
    return sample, want_out, want_grads, dout


def sample_label(name, seed):
    """How reports name a sample: its unseen twin says so."""
    return f"{name}, {UNSEEN}" if seed else name


@functools.lru_cache(maxsize=None)
def unseen_twin(op_name, names):
    """The first of the samples `names` whose values come from the seed (the course notes' own
    numbers are the same under every seed): the one drawn again from the secret seed."""
    op = REGISTRY[op_name]
    for name in names:
        public = list(_arrays(op.draw_sample(name, "float64").args))
        with using_seed(1):
            other = list(_arrays(op.draw_sample(name, "float64").args))
        if any(not np.array_equal(a, b) for a, b in zip(public, other)):
            return name
    return names[0]


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item)


def grade_sample(sandbox, target, op, sample_name, forward_entry, backward_entry, with_backward=True, options=None,
                 seed=0):
    """Run one sample (its unseen twin when seed is not 0); add checks to the entries. Returns False
    when the process broke."""
    sample, want_out, want_grads, dout = graded_sample(op.name, sample_name, seed)
    for entry in _distinct(forward_entry, backward_entry):
        entry.sample, entry.stress = sample.name, sample.stress
    with_backward = with_backward and bool(target.backward or target.cls) and not test_mode(sample)
    request, n_calls = _request(sandbox, target, op, sample, dout, with_backward)
    outcome = sandbox.call(request, n_calls)
    outputs = (outcome.reply or {}).get("outputs")
    run = Run(target, op, sample, want_out, want_grads, dout, outputs if isinstance(outputs, dict) else {},
              policy.tolerance("float64", *tolerance_terms(op, sample.args)), options or Options(),
              UNSEEN_SLACK if seed else 1.0)
    own_mask = op.name == "dropout" and not test_mode(sample)
    stage = outcome.stage
    backward_broke = bool(stage) and (stage == target.backward or stage.endswith(".backward"))

    if outcome.reply and outcome.reply.get("todo"):
        (backward_entry if backward_broke else forward_entry).not_yet(clean(outcome.message, 200))
        return True
    if own_mask and outcome.status == "ok":
        _grade_dropout(sandbox, run, forward_entry, backward_entry, with_backward)
        return True
    if "out" in run.outputs or outcome.status == "ok":
        _check_output(sandbox, run, forward_entry)
    if outcome.status != "ok":
        broken = backward_entry if backward_broke else forward_entry
        status = TIMEOUT if outcome.status == "timeout" else ERROR
        verb = "raised" if outcome.status == "error" else "failed:"
        where = f"{stage} {verb} " if stage else ""
        broken.broke(status, f"{where}{explain_error(outcome.message)} [sample {sample.name}]")
        broken.stopped = outcome.status != "error"
        if broken is forward_entry and backward_entry is not forward_entry and with_backward:
            backward_entry.broke(ERROR, f"not run: {target.forward} failed first [sample {sample.name}]")
        return outcome.status == "error"
    _report_writes(sandbox, run, forward_entry, backward_entry, with_backward)
    if op.state is not None:
        _check_state(sandbox, run, forward_entry)
    if with_backward or target.loss:
        _check_gradients(sandbox, run, backward_entry)
    _diagnose(run, forward_entry, backward_entry)
    return True


def _diagnose(run, forward_entry, backward_entry):
    """Name the mistakes behind this sample's wrong quantities; each goes to the function it is in."""
    if not run.failed:
        return
    args = as_float64(run.sample.args)
    first = args.get("x", next(iter(args.values())))
    context = Context(run.op.name, run.sample.name, args, run.dout, run.got, run.want,
                      batch=np.shape(first)[0] if np.ndim(first) else 0, wrong=sorted(run.failed))
    diagnose(context)
    for quantity, key, text in context.found:
        entry = backward_entry if quantity.startswith("d") else forward_entry
        if text.split(".")[0] not in {h.split(".")[0] for h in entry.hints}:
            entry.hints.append(text)
        entry.mistakes.append(key)


def _check_output(sandbox, run, entry):
    """The forward's output (a loss, next_w for an update rule) against the oracle's."""
    target, label = run.target, "loss" if run.target.is_loss else "next_w" if run.target.update else "out"
    out = _plain(sandbox, run.outputs.get("out"), entry, label)
    if out is None:
        return
    if target.update and np.shape(out) == np.shape(run.want_out):
        # next_w is mostly w: the update's mistakes live in the step, so the step is what is compared.
        w = as_float64(run.sample.args)["w"]
        run.got["step"], run.want["step"] = out - w, run.want_out - w
        if not _compare(entry, "next_w - w (the step)", out - w, run.want_out - w, run.rounding, slack=run.slack):
            run.failed.add("step")
    else:
        run.got[label], run.want[label] = out, run.want_out
        if not _compare(entry, label, out, run.want_out, run.rounding, slack=run.slack):
            run.failed.add(label)
    entry.check(f"{label} finite", np.isfinite(out).all() or not np.isfinite(run.want_out).all(),
                f"{label} has NaN or inf")


def _grade_dropout(sandbox, run, forward_entry, backward_entry, with_backward):
    """Train-mode dropout against the student's own mask (see dropout.py)."""
    x, p = as_float64(run.sample.args)["x"], run.sample.args["dropout_param"]["p"]
    out = _plain(sandbox, run.outputs.get("out"), forward_entry, "out")
    if out is not None:
        dropout.check_forward(forward_entry, x, out, p, run.options.dropout_p)
    scale = None if out is None else dropout.own_scale(x, out)
    _report_writes(sandbox, run, forward_entry, backward_entry, with_backward)
    if not with_backward or scale is None:
        return
    run = dataclasses.replace(run, want_grads=[dropout.expected_dx(run.dout, scale)])
    _check_gradients(sandbox, run, backward_entry)
    run.got["out"] = out
    _diagnose(run, forward_entry, backward_entry)


def _check_gradients(sandbox, run, entry):
    op, specs = run.op, run.outputs.get("grads")
    specs = specs if isinstance(specs, list) else []
    if len(specs) != len(op.wrt):
        entry.check("gradients", False,
                    f"returned {len(specs)} gradient(s), want {len(op.wrt)} ({', '.join(op.grad_names)})")
        return
    grads, floor = [], floors(op, run.want_grads)
    for name, spec, want, arg in zip(op.grad_names, specs, run.want_grads, [run.sample.args[n] for n in op.wrt]):
        got = None if spec is None else _plain(sandbox, spec, entry, name)
        grads.append(got)
        if spec is None:
            entry.check(name, False, f"{name} is None: it is not computed yet")
            run.failed.add(name)
            continue
        if got is None:
            continue
        if not _compare(entry, name, got, want, run.rounding, floor.get(name, 0.0), run.slack):
            run.failed.add(name)
        if np.shape(got) == np.shape(arg):
            entry.check(f"{name} dtype", got.dtype == arg.dtype, f"{name}.dtype={got.dtype}, want {arg.dtype}")
        entry.check(f"{name} finite", np.isfinite(got).all() or not np.isfinite(want).all(), f"{name} has NaN or inf")
    run.got.update(zip(op.grad_names, grads))
    run.want.update(zip(op.grad_names, run.want_grads))


def _written(sandbox, before, specs, names, ignore=()):
    """Names of the array arguments whose value in `specs` differs from `before`."""
    specs = dict(zip(names, specs if isinstance(specs, list) else []))
    return [n for n in names if n not in ignore and isinstance(before.get(n), np.ndarray)
            and not np.array_equal(_loaded(sandbox, specs.get(n)), before[n], equal_nan=True)]


def _report_writes(sandbox, run, forward_entry, backward_entry, with_backward):
    """Writing into an argument is a warning naming the argument and the function that wrote."""
    op, target, names = run.op, run.target, passed_names(run.op, run.target)
    original = {n: run.sample.args[n] for n in names}
    if target.labels == "onehot":       # what was sent, not the index labels it was made from
        original["y"] = _one_hot(run.sample.args["y"], run.sample.args["x"].shape[1])
    forward_name = f"{target.cls}.forward" if target.cls else forward_entry.name
    backward_name = f"{target.cls}.backward" if target.cls else backward_entry.name
    mid_key = "args_mid" if with_backward else "args_after"
    for name in _written(sandbox, original, run.outputs.get(mid_key), names, op.mutable):
        forward_entry.warn(f"{forward_name} writes into its argument {name}")
    if not with_backward:
        return
    mid = dict(zip(names, run.outputs.get("args_mid") or []))
    middle = {n: _loaded(sandbox, mid.get(n)) for n in names}
    for name in _written(sandbox, middle, run.outputs.get("args_after"), names, op.mutable):
        backward_entry.warn(f"{backward_name} writes into {name} (through the cache)")
    if "dout_after" in run.outputs:
        after = _loaded(sandbox, run.outputs["dout_after"])
        upstream = UPSTREAM.get(op.name, ("dout",))
        if after is None or np.shape(after) != np.shape(run.dout):
            backward_entry.warn(f"{backward_name} writes into dout")
        elif op.outputs > 1:
            for i, name in enumerate(upstream):
                if not np.array_equal(after[i], run.dout[i], equal_nan=True):
                    backward_entry.warn(f"{backward_name} writes into {name}")
        elif not np.array_equal(after, run.dout, equal_nan=True):
            backward_entry.warn(f"{backward_name} writes into {upstream[0]} (e.g. {upstream[0]}[mask] = 0); "
                                "harmless in the course's pipeline, a bug where a gradient forks")


def _check_state(sandbox, run, entry):
    """Train mode updates the running statistics as the course specifies; test mode leaves them;
    an update rule returns its config with the new moments."""
    op, sample = run.op, run.sample
    if op.kind == UPDATE:
        after = {"config": run.outputs.get("state")}
    else:
        names = passed_names(op, run.target)
        after = dict(zip(names, run.outputs.get("args_after") or []))
    expected = op.state(**as_float64(sample.args))
    for param, values in expected.items():
        saved = after.get(param) if isinstance(after.get(param), dict) else {}
        saved = saved.get("dict") if isinstance(saved.get("dict"), dict) else {}
        for key, want in values.items():
            label = f"{param}[{key!r}]"
            if key not in saved:
                entry.check(label, False, f"{label} was not stored")
                continue
            try:
                value = sandbox.load(saved[key])     # a number or an array: both are fine here
            except BadResult as error:
                entry.check(label, False, f"{label}: {error}")
                continue
            run.got[label], run.want[label] = value, want
            if not _compare(entry, label, value, want, 4 * run.rounding, slack=run.slack):
                run.failed.add(label)


# ----- a whole submission -----

def _entries_for(target, present):
    """(forward entry, backward entry, entries to report) for a target, or None when nothing is present."""
    if target.cls or target.loss or target.update:
        name = target.cls or target.loss or target.update
        if name not in present:
            return None
        entry = Entry(name)
        return entry, entry, [entry]
    fwd, bwd = Entry(target.forward), Entry(target.backward)
    if target.forward not in present and target.backward not in present:
        return None
    if target.forward not in present:
        bwd.broke(ERROR, f"{target.backward} needs the cache of {target.forward}, which is not defined")
        return None, None, [Entry(target.forward, MISSING, "not defined"), bwd]
    if target.backward not in present:
        return fwd, fwd, [fwd, Entry(target.backward, MISSING, "not defined")]
    return fwd, bwd, [fwd, bwd]


def grade_file(path, options=Options(), advance=None):
    """The report of one submission (a file, or one student's folder); raises CannotGrade."""
    modules, defined = gradable_files(path)
    conventions = [options.convention] if options.convention else detect(defined)
    if not conventions:
        raise CannotGrade(f"nothing gradable in {path}: it defines none of {', '.join(ALL_NAMES)}")
    targets = targets_for(conventions)
    entries = []
    isolation = confine.choose(options.sandbox)
    secret = options.unseen_seed or unseen.machine_seed()
    with Sandbox(path, options.timeout, options.memory_mb, options.allow_imports, isolation, options.support,
                 modules) as sandbox:
        options = dataclasses.replace(options, unseen_seed=unseen.for_submission(secret, sandbox.layout.code))
        hello = sandbox.start()
        names = hello.get("names") if isinstance(hello.get("names"), list) else []
        present = {n for n in names if isinstance(n, str) and n.isidentifier()} | defined \
            if hello.get("ok") else defined
        for number, target in enumerate(targets, 1):
            found = _entries_for(target, present)
            if found is None:
                entries += [Entry(name, MISSING, "not defined") for name in target.names]
                continue
            forward_entry, backward_entry, reported = found
            for entry in (forward_entry, backward_entry):
                if entry is not None:
                    entry.strict = options.strict
            entries += [e for e in reported if e.name not in {x.name for x in entries}]
            if forward_entry is not None:
                grade_target(sandbox, target, forward_entry, backward_entry, hello, options)
            if advance:
                advance(number, len(targets), target.names[0])
    assignments = [options.assignment.name] if options.assignment else assignments_of(present, conventions)
    listed = ({i.name for i in options.assignment.items} if options.assignment else
              {name for t in targets if in_assignments(t, assignments) for name in t.names}) | set(options.require)
    results = _unique([e.as_dict() for e in entries if e.status != MISSING or e.name in listed or
                       e.message != "not defined"])
    for result in results:
        if result["status"] == MISSING and result["name"] in options.require:
            result["message"] = f"{result['message']}, and --require names it"
    graded = [r for r in results if r["status"] != MISSING]
    failed_required = [r for r in results if r["status"] == MISSING and r["name"] in options.require]
    report = {"submission": os.path.abspath(path), "files": modules, "convention": "+".join(conventions),
              "assignments": assignments,
              "passed": bool(graded) and all(r["status"] == PASS for r in graded) and not failed_required,
              "results": results, "summary": _summary(results), "strict": options.strict,
              "isolation": isolation, "isolation_note": confine.ISOLATION_NOTE[isolation],
              "unseen_seed": unseen.fingerprint(secret),
              "limits": {"timeout_s": options.timeout, "memory_mb": options.memory_mb, "sandbox_uid": sandbox.uid,
                         "blocked_imports": [n for n in sandbox.blocked]}}
    return score(report, options.assignment)


def _unique(results):
    """One row per function name: the first graded verdict wins over a later 'missing'."""
    seen = {}
    for result in results:
        if result["name"] not in seen or seen[result["name"]]["status"] == MISSING:
            seen[result["name"]] = result
    return list(seen.values())


def grade_target(sandbox, target, forward_entry, backward_entry, hello, options=Options()):
    if not hello.get("ok"):
        message = f"the submission could not be loaded: {explain_error(hello.get('error', ''))}"
        for entry in _distinct(forward_entry, backward_entry):
            entry.broke(ERROR, message)
        return
    op = REGISTRY[target.op]
    if target.forward and backward_entry is forward_entry:       # backward missing: forward alone
        target = dataclasses.replace(target, backward="")
    separate = backward_entry is not forward_entry
    if target.cls and target.is_loss:
        target = _label_encoding(sandbox, target, op, forward_entry)
    skipped = _other_convention(sandbox, target, op, forward_entry, backward_entry)
    names = [s.name for s in op.samples if s.name not in SKIPPED_SAMPLES and s.name not in skipped and s.graded]
    runs = [(name, 0) for name in names]
    if names:       # one of them again, with values nobody could know in advance
        runs.append((unseen_twin(op.name, tuple(names)), options.unseen_seed))   # grade_file mixes it per file
    for sample_name, seed in runs:
        # A broken or unfinished backward never stops the forward from being graded on its own.
        with_backward = not (separate and backward_entry.stopped)
        if forward_entry.stopped or (forward_entry.status in (ERROR, TIMEOUT) and not with_backward):
            break
        try:
            alive = grade_sample(sandbox, target, op, sample_name, forward_entry, backward_entry, with_backward,
                                 options, seed)
        except Exception as error:  # noqa: BLE001 - whatever came back, it is this function's problem
            backward_entry.broke(ERROR, f"its results could not be compared ({type(error).__name__}: "
                                        f"{clean(str(error), 200)}) [sample {sample_label(sample_name, seed)}]")
            alive = True
        if not alive and not separate:
            break
    for entry in _distinct(forward_entry, backward_entry):
        _note_only_kdim(entry)


def _label_encoding(sandbox, target, op, entry):
    """Index labels (the course's) unless the code only works with one-hot labels; the choice is noted."""
    trials = {}
    for labels in ("index", "onehot"):
        trial, scratch = dataclasses.replace(target, labels=labels), Entry(entry.name)
        try:
            grade_sample(sandbox, trial, op, op.samples[0].name, scratch, scratch)
        except Exception:  # noqa: BLE001 - the real run reports it
            continue
        trials[labels] = RANK.get(scratch.status, 0)
    if trials.get("onehot", 0) > trials.get("index", 0):
        entry.notes.append("graded with one-hot labels t: the code does not take index labels")
        return dataclasses.replace(target, labels="onehot")
    if trials.get("index") == trials.get("onehot") == RANK[PASS]:
        entry.notes.append("takes index and one-hot labels t")
    return target


def _other_convention(sandbox, target, op, forward_entry, backward_entry):
    """Samples to leave out: where an op has samples in a course year's other convention, grade only
    the convention the code follows (both when it takes both) and say which."""
    tagged = [s for s in op.samples if s.convention]
    if not tagged:
        return set()
    default = next(s for s in op.samples if not s.convention and s.name not in SKIPPED_SAMPLES)
    works = {}
    for spec in (default, tagged[0]):
        forward, backward = Entry(forward_entry.name), Entry(backward_entry.name)
        try:
            grade_sample(sandbox, target, op, spec.name, forward,
                         forward if backward_entry is forward_entry else backward)
        except Exception:  # noqa: BLE001 - the real run reports it
            pass
        works[spec.name] = min(RANK.get(forward.status, 0), RANK.get(backward.status, 0))
    if works[default.name] > works[tagged[0].name]:
        return {s.name for s in tagged}
    if works[tagged[0].name] > works[default.name]:
        forward_entry.notes.append(f"graded with {tagged[0].convention}")
        return {s.name for s in op.samples if not s.convention}
    return set()


def _note_only_kdim(entry):
    """A layer right on every 2-D sample and wrong only for k-dimensional x: say exactly that."""
    failed = {c["name"].rsplit("[", 1)[-1].rstrip("]") for c in entry.checks if not c["passed"]}
    passed = {c["name"].rsplit("[", 1)[-1].rstrip("]") for c in entry.checks if c["passed"]}
    if failed and all(name.startswith("kdim") for name in failed) and passed - failed:
        entry.hints.append("every 2-D check passed and only the k-dimensional x (N, d1, ..., dk) fails: "
                           "flatten x to (N, D) with x.reshape(x.shape[0], -1) in the forward, and give dx "
                           "x's own shape in the backward")


def _summary(results):
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
