"""Point at the line: a failing function run once more on its first failing sample with its array
locals recorded line by line (the worker's Recorder, in the sandbox), and the first of them that no
correct derivation gives found against the reference's own intermediate values (explain.firstwrong).
The finding goes first among the function's hints and into its report entry as `where`."""

import ast
import dataclasses
import os
import time

import numpy as np

from conformance import cache
from conformance.registry import LOSS, UPDATE
from conformance.samples import as_float64
from reference import intermediates

from ..course.submission import defining_file
from ..course.targets import FORWARD_ONLY, LOSS_FUNCTION, MODEL, PAIR, UPDATE_RULE
from ..explain import firstwrong
from ..untrusted import protocol as P
from ..untrusted.sandbox import MAX_READ, BadResult
from .answers import oracle_answers
from .judge import build_request, distinct
from .verdict import FAIL, NUMERICAL_GRADIENT, sample_of

KINDS = (PAIR, FORWARD_ONLY, LOSS_FUNCTION, UPDATE_RULE, MODEL)
# An update rule's config entries, under the names its code gives them as a rule.
CONFIG_LOCALS = {"velocity": ("velocity", "v"), "cache": ("cache", "grad_squared"), "m": ("m",), "v": ("v",)}
RANDOM = ("dropout",)  # its forward draws its own mask: no value of a run of it is the reference's
TRACE_LIMIT_S = 10.0  # the recorded run's longest wait (the rest of the budget is the other functions')
MIN_LEFT_S = 5.0


def point_at_the_line(sandbox, target, op, forward_entry, backward_entry):
    """For each failing function of the target: its first wrong value's line, where one is found."""
    if target.kind not in KINDS or target.packed:
        return
    names = [f"{target.forward}.loss"] if target.kind == MODEL else target.names  # as the worker names it
    if op.name in RANDOM:  # no run of it has the reference's values: only a line that alone computes
        for name, entry in zip(names, distinct(forward_entry, backward_entry)):
            if entry.status == FAIL and not entry.where and not entry.caused_by:
                _the_only_line(sandbox, name, entry)
        return
    for name, entry in zip(names, distinct(forward_entry, backward_entry)):
        # A numerical gradient has right values: no line computes a wrong one.
        if entry.status != FAIL or entry.where or entry.caused_by or NUMERICAL_GRADIENT in entry.mistakes:
            continue
        sample_name = _first_failing_sample(entry, op)
        source = defining_file(sandbox.layout.code, name)
        node = firstwrong.function_node(source[1], name) if source else None
        if sample_name is None or node is None:
            continue
        try:
            with np.errstate(all="ignore"):  # the student's values may be huge, inf or nan
                finding, stopped = _find(sandbox, target, op, name, sample_name, node, source)
        except Exception:  # noqa: BLE001 - a diagnosis that cannot be made is left out, never the grade
            finding, stopped = None, ""
        if stopped:
            entry.notes.append(f"its values could not all be recorded line by line ({stopped})")
        if finding is not None:
            entry.where = {"line": finding.line, "code": finding.code, "file": finding.file or source[0]}
            entry.hints.insert(0, finding.sentence)
            entry.mistakes.append("first_wrong_value")  # a place, not a named mistake: after those


def _the_only_line(sandbox, name, entry):
    """Point at the one statement of a failing function that computes anything (the rest read what
    it was handed: `dropout_param, mask = cache`), where it is one line: the result is made there."""
    source = defining_file(sandbox.layout.code, name)
    node = firstwrong.function_node(source[1], name) if source else None
    if node is None:
        return
    handed = {a.arg for a in node.args.posonlyargs + node.args.args}
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    computing = [s for s in body if not (isinstance(s, ast.Assign) and _reads_only(s.value, handed))]
    if len(computing) != 1 or computing[0].lineno != computing[0].end_lineno:
        return
    line = computing[0].lineno
    code = source[1].splitlines()[line - 1].strip()
    entry.where = {"line": line, "code": code, "file": source[0]}
    entry.hints.insert(
        0, f"line {line} `{code[:80]}` is the only line that computes {name}'s result: the mistake is there"
    )
    entry.mistakes.append("first_wrong_value")


def _reads_only(value, names):
    """A value that only reads what the function was handed: a name of it, or a tuple of them."""
    parts = value.elts if isinstance(value, ast.Tuple) else [value]
    return all(isinstance(p, ast.Name) and p.id in names for p in parts)


def _first_failing_sample(entry, op):
    """The first registry sample (not an unseen twin, not a cost sample) a check of `entry` failed on."""
    known = set(op.sample_names())
    for check in entry.checks:
        sample = sample_of(check["name"])
        if not check["passed"] and sample in known:
            return sample
    return None


