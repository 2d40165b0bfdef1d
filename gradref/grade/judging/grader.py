"""`gradref grade`: grade a student's submission against the JAX oracle, function by function.

The student's code runs in a Sandbox (sandbox.py); each sample is judged in judge.py against the
oracle's answers (answers.py); verdicts are Entries (verdict.py). The course defines "correct":
values are held to the course's tolerance, writing into arguments is a warning, extreme-value
samples give warnings, and a backward is only ever called after a train-mode forward, as the course
does. `--strict` turns the warnings into failures. Each function also meets one sample with values
from a secret seed (unseen.py), so that answers looked up in a table rather than computed fail.
"""

import dataclasses
import difflib
import importlib.util
import os
import re
import time

import numpy as np

from conformance import cache
from conformance.registry import DROPOUT_KEEP, REGISTRY

from ... import output
from ...text import clean
from ..course import SUPPORT
from ..course.assignments import score
from ..course.submission import (
    LAYER_CLASSES,
    autograd_line,
    constructor_parameters,
    course_support_names,
    defined_at,
    defining_file,
    docstrings,
    gradable_files,
    mentions,
    nothing_gradable,
    reached,
    references,
    written_in_torch,
)
from ..course.targets import (
    ALL_NAMES,
    CLASS,
    CS231N,
    DROPOUT_SEED,
    EECS498,
    LOSS_FUNCTION,
    MODEL,
    PAIR,
    SCORES,
    assignments_of,
    detect,
    in_assignments,
    is_present,
    targets_for,
)
from ..explain import feedback, firstwrong, static
from ..explain.diagnose import CHANGES_A_RIGHT_ONE, RUNNING, RUNNING_UPDATE
from ..explain.plainwords import explain_error, in_torch_words
from ..untrusted import confine, notebook
from ..untrusted import protocol as P
from ..untrusted.refusal import CannotGrade
from ..untrusted.sandbox import BadResult, Sandbox
from ..untrusted.staging import staged
from . import dropout, unseen
from .answers import answers_with, oracle_answers, sample_label, unseen_twin
from .caches import documented
from .cost import judge_cost
from .judge import (
    MODEL_SCORES,
    arg_specs,
    distinct,
    in_own_convention,
    judge_backward_alone,
    judge_dropout_draws,
    judge_function_scores,
    judge_model_scores,
    judge_sample,
    timed_request,
)
from .options import Options
from .pointing import point_at_the_line
from .verdict import ERROR, FAIL, MISSING, PASS, RANK, TIMEOUT, Entry, defined_as_said, sample_of, summary, unique

__all__ = ["CannotGrade", "Options", "PASS", "grade_file"]

SKIPPED_SAMPLES = ("wide", "large")  # size checks the policy and the speed, not the student
NEAR_NAME = 0.88  # how alike a defined name must be to a missing one to be read as meant for it (difflib's ratio)


def _entries_for(target, present):
    """(forward entry, backward entry, entries to report) for a target, or None when nothing is present."""
    if target.kind != PAIR:
        if not is_present(target.forward, present):
            return None
        entry = Entry(target.forward)
        return entry, entry, [entry]
    fwd, bwd = Entry(target.forward), Entry(target.backward)
    if not is_present(target.forward, present) and not is_present(target.backward, present):
        return None
    if not is_present(target.forward, present):
        bwd.broke(ERROR, f"{target.backward} needs the cache of {target.forward}, which is not defined")
        return None, None, [Entry(target.forward, MISSING, "not defined"), bwd]
    if not is_present(target.backward, present):
        return fwd, fwd, [fwd, Entry(target.backward, MISSING, "not defined")]
    return fwd, bwd, [fwd, bwd]


def grade_file(path, options=Options(), advance=None, annotate=None):
    """The report of one submission (a .py file, a notebook, a zip upload, or one student's folder);
    raises CannotGrade. `annotate`: where to write a notebook submission's copy with feedback cells."""
    started = time.monotonic()
    with staged(path) as stage:
        # Staging (unpacking, converting notebooks) is the submission's time too: what it took comes
        # off the budget its code then runs in.
        try:
            report = _grade(stage.path, options, advance, staging_s=time.monotonic() - started)
        except CannotGrade as error:
            raise CannotGrade(_said_of_the_upload(str(error), path, stage)) from None
        report["submission"] = os.path.abspath(path)
        report["elapsed_s"] = round(time.monotonic() - started, 3)
        if stage.notebooks:
            _in_notebook_terms(report, stage)
        if stage.unreadable:
            report["unreadable_notebooks"] = stage.unreadable
        if annotate:
            _write_annotated(annotate, stage, report)
    return report


