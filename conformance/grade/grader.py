"""`gradref grade`: grade a student's file against the JAX oracle, function by function.

The student's code runs in a Sandbox (its own process); here only plain arrays come back, loaded
from .npy files, and every comparison happens in this process on float64 copies.
"""
import ast
import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from reference import oracle

from .. import tolerance as policy
from ..checks import Case, cotangent, floors, tolerance_terms
from ..registry import REGISTRY
from ..samples import as_float64
from . import confine
from .diagnose import Context, diagnose
from .sandbox import BadResult, Sandbox
from .text import clean
from .targets import ALL_NAMES, CS231N, LAYERS, detect, targets_for

PASS, FAIL, ERROR, TIMEOUT, MISSING = "pass", "fail", "error", "timeout", "missing"
SKIPPED_SAMPLES = ("wide", "large")   # size checks the policy and the speed, not the student


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


@dataclass
class Entry:
    """The verdict on one student-facing function or class."""
    name: str
    status: str = PASS
    message: str = ""
    checks: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    sample: str = ""            # the sample being graded, for the names of its checks

    def check(self, name, passed, detail=""):
        self.checks.append({"name": name, "passed": bool(passed), "detail": detail})
        if not passed and self.status == PASS:
            self.status, self.message = FAIL, f"{name}: {detail}"

    def broke(self, status, message):
        if self.status in (PASS, FAIL):
            self.status, self.message = status, message
        self.checks.append({"name": "runs", "passed": False, "detail": message})

    def as_dict(self):
        message = self.message
        if self.hints:
            message = ("Likely mistake: " + "; ".join(dict.fromkeys(self.hints)) +
                       f". First failing check: {self.message}")
        if self.status == PASS:
            message = f"passed {len(self.checks)} checks"
        return {"name": self.name, "status": self.status, "message": message, "checks": self.checks,
                "diagnosis": list(dict.fromkeys(self.hints))}


# ----- reading the submission without running it -----