def _find(sandbox, target, op, name, sample_name, node, source):
    """(Finding or None, why recording stopped or "")."""
    sample, want_out, want_grads, dout = oracle_answers(op.name, sample_name)
    backward = name == target.backward
    request, calls = build_request(sandbox, target, op, sample, dout, backward)
    request[P.TRACE] = {P.TRACE_NAME: name, P.TRACE_SKIP: firstwrong.loop_lines(node)}
    left = sandbox.deadline - time.monotonic()
    if left < MIN_LEFT_S:  # the submission's own functions come first: a diagnosis only with time to spare
        return None, ""
    outcome = sandbox.call(request, calls, limit=min(TRACE_LIMIT_S, left / 4))
    outputs = (outcome.reply or {}).get(P.RESULTS) or {}
    records = _records(sandbox, outputs.get(P.TRACED))
    stopped = str(outputs.get(P.TRACE_STOPPED) or "")[:200]
    if not records:
        return None, stopped
    args = [sample.args[n] for n in op.signature]
    cotangent = 1.0 if op.kind in (LOSS, UPDATE) else dout
    wrt = [op.signature.index(n) for n in op.wrt]
    reference, pairs = _reference_values(op, sample_name, args, wrt, cotangent, backward or op.kind == LOSS)
    named = _right_values(target, op, node, sample, want_out, want_grads, backward)
    first = np.shape(
        next((sample.args[n] for n in ("x", "X", "features") if n in sample.args), next(iter(sample.args.values())))
    )
    passed = (
        [] if backward or target.kind == MODEL else [sample.args[n] for n in op.signature if n not in target.packed]
    )
    parameters = [a.arg for a in node.args.posonlyargs + node.args.args]
    scalars = [p for p, a in zip(parameters, passed) if isinstance(a, (int, float, np.number))]
    scalars += ["reg"] if target.kind == MODEL and "reg" in sample.args else []  # loss(X, y, reg=...)
    inputs = {n: v for n, v in sample.args.items() if isinstance(v, np.ndarray)} if backward else None
    lines, file = source[1].splitlines(), os.path.basename(source[0])
    # An output slab the loops never reached is the plainer sign: the loop's range, not a line in it.
    finding = firstwrong.loop_stops_short(records, named, node, lines, file)
    finding = finding or firstwrong.first_wrong(
        records,
        reference,
        pairs,
        named,
        node,
        lines,
        file,
        first[0] if first else 0,
        scalars,
        inputs,
        constants=target.kind != UPDATE_RULE,
    )
    if finding is None:  # an array the loops write into, of which the output is a part (a padded dxp)
        finding = firstwrong.loop_stops_short(records, named, node, lines, file, intermediates=True)
    if finding is None and backward:
        finding = _cache_keeps_an_input(sandbox, target, records, inputs, parameters)
    if finding is None and backward:
        finding = _cache_keeps_another_value(sandbox, target, op, records, want_out, reference)
    return _spoken(finding, op, backward), stopped


def _right_values(target, op, node, sample, want_out, want_grads, backward):
    """{name in the function's code: its right value}: the outputs under the course's names and under
    the names the function returns them by (grad_x, next_w, grads['W1'], return[2]), an update
    rule's config entries."""
    named = {f"d{n}": g for n, g in zip(op.wrt, want_grads)}
    if target.kind != MODEL:  # a model's `out` is a hidden layer's, as a rule
        named["out"] = want_out
    if op.kind == LOSS:
        named["loss"] = want_out
    if target.kind == UPDATE_RULE:
        named["next_w"] = want_out
        state = op.state(**as_float64(sample.args)).get("config", {}) if op.state else {}
        holder = next(iter(a.arg for a in node.args.args[2:3]), "config")  # update(w, dw, config)
        for key, value in state.items():
            named[f"{holder}[{key!r}]"] = value
            named.update({local: value for local in CONFIG_LOCALS.get(key, (key,)) if local not in named})
    results = _results(op, backward, want_out, want_grads)
    for names in firstwrong.returned_names(node):  # grad_x, next_w, a loss under a name of its own
        if target.kind == MODEL:  # return loss, grads: grads['W1'], ...; `return scores` is the test-time path
            if len(names) != 2:
                continue
            named.update({f"{names[1]}[{n!r}]": g for n, g in zip(op.wrt, want_grads)} if names[1] else {})
            names = names[:1]
        for returned, value in zip(names, results):
            if returned and returned not in named and value is not None:
                named[returned] = value
    if target.kind != MODEL:  # the worker's names for what the function hands back
        named.update({f"return[{i}]": v for i, v in enumerate(results)})
    return named