def _near_name(name, candidates):
    """The one of `candidates` that `name` was most likely meant as (Relu_forward, affine_foward), or None."""
    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=NEAR_NAME)
    return by_lower[close[0]] if close else None


def _near_names(results, defined, target_names):
    """A function the files do not define under its name, but under a near one (a capital, a typo): say
    so where it is missing ("defined_as") and where a backward could not get its cache."""
    spare = sorted(n for n in defined if n not in target_names)
    near = {}
    for result in results:
        if result["status"] == MISSING and result["message"] == "not defined":
            found = _near_name(result["name"], spare)
            if found:
                result["defined_as"] = near[result["name"]] = found
    for result in results:
        for name, found in near.items():
            if result["message"].endswith(f"needs the cache of {name}, which is not defined"):
                result["message"] += f" ({defined_as_said(found)})"


def _said_of_the_upload(message, path, stage):
    """A refusal of a staged copy (a notebook or a zip unpacked into a temporary folder) said of what
    the student handed in: its own path, and for a notebook, that the cells that run code were left out."""
    if stage.path == path:
        return message
    message = message.replace(stage.path, path)
    for rel, (original, _, _) in stage.notebooks.items():  # layers_notebook.py is the student's layers.ipynb
        message = re.sub(rf"(?<![\w./-]){re.escape(rel)}(?![\w])", original, message)
    left = sum(len(converted.left_out) for _, converted, _ in stage.notebooks.values())
    if left and message.endswith("(no code at all)"):
        message = (
            f"nothing to grade in {path}: once the code that loads data, trains, plots or tries the functions "
            f"out is left out ({left} cell{'s' if left > 1 else ''}), no function, class or import is left"
        )
    return message


def _in_notebook_terms(report, stage):
    """Say cells where a notebook's code was graded as a .py: messages, file names, left-out cells."""
    for rel, (_, converted, _) in stage.notebooks.items():
        name = os.path.basename(rel)
        for result in report["results"]:
            result["message"] = notebook.relabel(result["message"], name, converted)
            result["diagnosis"] = [notebook.relabel(d, name, converted) for d in result.get("diagnosis", [])]
            for check in result["checks"]:
                check["detail"] = notebook.relabel(check["detail"], name, converted)
            where = result.get("where")
            if where and os.path.basename(where["file"]) == name and 1 <= where["line"] <= len(converted.lines):
                cell, inner = converted.lines[where["line"] - 1]
                if cell.offset is None:
                    result["where"] = {**where, "file": stage.original(rel), "cell": cell.number, "line": inner}
                else:  # a .py exported from a notebook: the line of the student's own file
                    result["where"] = {**where, "file": stage.original(rel), "line": cell.offset + inner}
            need = converted.needs.get(result["name"])
            if need and need not in result["notes"]:
                result["notes"].append(need)
                result["message"] += f" ({need})"
    report["files"] = [stage.original(rel) for rel in report["files"]]
    report["notebook_cells_left_out"] = [
        {"notebook": original, "cell": cell.number, "first_line": cell.first_line, "why": why}
        | ({} if cell.offset is None else {"line": cell.offset + 1})
        for original, converted, _ in stage.notebooks.values()
        for cell, why in converted.left_out
    ]


def _write_annotated(target, stage, report):
    _, converted, original = next(iter(stage.notebooks.values()), (None, None, None))
    if len(stage.notebooks) != 1 or original is None:  # none, several, or a .py exported from one
        raise CannotGrade("--annotate needs a submission that is one notebook")
    import nbformat

    output.write_atomic(target, nbformat.writes(notebook.annotate(original, converted, report)))


def framework_of(path, options):
    """The framework a submission is graded in: "torch" for EECS 498's (written in torch, or the
    teacher says so), else "numpy"; CannotGrade where torch is asked for and gradref's torch extra
    is not installed."""
    framework = options.framework or ("torch" if options.convention == EECS498 or written_in_torch(path) else "numpy")
    if framework == "torch" and importlib.util.find_spec("torch") is None:
        raise CannotGrade(
            "this submission is written in PyTorch, and grading it needs gradref's torch extra "
            "(pip install 'gradref[torch]')"
        )
    return framework


def only_asked(targets, only):
    """The targets `only` names (a function, a method "Class.method" or a whole class), or all of them."""
    if not only:
        return targets
    asked = set(only)
    return [t for t in targets if any(n in asked or n.split(".")[0] in asked for n in t.names)]


