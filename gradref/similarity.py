"""Who copied from whom: pairs of submissions ranked by the wrong results they share and by the code
they share, function by function, the starter subtracted and public solutions included.

Behaviour. Every failing comparison of a report keeps a fingerprint of its wrong values; an error
keeps its message. Two students who share one are evidence in proportion to how rare it is: with c of
N students (and graded public files, which count as N does) sharing it, the chance that another
shares it is (c - 1) / (N - 1), and the pair
scores -log2 of that (a mistake made by 2 of 120 students: 6.9 bits; by half the class: 1 bit), the
largest per op (a layer's forward and backward together: a wrong forward hands its backward a wrong
cache, so one mistake fails both, and counts once), summed over ops. Right results carry no weight. A mistake the grader's
catalogue names (a k-dimensional x never flattened, say) is one students make on their own: its chance
is taken as at least NAMED_MISTAKE_CHANCE, whatever share of a small class made it; not one the
catalogue names with a constant fitted to the student's values (an svm margin of 3.2), whose constant
is the student's own.

Code. Each function's tokens are normalised (every name it binds becomes one token, numbers and
strings one each, comments and layout dropped; keywords, operators, attribute names and the
library's names stay), cut at statement boundaries (so that the order of statements does not matter),
hashed in k-grams and winnowed. A fingerprint of the starter's version of the function is dropped;
each other one weighs log2(D / d), with D the submissions (and public files) that define the function
and d those whose version holds it, so that the form every correct solution takes weighs little. A
pair's code score, per function, is the share of the smaller version's weight that the other holds
(1 for a copy, whatever was added to it) times the mean weight of the rarest few fingerprints they
share, in bits like the behaviour's (two versions of the common form share only common ones; a copy
shares its original's own turns too); the largest of each op's functions, summed over ops (a layer's
forward and backward are written together, in one style: two honest students who write an op in
the same common style share both, and that is one coincidence, not two).

Score. Each op's evidence (behaviour and code, added) is read two ways, and the pair scores the
likelier, in bits (`reading`): copied whole, where every op both wrote should still hold most of its
original (each that looks written apart, with no shared wrong result and under APART of its code
held, costs log2(1 / WHOLE_MISS) = 3.3 bits), and copied in part, where each op was copied with chance
PART (an op worth e bits counts log2(PART * 2^e + 1 - PART)). Honest students who write alike share
a little in many ops and look like neither; a whole copy keeps everything; a copier who rewrote all
but one function, its mistake included, shares much in that one.

Pairs are found through inverted indexes (fingerprint to submissions), never by comparing every pair;
a fingerprint that most of the class shares is left out of the index (it would weigh little anyway).
"""

import dataclasses
import hashlib
import io
import itertools
import json
import keyword
import math
import os
import re
import tokenize

from .findings import FITTED, named_mistakes
from .text import source_lines, source_segment

K = 5  # tokens per k-gram
WINDOW = 4  # k-grams per winnowing window
COMMON = 0.5  # a fingerprint in more than this share of the documents (and 20 of them) is not indexed,
RAREST = 3  # a function's code evidence: its shared fingerprints' rarest few (one may collide by chance)
# The least chance that another student shares a wrong result whose mistake the catalogue lists (it
# lists the mistakes students make most): a few in a small class are no sign of copying.
NAMED_MISTAKE_CHANCE = 0.1
MOST = 50  # nor one in more than this many (a common form: every pair of its holders would be scored)
# A pair's score (see `reading`). Chosen on the similarity benchmark's classes of seeds 0-5 and
# measured on seeds 6-13, drawn after (docs/similar.md).
WHOLE_MISS = 0.1  # copied whole: the chance that an op both define still looks written apart
APART = 0.5  # written apart: no shared wrong result, and the other holds under this share of its code
PART = 0.1  # copied in part: the chance that any one op was copied
# Names that are part of the language or the library rather than the student's choice.
KEPT_NAMES = {"np", "numpy", "range", "len", "zip", "enumerate", "reversed", "sum", "max", "min", "abs", "self"}