def _cache_keeps_an_input(sandbox, target, records, inputs, parameters):
    """Where a backward reads one of its forward's arguments from the cache under another name (s that
    is x: the forward cached x where its derivative needs sigmoid(x)), the forward's return line."""
    kept = firstwrong.forward_input_kept(records, inputs, parameters)
    source, node = _forward_of(sandbox, target) if kept else (None, None)
    returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)] if node is not None else []
    local, argument = kept or ("", "")
    if not returns or not any(names and names[0] == local for names in firstwrong.returned_names(node)):
        return None  # only where the backward reads it under the name of the forward's output
    said = (
        f"the cache keeps {argument}, the forward's argument, where {target.backward} reads it as {local}, "
        f"the forward's output: keep {local} in the cache"
    )
    return _at_the_return(source, returns, local, said)


def _forward_of(sandbox, target):
    """(rel, text) of the file that defines the target's forward, and the forward's node; None for
    what is not there."""
    source = defining_file(sandbox.layout.code, target.forward)
    return source, firstwrong.function_node(source[1], target.forward) if source else None


def _at_the_return(source, returns, name, said):
    """A Finding at the forward's last return line (where its cache is handed back), in its own file."""
    line = max(r.lineno for r in returns)
    code = firstwrong.line_text(source[1].splitlines(), line)
    return firstwrong.Finding(
        line, code, name, f"line {line} of {os.path.basename(source[0])} `{code[:80]}`: {said}.", source[0]
    )


def _cache_keeps_another_value(sandbox, target, op, records, want_out, reference):
    """Where a backward reads a forward's output from the cache under the output's own name (next_h)
    but the cache holds another value the forward computes there (the pre-activation a), the
    forward's return line."""
    source, node = _forward_of(sandbox, target)
    if node is None:
        return None
    final = {record.name: record.value for record in records}
    returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
    outputs = firstwrong.returned_names(node)
    last = outputs[-1] if outputs else []  # the return that hands the cache back
    correct = None
    for name, right in zip(last, _results(op, False, want_out, [])):
        held = final.get(name)
        if name is None or held is None or right is None or np.shape(held) != np.shape(right):
            continue
        held = np.asarray(held, np.float64)
        if firstwrong.close(held, np.asarray(right, np.float64)):
            continue
        correct = correct or firstwrong.Correct(reference)
        if correct.holds(held):
            said = (
                f"{target.backward} reads {name}, the forward's output, from the cache, but the cache holds "
                f"another value there: keep {name} itself in the cache"
            )
            return _at_the_return(source, returns, name, said)
    return None


def _spoken(finding, op, backward):
    """The finding with the worker's names for returned values (return[2]) said as a student reads
    them: "what it returns third (db)"."""
    if finding is None or "return[" not in finding.sentence:
        return finding
    wrt = [f"d{n}" for n in op.wrt]
    names = wrt if backward else (["loss", *wrt] if op.kind == LOSS else [])
    sentence = finding.sentence
    for i, ordinal in enumerate(ORDINALS):
        name = names[i] if i < len(names) else ""
        sentence = sentence.replace(f"the right return[{i}]", f"the right {name or 'value'}")
        sentence = sentence.replace(f"return[{i}]", f"what it returns {ordinal}" + (f" ({name})" if name else ""))
    return dataclasses.replace(finding, sentence=sentence)


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _results(op, backward, want_out, want_grads):
    """The right values of what the function returns, in the order it returns them."""
    if backward:
        return list(want_grads)
    if op.kind == LOSS:
        return [want_out, *want_grads]
    return list(np.asarray(want_out)) if op.outputs > 1 else [want_out]


def _reference_values(op, sample_name, args, wrt, cotangent, with_pairs):
    """(every value the reference computes, [(primal, cotangent)] where asked), through the disk cache:
    the same for every student of a class, and no JAX import for a warm run."""
    modules = ("reference.intermediates",)
    label = f"{sample_name}: intermediate values"
    values = cache.arrays(
        op.reference, args, wrt, label, lambda: intermediates.intermediates(op.reference, args, wrt, cotangent), modules
    )
    if not with_pairs:
        return values, []
    flat = cache.arrays(
        op.reference,
        args,
        wrt,
        f"{sample_name}: cotangents of the forward's values",
        lambda: [a for pair in intermediates.cotangents(op.reference, args, wrt, cotangent) for a in pair],
        modules,
    )
    return values, list(zip(flat[::2], flat[1::2]))


def _records(sandbox, specs):
    """The recorded values as firstwrong.Records; a reply that is not a list of them gives none."""
    if not isinstance(specs, list):
        return []
    records = []
    for spec in specs[:400]:
        if sandbox.bytes_read > MAX_READ // 2:  # half of what one submission may have read is its results'
            break
        try:
            value = sandbox.load({P.FILE: spec.get(P.FILE)})
            records.append(
                firstwrong.Record(int(spec[P.LINE_FROM]), int(spec[P.LINE_TO]), str(spec[P.TRACE_NAME])[:80], value)
            )
        except (BadResult, KeyError, TypeError, ValueError, AttributeError):
            continue
    return records