def _grade(path, options, advance, staging_s=0.0):
    modules, defined = gradable_files(path)
    framework = framework_of(path, options)
    conventions = [options.convention] if options.convention else detect(defined, framework)
    if not conventions:
        raise CannotGrade(nothing_gradable(path, ALL_NAMES))
    targets = only_asked(targets_for(conventions), options.only)
    entries = []
    isolation = confine.choose(options.sandbox)
    # Asked before the sandbox is made: in process mode as root, one probe then answers both.
    isolation_note = confine.isolation_note(isolation, cache.folder(), os.path.dirname(os.path.abspath(path)))
    secret = options.unseen_secret or unseen.machine_secret()
    with Sandbox(
        path,
        options.timeout,
        options.memory_mb,
        options.allow_imports,
        isolation,
        options.support,
        modules,
        max(1.0, options.submission_timeout - staging_s),
        SUPPORT,
        options.allow_fast_layers,
        framework,
        options.device,
    ) as sandbox:
        seed = unseen.submission_seed(secret, sandbox.layout.code)
        hello = sandbox.start()
        names = hello.get(P.NAMES) if isinstance(hello.get(P.NAMES), list) else []
        loaded = {n for n in names if isinstance(n, str) and n.isidentifier()} if hello.get(P.OK) else set()
        # A layer class counts only where the files define it as one (not a helper function `Sigmoid`); a
        # composite imported from the course's own layer_utils is the course's, not the student's.
        present = (loaded - (LAYER_CLASSES - defined) - (course_support_names() - defined)) | defined
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
                grade_target(sandbox, target, forward_entry, backward_entry, hello, options, seed)
            if advance:
                advance(number, len(targets), target.names[0])
        _blame_failing_callees(entries, sandbox.layout.code)
    assignments = [options.assignment.name] if options.assignment else assignments_of(present, conventions)
    listed = (
        {i.name for i in options.assignment.items}
        if options.assignment
        else {name for t in targets if in_assignments(t, assignments) for name in t.names}
    ) | set(options.require)
    results = unique(
        [e.as_dict() for e in entries if e.status != MISSING or e.name in listed or e.message != "not defined"]
    )
    _near_names(results, defined, {name for t in targets for name in t.names})
    by_the_spec = set(options.assignment.required) if options.assignment else set()
    for result in results:
        if result["status"] == MISSING and result["name"] in options.require:
            why = "the assignment requires it" if result["name"] in by_the_spec else "--require names it"
            result["message"] = f"{result['message']}, and {why}"
    graded = [r for r in results if r["status"] != MISSING]
    failed_required = [r for r in results if r["status"] == MISSING and r["name"] in options.require]
    report = {
        "submission": os.path.abspath(path),
        "files": modules,
        "convention": "+".join(conventions),
        "assignments": assignments,
        "passed": bool(graded) and all(r["status"] == PASS for r in graded) and not failed_required,
        "results": results,
        "summary": summary(results),
        "strict": options.strict,
        "isolation": isolation,
        "isolation_note": isolation_note,
        "unseen_seed": unseen.fingerprint(secret),
        "stand_ins": _stand_ins(hello),
        "limits": {
            "timeout_s": options.timeout,
            "submission_timeout_s": options.submission_timeout,
            "memory_mb": options.memory_mb,
            "sandbox_uid": sandbox.uid,
            "syscall_filter": sandbox.syscall_filter is not None,
            "blocked_imports": [n for n in sandbox.blocked],
        },
    }
    return feedback.apply(score(report, options.assignment), options.feedback, options.feedback_hidden)


# "raised ...: message (line N of F: text) (called from line M of G: text)": the worker's description
CALLED_FROM = re.compile(r"\(line (\d+) of ([^:]*): .*?\) \(called from line (\d+) of ([^:]*): (.*)\)(?= \[sample |$)")


def _blame_failing_callees(entries, code):
    """A failing function (a composite, a model) whose code reaches the student's own functions that
    fail too is told so first, naming them; one that raised inside a function of the student's that
    passes on its own is told to look at the line that called it (read from the code, outside the
    student's process)."""
    for entry in entries:
        if entry.status == ERROR:
            _raised_in_a_passing_function(entry, entries, code)
    failing = {e.name: e.message for e in entries if e.status in (FAIL, ERROR, TIMEOUT)}
    if len(failing) < 2:
        return
    graph = references(code)
    for entry in entries:
        if entry.name in failing:
            # Not where both failed the same way (a file that did not load fails everything alike).
            callees = [n for n in reached(graph, entry.name) if n in failing and failing[n] != entry.message]
            if callees:
                entry.blame(callees)