@dataclasses.dataclass
class Document:
    """One submission or public file: its functions' sources and fingerprints {hash: (first, last) line}."""

    name: str
    public: bool = False
    sources: dict = dataclasses.field(default_factory=dict)  # function -> (source, first line)
    prints: dict = dataclasses.field(default_factory=dict)  # function -> {hash: (line, line)}
    behaviour: dict | None = None  # a graded public file's behaviour_keys (None: compared by code only)


# ----- code -----


def functions_of(text):
    """{name: (source, first line)} of the top-level functions and Class.methods of a module's text."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    found, lines = {}, source_lines(text)
    for node in tree.body:
        inner = [(node.name, node)] if isinstance(node, ast.FunctionDef) else []
        if isinstance(node, ast.ClassDef):
            inner = [(f"{node.name}.{m.name}", m) for m in node.body if isinstance(m, ast.FunctionDef)]
        for name, function in inner:
            source = source_segment(lines, function)
            if source and name not in found:
                found[name] = (source, function.lineno)
    return found


def tokens(source, first_line=1):
    """[(normalised token, line)] of a function's source."""
    found, previous = [], ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = token.type, token.string
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if kind == tokenize.NAME:
                kept = keyword.iskeyword(text) or previous == "." or text in KEPT_NAMES
                word = text if kept else "V"
            elif kind == tokenize.NUMBER:
                word = "N"
            elif kind == tokenize.STRING:
                word = "S"
            elif kind == tokenize.NEWLINE:
                word = ";"
            elif kind in (tokenize.INDENT, tokenize.DEDENT):
                word = "{" if kind == tokenize.INDENT else "}"
            else:
                word = text
            found.append((word, token.start[0] + first_line - 1))
            previous = text
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def _statements(source, first_line):
    """The function's statements, each [(token, line)], in one layout (Python's own, ast.unparse: so
    that parentheses, spacing and quotes are nobody's style), sorted by their text so that independent
    statements may come in any order; a compound statement's header is one of them. A source that
    does not parse is cut at its own line breaks."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return _cut(tokens(source, first_line))
    statements = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node is tree.body[0] and isinstance(node, ast.FunctionDef):
            continue
        text = ast.unparse(_header(node)).splitlines()[0] if hasattr(node, "body") else ast.unparse(node)
        words = [w for w, _ in tokens(text) if w not in (";", "{", "}")]
        last = node.lineno if hasattr(node, "body") else node.end_lineno or node.lineno
        lines = (node.lineno + first_line - 1, last + first_line - 1)
        if words:
            statements.append([(w, lines) for w in words])
    return sorted(statements, key=lambda s: [w for w, _ in s])


def _header(node):
    """A compound statement with a body of `pass` (its own statements are statements of their own):
    unparsing the whole of each nested loop again made reading a file quadratic in its depth."""
    import ast
    import copy

    header = copy.copy(node)
    header.body = [ast.Pass()]
    for field in ("orelse", "finalbody", "handlers"):
        if hasattr(header, field):
            setattr(header, field, [])
    return header


def _cut(found):
    statements, current = [], []
    for word, line in found:
        if word in (";", "{", "}"):
            if current:
                statements.append(current)
            current = []
        else:
            current.append((word, (line, line)))
    if current:
        statements.append(current)
    return sorted(statements, key=lambda s: [w for w, _ in s])


def _hash(words):
    return int.from_bytes(hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest(), "big")


def fingerprints(source, first_line=1):
    """{hash: (first line, last line)}: the winnowed k-gram hashes of a function (a statement shorter
    than K tokens is one gram of its own)."""
    grams = []
    for statement in _statements(source, first_line):
        words = [w for w, _ in statement]
        first, last = statement[0][1][0], statement[-1][1][1]
        if len(words) < K:
            grams.append((_hash(words), first, last))
            continue
        for i in range(len(words) - K + 1):
            grams.append((_hash(words[i : i + K]), first, last))
    if len(grams) <= WINDOW:
        return {h: (a, b) for h, a, b in grams}
    chosen = {}
    for i in range(len(grams) - WINDOW + 1):
        h, a, b = min(grams[i : i + WINDOW], key=lambda g: g[0])
        chosen.setdefault(h, (a, b))
    return chosen


def read_document(path, name, public=False):
    """A Document of a .py file, a notebook, a zip or a folder of them (unreadable ones are empty)."""
    from .grade.untrusted.refusal import CannotGrade
    from .grade.untrusted.sandbox import python_files
    from .grade.untrusted.staging import staged

    document = Document(name, public)
    try:
        with staged(path) as stage:
            root = stage.path
            files = [root] if os.path.isfile(root) else [os.path.join(root, r) for r in python_files(root)]
            for file in files:
                with open(file, encoding="utf-8-sig", errors="replace") as handle:
                    for function, (source, line) in functions_of(handle.read()).items():
                        document.sources.setdefault(function, (source, line))
    except (CannotGrade, OSError, ValueError):
        return document
    document.prints = {f: fingerprints(source, line) for f, (source, line) in document.sources.items()}
    return document


def read_public(paths, folder=None, grade=None, graded_by=""):
    """Documents of public files, through an index kept on disk (by path, size and modification time)
    under `folder` (the oracle cache's, by default): a folder of public solutions is read once. With
    `grade` (paths -> {path: report}), each file is graded too, once per `graded_by` (the grader's
    own digest and the assignment), and its wrong results join the class's in behaviour."""
    if folder is None:
        from conformance import cache

        folder = os.path.join(cache.folder(), "similar")
    index_path = os.path.join(folder, "public-index.json")
    try:
        with open(index_path, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError):
        index = {}
    documents, changed = [], False
    for path in paths:
        absolute = os.path.abspath(path)
        try:
            status = os.stat(absolute)
        except OSError:
            continue
        stamp = [status.st_size, status.st_mtime_ns]
        kept = index.get(absolute)
        if kept is None or kept.get("stamp") != stamp:
            document = read_document(path, path, public=True)
            kept = {
                "stamp": stamp,
                "functions": {
                    f: [source, line, {str(h): span for h, span in document.prints.get(f, {}).items()}]
                    for f, (source, line) in document.sources.items()
                },
            }
            index[absolute], changed = kept, True
        document = Document(path, public=True)
        for function, (source, line, prints) in kept["functions"].items():
            document.sources[function] = (source, line)
            document.prints[function] = {int(h): tuple(span) for h, span in prints.items()}
        documents.append(document)
    if grade is not None:
        changed = _grade_public(documents, index, grade, graded_by) or changed
    if changed:
        from . import output

        try:
            os.makedirs(folder, exist_ok=True)
            output.write_atomic(index_path, json.dumps(index))
        except OSError:  # a read-only home costs the index, never the run
            pass
    return documents


def _grade_public(documents, index, grade, graded_by):
    """Give each public document its behaviour keys, grading only those the index has none of for
    `graded_by`; whether the index changed."""
    entries = {d.name: index[os.path.abspath(d.name)] for d in documents}
    todo = [d.name for d in documents if entries[d.name].get("graded_by") != graded_by]
    reports = grade(todo) if todo else {}
    for name in todo:
        keys = behaviour_keys(reports.get(name) or {})
        entries[name]["graded_by"] = graded_by
        entries[name]["behaviour"] = {f: {k: list(v) for k, v in found.items()} for f, found in keys.items()}
    for document in documents:
        kept = entries[document.name].get("behaviour", {})
        document.behaviour = {f: {k: tuple(v) for k, v in found.items()} for f, found in kept.items()}
    return bool(todo)


def document_of(text, name):
    """A Document of Python source text."""
    document = Document(name)
    document.sources = functions_of(text)
    document.prints = {f: fingerprints(source, line) for f, (source, line) in document.sources.items()}
    return document


def builtin_starter():
    """The scaffolding every student of the course starts from, for each of its layers, losses and
    update rules (from the registry's signatures): `out, cache = None, None` ... `return out, cache`,
    `dx, dw, db = None, None, None` ... `return dx, dw, db`, an update rule's config defaults. What
    everyone hands in from the starter is no evidence of anything."""
    from conformance.registry import REGISTRY

    from .grade.course.targets import CS231N, LOSS_FUNCTION, PAIR, TARGETS, UPDATE_RULE

    parts = []
    for target in TARGETS:
        op = REGISTRY.get(target.op)
        if target.convention != CS231N or op is None:
            continue
        grads = ", ".join(f"d{n}" for n in op.wrt) or "dx"
        nones = ", ".join("None" for _ in op.wrt) or "None"
        if target.kind == PAIR:
            parts.append(
                f"def {target.forward}({', '.join(op.signature)}):\n    out, cache = None, None\n    return out, cache\n"
            )
            parts.append(f"def {target.backward}(dout, cache):\n    {grads} = {nones}\n    return {grads}\n")
        elif target.kind == LOSS_FUNCTION:
            parts.append(
                f"def {target.forward}({', '.join(op.signature)}):\n    loss, {grads} = None, {nones}\n"
                f"    return loss, {grads}\n"
            )
        elif target.kind == UPDATE_RULE:
            parts.append(
                f"def {target.forward}(w, dw, config=None):\n    if config is None:\n        config = {{}}\n"
                f"    config.setdefault('learning_rate', 0.01)\n    next_w = None\n    return next_w, config\n"
            )
    return document_of("\n\n".join(dict.fromkeys(parts)), "starter")


def subtract_starter(documents, starter):
    """Drop from every document the fingerprints the starter's version of the same function holds."""
    for document in documents:
        for function, prints in document.prints.items():
            given = starter.prints.get(function, {})
            document.prints[function] = {h: span for h, span in prints.items() if h not in given}


# ----- behaviour -----


def behaviour_keys(report):
    """{function: {key: (words, named)}}: each failing comparison's fingerprint, and each error's
    message (file names and paths taken out, so that two students' same error at the same line
    match); `named`: the function's failure is a mistake the catalogue lists, or a near miss."""
    found = {}
    for result in report.get("results", []):
        if result.get("status") not in ("fail", "error", "timeout"):
            continue
        # A near miss (right but for a shape, or for a k-dimensional x) is named as well as any.
        keys = found.setdefault(result["name"], {})
        named = bool([k for k in named_mistakes(result) if k not in FITTED] or result.get("near_miss"))
        for check in result.get("checks", []):
            if not check.get("passed") and check.get("fingerprint"):
                keys[f"{check['name']}: {check['fingerprint']}"] = (f"the same wrong {check['name']}", named)
        if result.get("status") == "error":
            message = re.sub(r" of [^\s:)]+", "", str(result.get("message", "")))
            keys[f"error: {message}"] = ("the same error at the same line", named)
    return {f: k for f, k in found.items() if k}


# ----- pairs -----


def _index(items, limit):
    """{key: [owners]} from (owner, keys) items, keys held by more than `limit` owners left out."""
    index = {}
    for owner, keys in items:
        for key in keys:
            index.setdefault(key, []).append(owner)
    return {k: v for k, v in index.items() if len(v) <= limit}


def score_pairs(documents, reports):
    """[pair dicts] ranked by score. `documents`: [Document] (class and public); `reports`: {name:
    report} of the class's submissions."""
    pairs = {}

    def pair(a, b):
        a, b = sorted((a, b))
        return pairs.setdefault((a, b), {"behaviour": {}, "code": {}, "held": {}, "evidence": {}})

    by_name = {d.name: d for d in documents}
    students = len(reports)
    keys = {name: behaviour_keys(report) for name, report in reports.items()}
    graded_public = {d.name: d.behaviour for d in documents if d.public and d.behaviour is not None}
    keys.update(graded_public)  # a public solution's wrong results count in how common a result is
    everyone = len(keys)
    for function in {f for found in keys.values() for f in found}:
        items = [(name, found[function]) for name, found in keys.items() if function in found]
        index = _index([(name, list(k)) for name, k in items], min(max(20, COMMON * everyone), MOST))
        words = dict(item for _, k in items for item in k.items())
        for key, owners in index.items():
            if len(owners) < 2:
                continue
            said, named = words[key]
            chance = (len(owners) - 1) / max(everyone - 1, 1)
            if named:  # students make the mistakes the catalogue lists on their own, however few did here
                chance = max(chance, NAMED_MISTAKE_CHANCE)
            bits = -math.log2(chance)
            held = _held_by(owners, students, graded_public)
            for a, b in itertools.combinations(owners, 2):
                if a in graded_public and b in graded_public:
                    continue
                entry = pair(a, b)
                if bits > entry["behaviour"].get(function, 0.0):
                    entry["behaviour"][function] = bits
                    entry["evidence"][function] = f"{said}: a result that {held}" + (
                        ", a mistake the grader's catalogue lists" if named else ""
                    )
    functions = {}  # function -> (its holders, each fingerprint's weight)
    candidates = set()  # pairs that share a fingerprint few hold, in some function
    for function in sorted({f for d in documents for f in d.prints}):
        holders = [d for d in documents if d.prints.get(function)]
        if len(holders) < 2:
            continue
        counts = {}
        for d in holders:
            for h in d.prints[function]:
                counts[h] = counts.get(h, 0) + 1
        functions[function] = (holders, {h: math.log(len(holders) / c) for h, c in counts.items()})
        index = _index([(d.name, list(d.prints[function])) for d in holders], min(max(20, COMMON * len(holders)), MOST))
        for owners in index.values():
            candidates.update(
                tuple(sorted((a, b)))
                for a, b in itertools.combinations(owners, 2)
                if not (by_name[a].public and by_name[b].public)
            )
    for function, (holders, weight) in functions.items():  # a candidate pair: everything it shares counts
        held = {d.name for d in holders}
        totals = {d.name: sum(weight[h] for h in d.prints[function]) for d in holders}
        for a, b in candidates:
            if a not in held or b not in held:
                continue
            hashes = sorted(by_name[a].prints[function].keys() & by_name[b].prints[function].keys())
            if not hashes:
                continue
            total, smaller = sum(weight[h] for h in hashes), min(totals[a], totals[b])
            # How much of the smaller version the other holds (by count where all of it is common).
            if smaller > 0:
                containment = total / smaller
            else:
                containment = len(hashes) / min(len(by_name[a].prints[function]), len(by_name[b].prints[function]))
            pair(a, b)["held"][function] = containment
            if total > 0:  # the share held, times how rare the rarest of it is
                rarest = sorted((weight[h] for h in hashes), reverse=True)[:RAREST]
                pair(a, b)["code"][function] = (containment * sum(rarest) / len(rarest) / math.log(2), hashes)
    return _ranked(pairs, by_name)


def _held_by(owners, students, graded_public):
    """'2 of 120 students share', or '1 of 120 students and 1 of 2,000 public files hold' where public
    files were graded."""
    public = sum(o in graded_public for o in owners)
    if not graded_public:
        return f"{len(owners)} of {students} students share"
    return f"{len(owners) - public} of {students} students and {public:,} of {len(graded_public):,} public files hold"


def op_of(function):
    """The op a graded function belongs to: a layer's forward and backward (and a class's methods) share one."""
    return re.sub(r"_(forward|backward)(_alt|_naive|_fast)?$", "", function.split(".")[0])


def _by_op(bits):
    """{op: bits} from {function: bits}, the largest of each op's functions: a layer's forward and
    backward are written together, in one style, so one op is one piece of evidence."""
    largest = {}
    for function, value in bits.items():
        largest[op_of(function)] = max(largest.get(op_of(function), 0.0), value)
    return largest


def reading(evidence, apart=0):
    """(score, "whole" or "part"): the pair's evidence {op: bits} read as the likelier of two ways of
    copying, in bits (log2 of how much likelier than independent work). "whole": a file copied whole
    (renamed, reordered, commented, padded) still holds most of each op of its original, so each of
    the `apart` ops both define that look written apart (no shared wrong result, under APART of the
    code held) costs log2(WHOLE_MISS). "part": each op copied with chance PART, an op worth e bits
    counting log2(PART * 2^e + 1 - PART) (about e - 3.3 where e is large, next to nothing where it is
    small): one function copied, its mistake included, stands out from a little shared in many ops,
    which is how honest students who write alike look."""
    whole = sum(evidence.values()) + apart * math.log2(WHOLE_MISS)
    part = sum(e + math.log2(PART + (1 - PART) * 2.0**-e) for e in evidence.values())  # stable for large e
    return (whole, "whole") if whole >= part else (part, "part")


def _written_apart(by_name, a, b, entry):
    """How many ops both documents define (code left after the starter's) without a shared wrong
    result and with under APART of the smaller version's code held by the other, in every function."""
    first, second = by_name.get(a), by_name.get(b)
    if first is None or second is None:
        return 0
    shared = {op_of(f) for f, prints in first.prints.items() if prints and second.prints.get(f)}
    held = {op_of(f) for f in entry["behaviour"]}
    held |= {op_of(f) for f, containment in entry["held"].items() if containment >= APART}
    return len(shared - held)


def _ranked(pairs, by_name):
    ranked = []
    for (a, b), entry in pairs.items():
        code = {f: total for f, (total, _) in entry["code"].items()}
        behaviour, code_by_op = _by_op(entry["behaviour"]), _by_op(code)
        evidence = {op: behaviour.get(op, 0.0) + code_by_op.get(op, 0.0) for op in set(behaviour) | set(code_by_op)}
        score, how = reading(evidence, _written_apart(by_name, a, b, entry))
        functions = sorted(  # ties by name: the same report from the same class, run after run
            set(entry["behaviour"]) | set(code), key=lambda f: (-(entry["behaviour"].get(f, 0) + code.get(f, 0)), f)
        )
        ranked.append(
            {
                "a": a,
                "b": b,
                "public": any(by_name[n].public for n in (a, b) if n in by_name),
                "score": round(score, 3),
                "reading": how,
                "behaviour": round(sum(behaviour.values()), 3),
                "code": round(sum(code_by_op.values()), 3),
                "functions": [
                    {
                        "name": f,
                        "behaviour": round(entry["behaviour"].get(f, 0.0), 3),
                        "code": round(code.get(f, 0.0), 3),
                        "shared_result": entry["evidence"].get(f, ""),
                        "lines": _matching_lines(by_name, a, b, f, entry["code"].get(f, (0, []))[1]),
                    }
                    for f in functions
                ],
            }
        )
    ranked.sort(key=lambda p: (-p["score"], p["a"], p["b"]))
    return ranked


def _matching_lines(by_name, a, b, function, hashes):
    """{a: [lines], b: [lines]}: the lines of each version that hold a shared fingerprint."""
    found = {}
    for name in (a, b):
        document = by_name.get(name)
        spans = document.prints.get(function, {}) if document else {}
        lines = set()
        for h in hashes:
            if h in spans:
                lines.update(range(spans[h][0], spans[h][1] + 1))
        found[name] = sorted(lines)
    return found


def write_csv(pairs):
    """pairs.csv: a, b, score, behaviour, code, functions, reading."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["a", "b", "score", "behaviour", "code", "functions", "reading"])
    for p in pairs:
        functions = " ".join(f["name"] for f in p["functions"])
        writer.writerow([p["a"], p["b"], p["score"], p["behaviour"], p["code"], functions, p["reading"]])
    return buffer.getvalue()


def dumps(pairs):
    return json.dumps({"pairs": pairs}, indent=1)