def defined_names(path):
    """Top-level names the file defines; CannotGrade for a missing file or a syntax error."""
    if not os.path.isfile(path):
        raise CannotGrade(f"no such file: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except SyntaxError as error:
        raise CannotGrade(f"{path} has a syntax error on line {error.lineno}: {error.msg}") from None
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


# ----- one sample through the student's code -----

def _arg_spec(sandbox, value):
    if isinstance(value, dict):
        return {"dict": {k: _arg_spec(sandbox, v) for k, v in value.items()}}
    return sandbox.put(value) if isinstance(value, np.ndarray) else {"value": value}


def _arg_specs(sandbox, values):
    return [_arg_spec(sandbox, v) for v in values]


def _request(sandbox, target, op, sample):
    """The worker request for this target on this sample, and how many calls it makes."""
    args = [sample.args[n] for n in op.signature]
    if target.cls:
        forward_args = [sample.args[n] for n in op.signature if n not in target.init]
        return {"kind": "class", "cls": target.cls,
                "init": _arg_specs(sandbox, [sample.args[n] for n in target.init]),
                "args": _arg_specs(sandbox, forward_args), "grad_attrs": list(target.grad_attrs)}, 3
    if target.loss or target.update:
        return {"kind": "function", "first": target.loss or target.update, "args": _arg_specs(sandbox, args),
                "update": bool(target.update)}, 1
    return {"kind": "function", "first": target.forward, "args": _arg_specs(sandbox, args),
            "outputs": op.outputs}, 2


def _compare_values(entry, label, got, want, tol, floor=0.0):
    comparison = policy.compare(label, got, want, tol, "float64", floor)
    entry.check(f"{label} [{entry.sample}]", comparison.passed, comparison.describe())
    return comparison.passed


def _plain(sandbox, spec, entry, label):
    """Load one result; check it came back as an ndarray (or a scalar for a loss). None if it did not."""
    try:
        value = sandbox.load(spec)
    except BadResult as error:
        entry.check(f"{label} [{entry.sample}]", False, f"{label}: {error}")
        return None
    kind = clean(spec.get("type", ""), 80)
    if kind not in ("numpy.ndarray", "numpy.float64", "builtins.float"):
        entry.check(f"{label} type [{entry.sample}]", False, f"{label} is a {kind}, want a numpy array")
    return value


def _loaded(sandbox, spec):
    """A result array, or None when it is missing or not a plain numeric array."""
    try:
        return sandbox.load(spec)
    except BadResult:
        return None


def grade_sample(sandbox, target, op, sample, forward_entry, backward_entry):
    """Run one sample; add checks to the entries. Returns False when the process broke."""
    for entry in {id(forward_entry): forward_entry, id(backward_entry): backward_entry}.values():
        entry.sample = sample.name
    args = [sample.args[n] for n in op.signature]
    positions = [op.signature.index(n) for n in op.wrt]
    case = Case(op, sample.name, "float64")
    want_out, want_grads, dout = oracle.vjp(op.reference, args, positions, lambda shape: cotangent(case, shape))
    request, n_calls = _request(sandbox, target, op, sample)
    if target.backward or (target.cls and not target.is_loss):
        request.update({"backward": target.backward, "dout": sandbox.put(dout)})
    outcome = sandbox.call(request, n_calls)
    outputs = (outcome.reply or {}).get("outputs")
    outputs = outputs if isinstance(outputs, dict) else {}
    tol = policy.tolerance("float64", *tolerance_terms(op, sample.args))

    if "out" in outputs or outcome.status == "ok":
        out = _plain(sandbox, outputs.get("out"), forward_entry, "out")
        if out is not None:
            _compare_values(forward_entry, "loss" if target.is_loss else "out", out, want_out, tol)
            forward_entry.check(f"finite [{sample.name}]",
                                np.isfinite(out).all() or not np.isfinite(want_out).all(), "the output has NaN or inf")
    if target.update and outcome.status == "ok":
        _check_unchanged(sandbox, op, target, sample, outputs, forward_entry)
        _check_state(sandbox, op, sample, {"config": outputs.get("state")}, forward_entry, tol)
        return True
    if outcome.status != "ok":
        stage = outcome.stage
        broken = backward_entry if stage and (stage == target.backward or stage.endswith(".backward")) \
            else forward_entry
        status = TIMEOUT if outcome.status == "timeout" else ERROR
        verb = "raised" if outcome.status == "error" else "failed:"
        where = f"{stage} {verb} " if stage else ""
        broken.broke(status, f"{where}{outcome.message} [sample {sample.name}]")
        if broken is forward_entry and backward_entry is not forward_entry:
            backward_entry.broke(ERROR, f"not run: {target.forward} failed first [sample {sample.name}]")
        return outcome.status == "error"

    specs = outputs.get("grads") if isinstance(outputs.get("grads"), list) else []
    grads = [_plain(sandbox, g, backward_entry, name) for g, name in zip(specs, op.grad_names)]
    if len(specs) != len(op.wrt):
        backward_entry.check(f"gradients [{sample.name}]", False,
                             f"returned {len(specs)} gradient(s), want {len(op.wrt)} ({', '.join(op.grad_names)})")
        return True
    floor = floors(op, want_grads)
    for name, got, want, arg in zip(op.grad_names, grads, want_grads, [sample.args[n] for n in op.wrt]):
        if got is None:
            continue
        ok = _compare_values(backward_entry, name, got, want, tol, floor.get(name, 0.0))
        if np.shape(got) == np.shape(arg):
            backward_entry.check(f"{name} dtype [{sample.name}]", got.dtype == arg.dtype,
                                 f"{name}.dtype={got.dtype}, want {arg.dtype}")
        backward_entry.check(f"{name} finite [{sample.name}]", np.isfinite(got).all() or not np.isfinite(want).all(),
                             f"{name} has NaN or inf")
        if not ok:
            context = Context(op.name, sample.name, as_float64(dict(zip(op.signature, args))), dout,
                              dict(zip(op.grad_names, grads)), dict(zip(op.grad_names, want_grads)))
            backward_entry.hints.extend(diagnose(context))
    after = _check_unchanged(sandbox, op, target, sample, outputs, forward_entry)
    if op.state is not None:
        _check_state(sandbox, op, sample, after, forward_entry, tol)
    if "dout_after" in outputs:
        same = np.array_equal(_loaded(sandbox, outputs["dout_after"]), dout, equal_nan=True)
        backward_entry.check(f"dout unchanged [{sample.name}]", same,
                             "backward changed dout in place (e.g. dout[mask] = 0): at a fork that corrupts "
                             "the other branch's gradient; work on a copy (dx = dout.copy())")
    return True


def _check_unchanged(sandbox, op, target, sample, outputs, entry):
    """No argument (other than a parameter dict the op may update) changed in place; returns them."""
    passed_names = [n for n in op.signature if not target.cls or n not in target.init]
    listed = outputs.get("args_after")
    after = dict(zip(passed_names, listed if isinstance(listed, list) else []))
    changed = [n for n in passed_names if n not in op.mutable and isinstance(sample.args[n], np.ndarray)
               and not np.array_equal(_loaded(sandbox, after.get(n)), sample.args[n], equal_nan=True)]
    entry.check(f"inputs unchanged [{sample.name}]", not changed,
                f"{', '.join(changed)} changed in place during the call: work on copies")
    return after


def _check_state(sandbox, op, sample, after, entry, tol):
    """Train mode updates the running statistics as the course specifies; test mode leaves them."""
    expected = op.state(**as_float64(sample.args))
    for param, values in expected.items():
        saved = after.get(param) if isinstance(after.get(param), dict) else {}
        saved = saved.get("dict") if isinstance(saved.get("dict"), dict) else {}
        for key, want in values.items():
            if key not in saved:
                entry.check(f"{param}[{key!r}] [{sample.name}]", False, f"{param}[{key!r}] was not stored")
                continue
            try:
                value = sandbox.load(saved[key])     # a number or an array: both are fine here
            except BadResult as error:
                entry.check(f"{param}[{key!r}] [{sample.name}]", False, f"{param}[{key!r}]: {error}")
                continue
            comparison = policy.compare(f"{param}[{key!r}]", value, want, 4 * tol, "float64")
            entry.check(f"{param}[{key!r}] [{sample.name}]", comparison.passed, comparison.describe())


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
    """The report of one submission (a dict); raises CannotGrade."""
    defined = defined_names(path)
    conventions = [options.convention] if options.convention else detect(defined)
    if not conventions:
        raise CannotGrade(f"nothing gradable in {path}: it defines none of {', '.join(ALL_NAMES)}")
    targets = targets_for(conventions)
    entries = []
    isolation = confine.choose(options.sandbox)
    with Sandbox(path, options.timeout, options.memory_mb, options.allow_imports, isolation) as sandbox:
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
            entries += [e for e in reported if e.name not in {x.name for x in entries}]
            if forward_entry is not None:
                grade_target(sandbox, target, forward_entry, backward_entry, hello)
            if advance:
                advance(number, len(targets), target.names[0])
    results = [e.as_dict() for e in entries]
    for result in results:
        if result["status"] == MISSING and result["name"] in options.require:
            result["message"] = "not defined, and --require names it"
    graded = [r for r in results if r["status"] != MISSING]
    failed_required = [r for r in results if r["status"] == MISSING and r["name"] in options.require]
    return {"submission": os.path.abspath(path), "convention": "+".join(conventions),
            "passed": bool(graded) and all(r["status"] == PASS for r in graded) and not failed_required,
            "results": results, "summary": _summary(results),
            "isolation": isolation, "isolation_note": confine.ISOLATION_NOTE[isolation],
            "limits": {"timeout_s": options.timeout, "memory_mb": options.memory_mb, "sandbox_uid": sandbox.uid,
                       "blocked_imports": [n for n in sandbox.blocked]}}


def grade_target(sandbox, target, forward_entry, backward_entry, hello):
    if not hello.get("ok"):
        message = f"the submission could not be loaded: {hello.get('error')}"
        for entry in {id(forward_entry): forward_entry, id(backward_entry): backward_entry}.values():
            entry.broke(ERROR, message)
        return
    op = REGISTRY[target.op]
    if target.forward and backward_entry is forward_entry:       # backward missing: forward alone
        target = dataclasses.replace(target, backward="")
    for spec in op.samples:
        if spec.name in SKIPPED_SAMPLES:
            continue
        try:
            alive = grade_sample(sandbox, target, op, op.draw_sample(spec.name, "float64"), forward_entry,
                                 backward_entry)
        except Exception as error:  # noqa: BLE001 - whatever came back, it is this function's problem
            backward_entry.broke(ERROR, f"its results could not be compared ({type(error).__name__}: "
                                        f"{clean(str(error), 200)}) [sample {spec.name}]")
            alive = True
        if not alive:           # it broke its process (timeout, crash, a limit): the verdict stands
            break


def _summary(results):
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