def _raised_in_a_passing_function(entry, entries, code):
    """'the error is raised inside your affine_backward, which passes on its own: look at what line 42
    hands it' (a model that gave a backward another layer's cache)."""
    found = CALLED_FROM.search(entry.message)
    if not found:
        return
    line, rel, caller_line, caller_rel, caller_text = found.groups()
    callee = defined_at(code, rel, int(line))
    passing = {e.name for e in entries if e.status == PASS}
    if callee in passing and callee != entry.name and defined_at(code, caller_rel, int(caller_line)) != callee:
        entry.hints.insert(
            0,
            f"the error is raised inside your {callee} (line {line}), which passes on its own: what line "
            f"{caller_line} ({clean(caller_text, 100)}) hands it is wrong, such as another layer's cache or its "
            "arguments in the wrong order.",
        )
        entry.mistakes.insert(0, "bad_call_of_a_passing_function")


def _stand_ins(hello):
    """The imports that loaded as stand-ins: libraries a submission may not use, and course-environment
    packages that are not installed here. Either refuses only when used."""

    def names(key):
        value = hello.get(key)
        return [clean(n, 40) for n in value if isinstance(n, str)][:20] if isinstance(value, list) else []

    return {"refused": names(P.REFUSED), "not_installed": names(P.MISSING)}


def graded_samples(op, skipped=()):
    """The names of the samples a student's function meets (the unseen one is drawn again from one)."""
    return [s.name for s in op.samples if s.name not in SKIPPED_SAMPLES and s.name not in skipped and s.graded]


def grade_target(sandbox, target, forward_entry, backward_entry, hello, options=Options(), unseen_seed=0):
    """Grade one target on its samples and, when `unseen_seed` is not 0, on one of them drawn from it."""
    if not hello.get(P.OK):
        message = f"the submission could not be loaded: {explain_error(hello.get(P.ERROR, ''))}"
        for entry in distinct(forward_entry, backward_entry):
            entry.broke(ERROR, message)
        return
    op = REGISTRY[target.op]
    if target.kind == SCORES:  # a model's scores on their own: no gradient, no cost
        judge_function_scores(sandbox, target, op, forward_entry, graded_samples(op))
        forward_entry.settle()
        return
    if target.kind == PAIR and backward_entry is forward_entry:  # backward missing: forward alone
        target = target.forward_alone()
    separate = backward_entry is not forward_entry
    if target.kind == CLASS and target.is_loss:
        target = _label_encoding(sandbox, target, op, forward_entry)
    if target.twin:
        op = _regularisation(sandbox, target, forward_entry)
    if op.name == "dropout":
        options = _dropout_reading(target, options, forward_entry)
    skipped = _other_convention(sandbox, target, op, forward_entry, backward_entry)
    names = graded_samples(op, skipped)
    runs = [(name, 0) for name in names]
    if names and unseen_seed:  # one of them again, with values nobody could know in advance
        runs.append((unseen_twin(op.name, tuple(names)), unseen_seed))
    for sample_name, seed in runs:
        # A broken or unfinished backward never stops the forward from being graded on its own.
        with_backward = not (separate and backward_entry.stopped)
        alone = forward_entry.stopped and with_backward and separate and documented(op.name)
        if not alone and (forward_entry.stopped or (forward_entry.status in (ERROR, TIMEOUT) and not with_backward)):
            break
        try:
            if alone:  # its forward broke its process: the backward goes on with the course's cache
                why = "broke its process earlier"
                alive = judge_backward_alone(sandbox, target, op, sample_name, backward_entry, why, options, seed)
            else:
                alive = judge_sample(
                    sandbox, target, op, sample_name, forward_entry, backward_entry, with_backward, options, seed
                )
        except Exception as error:  # noqa: BLE001 - whatever came back, it is this function's problem
            backward_entry.broke(
                ERROR,
                f"its results could not be compared ({type(error).__name__}: "
                f"{clean(str(error), 200)}) [sample {sample_label(sample_name, seed)}]",
            )
            alive = True
        if not alive and not separate:
            break
    if target.variants and not forward_entry.stopped:
        _judge_variants(sandbox, target, op, forward_entry, options)
    if op.name == "dropout" and not forward_entry.stopped and forward_entry.status == PASS:
        judge_dropout_draws(sandbox, target, op, forward_entry)
    if target.kind == MODEL and target.forward in MODEL_SCORES and not forward_entry.stopped:
        judge_model_scores(sandbox, target, op, forward_entry)
    if _cost_matters(target, backward_entry, options):
        # A forward that ran on every sample (right or not) is timed with its backward, on its own cache:
        # the course's documented cache is for a forward that raised, and a backward that reads a cache of
        # its own design cannot read that one.
        works = forward_entry is backward_entry or (
            forward_entry.status in (PASS, FAIL) and not forward_entry.stubbed and not forward_entry.stopped
        )
        judge_cost(
            sandbox,
            op,
            backward_entry,
            lambda sample, dout, out: timed_request(sandbox, target, op, sample, dout, out, works),
            lambda name, got, want: in_own_convention(op, name, got, want, backward_entry),
        )
        _complex_step(sandbox, target, backward_entry)
    if sandbox.framework == "torch":
        _no_autograd(sandbox, target, backward_entry)
        for entry in distinct(forward_entry, backward_entry):  # "Look at" lines in torch's words
            entry.hints[:] = [in_torch_words(h) for h in entry.hints]
            entry.formulas[:] = [in_torch_words(f) for f in entry.formulas]
    point_at_the_line(sandbox, target, op, forward_entry, backward_entry)
    _read_the_code(sandbox, target, forward_entry, backward_entry)
    _point_at_the_running_update(sandbox, target, forward_entry)
    forward_entry.settle()
    if separate:
        backward_entry.settle(target.forward)
        if backward_entry.spared and not backward_entry.ran:  # its forward was a stub on every sample
            _never_called(sandbox, target, backward_entry)
    for entry in distinct(forward_entry, backward_entry):
        _note_only_kdim(entry)
        _starter_that_returns_zeros(sandbox, entry)
    if separate:
        _judged_on_a_failing_forwards_cache(target, forward_entry, backward_entry)


CACHE_OF_A_FAILING_FORWARD = "cache_of_a_failing_forward"  # the mistakes key of the sentence below


def _judged_on_a_failing_forwards_cache(target, forward_entry, backward_entry):
    """A backward that fails only on samples where its forward failed too, with no mistake of its own
    named, was judged on the cache that wrong forward made (batchnorm's std from an unbiased variance):
    the forward goes first, as for a failing function it calls. Only where the cache is the student's
    own design: one the course lays out may be right beside a wrong output."""
    if backward_entry.status != FAIL or forward_entry.status != FAIL or backward_entry.found:
        return
    if documented(target.op):  # a cache the course lays out (relu's x) may well be right beside a wrong out
        return
    failed = {sample_of(c["name"]) for c in backward_entry.checks if not c["passed"]}
    forward_failed = {sample_of(c["name"]) for c in forward_entry.checks if not c["passed"]}
    if failed and failed <= forward_failed:
        backward_entry.caused_by = [target.forward]
        backward_entry.hints.insert(
            0,
            f"it is judged on the cache your {target.forward} made, and {target.forward} fails on the same "
            f"samples (see its entry): fix that first; {backward_entry.name} may pass once it does.",
        )
        backward_entry.mistakes.insert(0, CACHE_OF_A_FAILING_FORWARD)


def _starter_that_returns_zeros(sandbox, entry):
    """A function that fails as untouched starter code that sets its results to zero and computes
    nothing (CS231n's `loss = 0.0; dW = np.zeros_like(W)`, then `pass`) is "not implemented yet",
    not a mistake to diagnose."""
    if entry.status != FAIL:
        return
    node = _code_of(sandbox, entry.name)
    if node is not None and static.returns_its_starting_zeros(node):
        entry.status, entry.message = (
            MISSING,
            "not implemented yet (its code is the starter's: it returns the zeros it starts with)",
        )
        for said in (entry.hints, entry.mistakes, entry.notes):  # nothing written: nothing to diagnose
            said.clear()
        entry.where = None


def _code_of(sandbox, name):
    """The ast node of the submission's function `name` (or Class.method), or None."""
    source = defining_file(sandbox.layout.code, name)
    return firstwrong.function_node(source[1], name) if source else None


def _never_called(sandbox, target, entry):
    """A backward its forward's stub kept from every call: read from its code, untouched starter code
    is "not implemented yet" like its forward; written code could not be checked, and says why."""
    node = _code_of(sandbox, target.backward)
    if node is not None and static.computes_nothing(node):
        entry.status, entry.message = MISSING, "not implemented yet (its code is the starter's: it computes nothing)"
    else:
        entry.status, entry.message = (
            ERROR,
            f"it could not be checked: {target.forward} is a starter stub, and {target.backward} needs its cache",
        )


def _judge_variants(sandbox, target, op, entry, options):
    """A model's other settings (FullyConnectedNet's batch and layer normalisation) judged into the same
    entry on their own ops' samples, in the regularisation convention the plain model was judged in;
    a setting its constructor does not take (an edition without layer norm) is noted, not judged."""
    takes = constructor_parameters(sandbox.layout.code, target.forward)
    for plain, half, wanted in target.variants:
        setting = tuple((names, value) for names, value in wanted if takes is None or set(names) & takes)
        if all(names == ("seed",) for names, _ in setting):  # a seed alone sets nothing to judge
            asked = [name for names, _ in wanted for name in names if name != "seed"]
            entry.notes.append(f"its constructor takes none of {', '.join(asked)}: not judged with them")
            continue
        variant_op = REGISTRY[half if op.name == target.twin else plain]
        variant = dataclasses.replace(target, op=variant_op.name, setting=setting)
        for sample_name in graded_samples(variant_op):
            if entry.stopped:
                return
            try:
                answers = None
                if "mask1" in variant_op.signature:
                    answers = _with_the_students_masks(sandbox, target, variant_op, sample_name, entry)
                    if answers is None:
                        break
                judge_sample(sandbox, variant, variant_op, sample_name, entry, entry, True, options, 0, answers)
            except Exception as error:  # noqa: BLE001 - as in grade_target
                entry.broke(ERROR, f"its results could not be compared ({type(error).__name__}) [sample {sample_name}]")


# The student's own dropout, called as the model calls it (CS231n's function, EECS 498's static class).
DROPOUT_FUNCTION = {CS231N: "dropout_forward", EECS498: "Dropout.forward"}


def _with_the_students_masks(sandbox, target, op, sample_name, entry):
    """The oracle's answers for a model with dropout, on the masks the student's own dropout draws
    with the model's seed (it reseeds on every call, as the course's starter does): called on ones of
    each hidden layer's shape, its output is the mask as it scales it. None, with a note, where that
    dropout is not there or does not give a mask."""
    function = DROPOUT_FUNCTION.get(target.convention, "")
    sample = oracle_answers(op.name, sample_name)[0]
    masks = {}
    for name in ("mask1", "mask2"):
        shape = sample.args[name].shape
        request = {
            P.KIND: P.FUNCTION,
            P.FIRST: function,
            P.ARGS: arg_specs(sandbox, [np.ones(shape), {"mode": "train", "p": DROPOUT_KEEP, "seed": DROPOUT_SEED}]),
        }
        outcome = sandbox.call(request, 1)
        spec = (outcome.reply or {}).get(P.RESULTS, {}).get(P.OUT) if outcome.status == "ok" else None
        try:
            mask = np.asarray(sandbox.load(spec, np.ones(shape)), np.float64) if spec else None
        except BadResult:
            mask = None
        if mask is None or mask.shape != shape or not np.all(np.isin(mask, (0.0, 1.0 / DROPOUT_KEEP))):
            # The model takes dropout, and its own dropout gives no mask to judge it by: not a pass.
            entry.sample = sample_name
            entry.check(
                "dropout masks",
                False,
                f"{function} gave no mask (0 or x / keep) on ones of shape {shape}, so the model cannot be judged "
                "with dropout on",
            )
            return None
        masks[name] = mask
    return answers_with(op.name, sample_name, masks)


AUTOGRAD = (
    "the assignment is to derive the gradient by hand; autograd is allowed only in the course's own "
    "FastConv, FastMaxPool and nn.Module parts"
)


def _no_autograd(sandbox, target, entry):
    """A function that must derive its gradient fails where its own code hands it to autograd (read
    from the source, outside the student's process)."""
    if not target.has_backward and target.kind not in (LOSS_FUNCTION, MODEL):
        return
    names = (f"{target.forward}.loss",) if target.kind == MODEL else target.names[::-1]  # the backward first
    for name in dict.fromkeys(names):
        found = autograd_line(sandbox.layout.code, name)
        if found is not None:
            line, text = found
            entry.sample = "its code"
            entry.check("derived by hand", False, f"{name} uses autograd (line {line}: {clean(text, 80)}): {AUTOGRAD}")
            entry.hints.append(
                f"{name} calls autograd (line {line}); compute the gradient with the chain rule instead."
            )
            entry.mistakes.append("autograd")
            return


def _read_the_code(sandbox, target, forward_entry, backward_entry):
    """A failing function's own code read for what its values cannot show (static.py): each finding,
    with its line, goes first among the function's hints (a line that is there to see comes before a
    mistake the values only resemble)."""
    if target.kind == CLASS or target.kind == MODEL:
        return
    for name, entry in zip(target.names, distinct(forward_entry, backward_entry)):
        if entry.status == PASS and not entry.warnings:
            continue
        source = defining_file(sandbox.layout.code, name)
        found = [f for f in static.findings(source[1] if source else "", name) if f not in entry.hints]
        entry.hints[:0] = found
        if any(static.NEVER_SHIFTED in f for f in found):  # that is what overflows, whatever else it resembles
            entry.contradicted.add(("its code", "log_of_probability", CHANGES_A_RIGHT_ONE))  # taken back at settle()
            entry.mistakes.insert(0, "no_max_shift")
        line = re.match(r"line (\d+) `(.*?)`", found[0]) if found else None
        if line and source:  # a line that is there to see is pointed at before a value that went wrong
            entry.where = {"line": int(line.group(1)), "code": line.group(2), "file": source[0]}


# The mistakes of a running statistic's update, said of bn_param['running_mean'] or ['running_var']
# (one never stored has no line to point at: the store is what is missing).
RUNNING_MISTAKES = {RUNNING_UPDATE, "momentum_swapped"}


def _point_at_the_running_update(sandbox, target, entry):
    """A running statistic updated wrong, with nothing else pointed at: the line that computes it."""
    found = [
        (RUNNING.search(q)[1], text) for q, key, text in entry.found if key in RUNNING_MISTAKES and RUNNING.search(q)
    ]
    source = defining_file(sandbox.layout.code, target.forward) if found and not entry.where else None
    line = static.last_assignment(source[1], target.forward, found[0][0]) if source else None
    if line is not None:
        entry.where = {"line": line[0], "code": line[1], "file": source[0]}
        entry.hints = [f"line {line[0]} `{line[1][:80]}`: {h}" if h == found[0][1] else h for h in entry.hints]


def _complex_step(sandbox, target, entry):
    """A backward that passed everything and reads an imaginary part, in its own code or any of the
    submission's it calls, computes its gradient by the complex step: numerically, exact to rounding,
    and where the op's structure allows, in a few calls that no cost tells apart (a pool, an elementwise
    op). Read from the file, outside the student's process."""
    if entry.status != PASS or not mentions(sandbox.layout.code, "imag"):
        return
    start = target.backward or target.forward
    for name in [start, *reached(references(sandbox.layout.code), start)]:
        source = defining_file(sandbox.layout.code, name)
        found = static.imaginary_part_read(source[1], name) if source else None
        if found is None:
            continue
        line, code = found
        entry.sample, entry.stress = "its code", False
        entry.check(
            "derived",
            False,
            f"the gradient is computed by the complex step, numerically: line {line} `{clean(code, 80)}` in "
            f"{name} reads the imaginary part of a call on complex-perturbed inputs; the assignment is to "
            "derive the gradient with the chain rule",
        )
        entry.where = {"line": line, "code": code, "file": source[0]}
        entry.differentiates_numerically("the complex step")
        return


def _cost_matters(target, backward_entry, options):
    """A backward that passed on every sample it was checked on is timed on the cost sample too (a wrong
    one fails anyway, and a teacher may allow numerical gradients)."""
    computes_gradients = target.has_backward or target.kind in (LOSS_FUNCTION, MODEL)
    # One never checked (its forward raised everywhere, and it reads a cache of its own) is not timed:
    # it cannot pass anyway, and the course's cache it would be timed on is not one it reads.
    checked = bool(backward_entry.checks)
    return computes_gradients and checked and backward_entry.status == PASS and not options.allow_numerical_gradient


def _trial_rank(sandbox, target, op, entry):
    """How far the target gets on the op's first sample, judged on a scratch entry: (RANK, checks
    passed), (0, 0) where judging it raised; to see which of two conventions the code follows (a
    model whose biases are regularised too still has its weights' gradients right in its own)."""
    scratch = Entry(entry.name)
    try:
        judge_sample(sandbox, target, op, op.samples[0].name, scratch, scratch)
    except Exception:  # noqa: BLE001 - the real run reports it
        return 0, 0
    return RANK.get(scratch.status, 0), sum(c["passed"] for c in scratch.checks)


def _label_encoding(sandbox, target, op, entry):
    """Index labels (the course's) unless the code only works with one-hot labels; the choice is noted."""
    trials = {
        labels: _trial_rank(sandbox, dataclasses.replace(target, labels=labels), op, entry)
        for labels in ("index", "onehot")
    }
    if trials["onehot"] > trials["index"]:
        entry.notes.append("graded with one-hot labels t: the code does not take index labels")
        return dataclasses.replace(target, labels="onehot")
    if trials["index"][0] == trials["onehot"][0] == RANK[PASS]:
        entry.notes.append("takes index and one-hot labels t")
    return target


# What a docstring or comment says of the regulariser's factor: "0.5 * reg", "a factor of 0.5", "1/2", or that
# it "does not include" one ("DO NOT multiply the regularization term by 1/2").
HALF_STATED = re.compile(r"(0?\.5\s*\*\s*reg|factor\s+of\s+(0?\.5|1/2)|\b1/2\b)", re.IGNORECASE)
HALF_DENIED = re.compile(r"(not|n't)\s+(include|multiply)[^.]*?(0?\.5|1/2)", re.IGNORECASE)


def _regularisation(sandbox, target, entry):
    """The op of the regularisation convention the function is judged in (reg * sum(W^2), or
    0.5 * reg * sum(W^2) in the op's twin): the one its docstring or comments state, else the one its
    code follows (either passes, and the note says which)."""
    plain, half = REGISTRY[target.op], REGISTRY[target.twin]
    docstring = docstrings(sandbox.layout.code, {target.forward}).get(target.forward, "")
    if HALF_DENIED.search(docstring):
        entry.notes.append("regularisation reg * sum(W^2), as its docstring or comments say")
        return plain
    if HALF_STATED.search(docstring):
        entry.notes.append("regularisation 0.5 * reg * sum(W^2), as its docstring or comments say")
        return half
    plain_rank, half_rank = (_trial_rank(sandbox, target, op, entry) for op in (plain, half))
    chosen = half if half_rank > plain_rank else plain
    factor = "0.5 * reg" if chosen is half else "reg"
    entry.notes.append(
        f"judged with {factor} * sum(W^2), the convention its code follows (its docstring and comments leave the factor open)"
    )
    return chosen


def _dropout_reading(target, options, entry):
    """Options with what dropout's p means for this function: the teacher's (--dropout-p, the
    assignment's setting), else its course's: the keep probability in CS231n (since 2017, whose
    handout's code reads it so under a docstring that still says "drop"), the drop probability in
    EECS 498 (noted). A docstring is not read for it: CS231n's said "drop" in 2016 and 2017, whose
    code meant opposite things."""
    if options.dropout_p:
        return options
    if target.convention != EECS498:
        return dataclasses.replace(options, dropout_p=dropout.KEEP)
    entry.notes.append("p read as the probability of dropping a unit, as EECS 498's starter says")
    return dataclasses.replace(options, dropout_p=dropout.DROP)


def _other_convention(sandbox, target, op, forward_entry, backward_entry):
    """Samples to leave out: where an op has samples in a course year's other convention, grade only
    the convention the code follows (both when it takes both) and say which."""
    tagged = [s for s in op.samples if s.convention]
    if not tagged:
        return set()
    stated = _stated_convention(sandbox, target, op)
    if stated == "default":  # the file's own docstring says which: only that one is graded
        return {s.name for s in tagged}
    if stated == "other":
        forward_entry.notes.append(f"graded with {tagged[0].convention}, as its own docstring states")
        return {s.name for s in op.samples if not s.convention}
    default = next(s for s in op.samples if not s.convention and s.name not in SKIPPED_SAMPLES)
    works = {}
    for spec in (default, tagged[0]):
        forward, backward = Entry(forward_entry.name), Entry(backward_entry.name)
        try:
            judge_sample(
                sandbox, target, op, spec.name, forward, forward if backward_entry is forward_entry else backward
            )
        except Exception:  # noqa: BLE001 - the real run reports it
            pass
        works[spec.name] = min(RANK.get(forward.status, 0), RANK.get(backward.status, 0))
    if works[default.name] > works[tagged[0].name]:
        return {s.name for s in tagged}
    if works[tagged[0].name] > works[default.name]:
        forward_entry.notes.append(f"graded with {tagged[0].convention}")
        return {s.name for s in op.samples if not s.convention}
    return set()


# What a starter's docstring says of the shapes where course years differ: (the default convention's
# words, the other's). The 2021 starter's group norm: "gamma: Scale parameter, of shape (1, C, 1, 1)";
# 2018-20's: "of shape (C,)".
STATED_SHAPES = {
    "spatial_groupnorm": (
        re.compile(r"gamma[^\n]*\(\s*1\s*,\s*C\s*,\s*1\s*,\s*1\s*\)"),
        re.compile(r"gamma[^\n]*\(\s*C\s*,\s*\)"),
    ),
}


def _stated_convention(sandbox, target, op):
    """ "default" or "other" where the function's own docstring states its shapes, else "" (then the
    convention its code follows is graded)."""
    patterns = STATED_SHAPES.get(op.name)
    if patterns is None:
        return ""
    said = docstrings(sandbox.layout.code, [target.forward.split(".")[0]]).get(target.forward.split(".")[0], "")
    default, other = (bool(p.search(said)) for p in patterns)
    return "default" if default and not other else "other" if other and not default else ""


def _note_only_kdim(entry):
    """A layer right on every 2-D sample and wrong only for k-dimensional x: say exactly that."""
    failed = {sample_of(c["name"]) for c in entry.checks if not c["passed"]}
    passed = {sample_of(c["name"]) for c in entry.checks if c["passed"]}
    if failed and all(name.startswith("kdim") for name in failed) and passed - failed:
        entry.hints.append(
            "every 2-D check passed and only the k-dimensional x (N, d1, ..., dk) fails: "
            "flatten x to (N, D) with x.reshape(x.shape[0], -1) in the forward, and give dx "
            "x's own shape in the backward"
        )
        entry.mistakes.append("k_dimensional_x_not_flattened")
