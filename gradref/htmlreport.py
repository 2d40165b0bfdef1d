"""HTML reports a teacher opens in a browser: the class page (what the class got wrong) and a page per
student (the verdicts, and a heat map of where each failing quantity is wrong).

Each page is one self-contained file that works offline: inline CSS, charts drawn by matplotlib as
inline SVG, no script at all, and a Content-Security-Policy that forbids scripts and any fetch. Every
text that comes from a submission (its name, messages quoting its code) is escaped, so a student
named `<img src=x onerror=alert(1)>.py` is shown as text.
"""

import ast
import collections
import hashlib
import hmac
import html
import io
import math
import os
import re

from .findings import named_mistakes
from .grade.course.targets import TARGETS
from .grade.explain.mistakes import CATALOGUE
from .grade.judging.verdict import quantity_of, sample_of

SAMPLE = re.compile(r"\[([^\[\]]+)\]$")
LABELLED = re.compile(r"^(\S+) \[([^\[\]]+)\]: (.*)$", re.S)  # a failure on an extreme sample: "dx [huge_scores]: ..."
# The extreme samples, in a teacher's words (conformance/registry.py draws them).
STRESS_SAMPLES = {
    "extreme": "at inputs of extreme size",
    "large_scores": "at scores near 500",
    "huge_scores": "at scores near 1000",
}
SHORT = 90  # characters of a catalogue sentence shown on the class page
WORST = re.compile(r"got (\S+), want (\S+?)[;)]")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .25em .5em;
vertical-align: top; text-align: left; } th { background: #f4f4f4; } .num { text-align: right; }
.pass { color: #1a7f37; } .fail, .error, .timeout { color: #c62828; } .missing { color: #777; }
.low { background: #fde7e7; } code, pre { font-family: ui-monospace, monospace; font-size: .9em; }
pre { background: #f6f6f6; padding: .4em; white-space: pre-wrap; } .note { color: #555; }
.key { font: .75em ui-monospace, monospace; color: #888; margin-left: .4em; }
figure { display: inline-block; margin: .5em 1em .5em 0; } figcaption { font-size: .9em; color: #444; }
"""


def pseudonym(name, key):
    """A stable pseudonym for a student's name under the class's secret `key` (report.class_key): the
    same name and key give the same pseudonym, and without the key a roster of names cannot be
    matched to them, as an unsalted hash could."""
    return "student-" + hmac.new(key, name.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:8]


def student_name(report, path=""):
    """The student's own name: the submission's file or folder name."""
    return os.path.basename(os.path.normpath(report.get("submission") or path)) or "?"


def _e(text):
    return html.escape(str(text), quote=True)


def _page(title, body):
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


# ----- charts: matplotlib to inline SVG -----


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _svg(figure):
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, and searchable
    matplotlib.rcParams["svg.hashsalt"] = "gradref"  # the same report gives the same file
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def score_bins(fractions, not_graded=0):
    """Students per bar of the score chart: those not graded first, then tenths of the points."""
    counts = [0] * 10
    for fraction in fractions:
        counts[min(9, int(10 * max(0.0, fraction)))] += 1
    labels = ["ungraded"] + [f"{10 * i}-{10 * i + 10}" for i in range(10)]
    return labels, [not_graded] + counts


def score_chart(fractions, not_graded=0):
    labels, counts = score_bins(fractions, not_graded)
    figure = _figure(6.5, 2.4)
    axes = figure.add_subplot()
    colours = ["#9e9e9e"] + ["#4a78b5"] * 10
    axes.bar(range(len(counts)), counts, color=colours, edgecolor="white")
    axes.set_xticks(range(len(counts)), labels, fontsize=7)
    axes.set_xlabel("score (% of the points)")
    axes.set_ylabel("students")
    return _svg(figure)


def pass_rate_chart(rates):
    figure = _figure(6, 0.3 * len(rates) + 0.8)
    axes = figure.add_subplot()
    names = list(rates)[::-1]
    axes.barh(names, [100 * rates[n] for n in names], color="#4a78b5")
    axes.set_xlim(0, 100)
    axes.set_xlabel("students whose function passes (%)")
    return _svg(figure)


def heatmap_chart(heat):
    import numpy as np

    grid = np.asarray(heat["grid"], float)
    figure = _figure(min(6, 1.5 + 0.25 * grid.shape[1]), min(4, 1 + 0.25 * grid.shape[0]))
    axes = figure.add_subplot()
    image = axes.imshow(np.log10(np.maximum(grid, 1e-17)), cmap="magma", aspect="auto", interpolation="nearest")
    ylabel, xlabel = (heat.get("axes") or ["", ""])[:2]
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    figure.colorbar(image, ax=axes, label="log10 |got - want| / max|want|")
    return _svg(figure)


# ----- reading reports -----


def _graded(report):
    return [r for r in report.get("results", []) if r.get("status") != "missing"]


def score_fraction(report):
    if report.get("max_score"):
        return float(report.get("score", 0.0)) / float(report["max_score"])
    graded = _graded(report)
    return sum(r["status"] == "pass" for r in graded) / len(graded) if graded else 0.0


def _function_source(report, function):
    """The lines of `function` in the submission's files, or [] where they cannot be read."""
    root = report.get("submission", "")
    files = report.get("files") or []
    for rel in files:
        path = root if os.path.isfile(root) else os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
            for node in ast.parse(text).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == function:
                    return text.splitlines()[node.lineno - 1 : node.end_lineno]
        except (OSError, SyntaxError, ValueError):
            continue
    return []


def representative_line(lines, quantity):
    """The line of a function that computes `quantity` (dx = ..., dx[...] += ...), else its return."""
    name = quantity.split()[0]
    pattern = re.compile(rf"^\s*{re.escape(name)}\s*(\[.*\])?\s*[-+*/]?=")
    for line in lines:
        if pattern.search(line):
            return line.strip()
    return next((line.strip() for line in lines if line.strip().startswith("return")), "")


# ----- the class page -----


def class_summary(named_reports):
    """Everything the class page shows, from (name, report) pairs: a plain dict (tests check it)."""
    functions = collections.defaultdict(lambda: collections.Counter())
    mistakes = collections.defaultdict(lambda: collections.defaultdict(list))
    warnings = collections.defaultdict(lambda: collections.defaultdict(list))
    samples = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0]))
    failures = collections.defaultdict(list)
    cannot, fractions, elapsed, isolation = [], [], [], collections.Counter()
    for name, report in named_reports:
        if "results" not in report:
            cannot.append((name, report.get("error", "no results in the report")))
            continue
        fractions.append(score_fraction(report))
        isolation[report.get("isolation", "?")] += 1
        if isinstance(report.get("elapsed_s"), (int, float)):
            elapsed.append(float(report["elapsed_s"]))
        for result in _graded(report):
            function = result["name"]
            functions[function][result["status"]] += 1
            if result["status"] != "pass":
                for key in named_mistakes(result):
                    mistakes[function][key].append(name)
            for kind in dict.fromkeys(_warning_kind(function, text) for text in result.get("warnings", [])):
                warnings[function][kind].append(name)
            _count_samples(samples[function], result)
            if not named_mistakes(result):
                _collect_failures(failures, name, report, result)
    return {
        "students": len(named_reports),
        "cannot_grade": cannot,
        "score_fractions": fractions,
        "functions": {f: dict(c) for f, c in sorted(functions.items())},
        "mistakes": {f: {k: v for k, v in sorted(m.items(), key=lambda kv: -len(kv[1]))} for f, m in mistakes.items()},
        "warnings": {f: dict(w) for f, w in warnings.items()},
        "samples": {f: {s: tuple(v) for s, v in d.items()} for f, d in samples.items()},
        "clusters": _clusters(failures),
        "elapsed_s": elapsed,
        "isolation": dict(isolation),
    }


def _warning_kind(function, text):
    """A warning in a teacher's words, the same for every student it applies to: 'relu_backward writes
    into dout', 'softmax_loss overflows at scores near 1000'."""
    failure = LABELLED.match(text)
    if not failure:
        return SAMPLE.sub("", text.split(":")[0]).strip()[:120]
    quantity, sample, detail = failure.groups()
    where = STRESS_SAMPLES.get(sample, f"on the {sample} sample")
    overflows = any(word in detail.lower() for word in ("nan", "inf", "overflow"))
    return f"{function} {'overflows' if overflows else 'is off'} {where} ({quantity})"


def _ops_of(function):
    return [t.op for t in TARGETS if function in t.names]


def mistake_words(function, key):
    """A catalogue mistake in plain words, shortened: its sentence up to the first colon (or SHORT
    characters); the key itself where the catalogue does not list it."""
    ops = _ops_of(function)
    entries = [m for op in ops for m in CATALOGUE.get(op, ())] or [m for ms in CATALOGUE.values() for m in ms]
    says = next((m.says for m in entries if m.key == key), "")
    if not says:
        return key.replace("_", " ")
    first = says.split(": ", 1)[0]
    if len(first) <= SHORT:
        return first
    return says[:SHORT].rsplit(" ", 1)[0] + " ..."


def _count_samples(by_sample, result):
    """[passed, met] per sample: a function passes a sample when every check on it passes."""
    outcome = {}
    for check in result.get("checks", []):
        sample = sample_of(check["name"])
        if sample:
            outcome[sample] = outcome.get(sample, True) and bool(check["passed"])
    for sample, passed in outcome.items():
        by_sample[sample][0] += passed
        by_sample[sample][1] += 1


def _collect_failures(failures, name, report, result):
    for check in result.get("checks", []):
        if check.get("passed") or not check.get("fingerprint"):
            continue
        key = (result["name"], sample_of(check["name"]), quantity_of(check["name"]), check["fingerprint"])
        values = WORST.search(check.get("detail", ""))
        failures[key].append((name, report, values.groups() if values else ("?", "?")))


def _clusters(failures):
    """Students whose wrong outputs agree to 1e-9 and that no catalogue entry names: one cluster per
    function, quantity and group of students, with every sample on which they agree."""
    groups = {}
    for (function, sample, quantity, _), members in failures.items():
        if len(members) < 2:
            continue
        students = tuple(sorted(n for n, _, _ in members))
        groups.setdefault((function, quantity, students), []).append((sample, members))
    found = []
    for (function, quantity, students), by_sample in groups.items():
        by_sample.sort(key=lambda pair: pair[0])
        members = by_sample[0][1]
        sources = [_function_source(report, function) for _, report, _ in members]
        line = next((representative_line(s, quantity) for s in sources if s), "")
        same_code = len({"\n".join(s) for s in sources if s}) == 1 and all(sources)
        found.append(
            {
                "function": function,
                "sample": by_sample[0][0],
                "samples": [sample for sample, _ in by_sample],
                "quantity": quantity,
                "size": len(students),
                "students": [n for n, _, _ in members],
                "line": line,
                "got": members[0][2][0],
                "want": members[0][2][1],
                "identical_code": same_code,
            }
        )
    return sorted(found, key=lambda c: (-c["size"], c["function"], c["sample"]))


def class_page(named_reports, anonymise=None, title="gradref: what the class got wrong", similar=None):
    """The class page's HTML from (name, report) pairs; `anonymise`: the class's key for pseudonyms;
    `similar`: gradref similar's ranked pairs, whose first rows the page lists."""
    if anonymise:
        aliases = [pseudonym(n, anonymise) for n, _ in named_reports]
        named_reports = [
            (alias, {**r, "error": _scrubbed(str(r.get("error", "")), n, alias)})
            for alias, (n, r) in zip(aliases, named_reports)
        ]
    s = class_summary(named_reports)
    parts = [f"<h1>{_e(title)}</h1>", _overview(s)]
    if s["score_fractions"] or s["cannot_grade"]:
        chart = score_chart(s["score_fractions"], len(s["cannot_grade"]))
        parts.append(f"<h2>Scores</h2><figure>{chart}</figure>")
    rates = {f: c.get("pass", 0) / max(1, sum(c.values())) for f, c in s["functions"].items()}
    if rates:
        parts.append(f"<h2>Pass rate per function</h2><figure>{pass_rate_chart(rates)}</figure>")
    parts += [_functions_table(s), _samples_table(s), _clusters_section(s), _cannot_section(s)]
    if similar:
        parts.append(_similar_section(similar, anonymise))
    return _page(title, "\n".join(parts))


def _similar_section(pairs, key, most=10):
    """The pairs that share the rarest wrong results and the most code: evidence to weigh, not a verdict."""
    rows = []
    for p in pairs[:most]:
        a, b = (_shown(name, os.sep in name, key) for name in (p["a"], p["b"]))  # a public file: its path
        first = p["functions"][0] if p["functions"] else {}
        said = first.get("shared_result") or "matching code"
        rows.append(
            f'<tr><td>{_e(a)}</td><td>{_e(b)}</td><td class="num">{p["score"]:.1f}</td>'
            f"<td><code>{_e(first.get('name', ''))}</code>: {_e(said)}</td></tr>"
        )
    return (
        '<h2>Similar pairs</h2><p class="note">Pairs that share rare wrong results or code beyond the form '
        "every correct solution takes (gradref similar): evidence to look at, never a verdict.</p>"
        '<table id="similar"><tr><th>a</th><th>b</th><th>score</th><th>what they share most</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def _overview(s):
    elapsed = s["elapsed_s"]
    timing = (
        f"grading took {sum(elapsed):.1f} s in all, {max(elapsed):.1f} s at most for one submission"
        if elapsed
        else "no timings in these reports"
    )
    isolation = ", ".join(f"{n} in {_e(k)}" for k, n in sorted(s["isolation"].items())) or "none"
    return (
        f'<p id="overview"><span id="students">{s["students"]}</span> submissions; '
        f'<span id="graded">{len(s["score_fractions"])}</span> graded, '
        f'<span id="cannot">{len(s["cannot_grade"])}</span> could not be graded. Isolation: {isolation}. '
        f"{_e(timing)}.</p>"
    )


def _names(names, most=12):
    shown = ", ".join(_e(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _functions_table(s):
    rows = []
    for function, counts in s["functions"].items():
        met = sum(counts.values())
        mistakes = "".join(
            f'<li><span class="mistake" data-function="{_e(function)}" data-key="{_e(k)}" data-count="{len(v)}">'
            f'{_e(mistake_words(function, k))}</span><span class="key">{_e(k)}</span>: {len(v)} ({_names(v)})</li>'
            for k, v in s["mistakes"].get(function, {}).items()
        )
        warnings = "".join(
            f'<li class="warning" data-count="{len(v)}">{_e(k)}: {len(v)} student{"s" * (len(v) != 1)}</li>'
            for k, v in s["warnings"].get(function, {}).items()
        )
        rows.append(
            f'<tr data-function="{_e(function)}"><td><code>{_e(function)}</code></td>'
            f'<td class="num pass-count">{counts.get("pass", 0)}/{met}</td>'
            f"<td><ul>{mistakes}</ul></td><td><ul>{warnings}</ul></td></tr>"
        )
    return (
        '<h2>Per function</h2><table id="functions"><tr><th>function</th><th>passed</th>'
        "<th>named mistakes (students)</th><th>warnings</th></tr>" + "".join(rows) + "</table>"
    )


def _samples_table(s):
    rows = []
    for function, by_sample in s["samples"].items():
        cells = []
        for sample, (passed, met) in sorted(by_sample.items()):
            low = " low" if met and passed / met < 0.5 else ""
            cells.append(f'<span class="sample{low}">{_e(sample)}: {passed}/{met}</span>')
        rows.append(f"<tr><td><code>{_e(function)}</code></td><td>{' &middot; '.join(cells)}</td></tr>")
    return (
        '<h2>Where the class is fragile: pass rate per sample</h2><p class="note">k-dimensional x (kdim), '
        "N = 1 (n1), extreme values, the unseen values, non-square convolutions and pools; below half is "
        'marked.</p><table id="samples"><tr><th>function</th><th>samples (passed/met)</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def _clusters_section(s):
    if not s["clusters"]:
        return '<h2>Unexplained failures shared by several students</h2><p id="clusters">None.</p>'
    rows = []
    for c in s["clusters"]:
        hint = " <strong>identical code</strong>: worth a closer look" if c["identical_code"] else ""
        rows.append(
            f'<tr class="cluster" data-size="{c["size"]}" data-function="{_e(c["function"])}">'
            f"<td><code>{_e(c['function'])}</code></td><td>{_e(c['quantity'])}</td><td>{_e(', '.join(c['samples']))}</td>"
            f'<td class="num">{c["size"]}</td><td>{_names(c["students"])}{hint}</td>'
            f"<td><pre>{_e(c['line'] or '(source not available)')}</pre></td>"
            f"<td>got {_e(c['got'])}, want {_e(c['want'])}</td></tr>"
        )
    return (
        '<h2>Unexplained failures shared by several students</h2><p class="note">Wrong outputs that agree to '
        "1e-9 on every sample listed and that no catalogue entry names: candidates for new catalogue entries.</p>"
        '<table id="clusters"><tr><th>function</th><th>quantity</th><th>samples</th><th>students</th><th>who</th>'
        "<th>a line of their code</th><th>worst element</th></tr>" + "".join(rows) + "</table>"
    )


def _cannot_section(s):
    if not s["cannot_grade"]:
        return ""
    items = "".join(f"<li>{_e(n)}: {_e(e)}</li>" for n, e in s["cannot_grade"])
    return f'<h2>Could not be graded</h2><ul id="cannot-grade">{items}</ul>'


# ----- a student's page -----


def _scrubbed(text, name, alias):
    """Text with a student's name (and its stem) replaced by their pseudonym."""
    for found in dict.fromkeys((name, os.path.splitext(name)[0])):
        if len(found) > 2:
            text = text.replace(found, alias)
    return text


def student_page(name, report, anonymise=None):
    """One student's page: the verdict table, and a heat map per failing quantity; `anonymise`: the
    class's key for pseudonyms."""
    if anonymise:
        alias = pseudonym(name, anonymise)
        report = {
            **report,
            "error": _scrubbed(str(report.get("error", "")), name, alias),
            "results": [
                {**r, "message": _scrubbed(r.get("message", ""), name, alias)} for r in report.get("results", [])
            ],
        }
        name = alias
    if "results" not in report:
        body = f"<h1>gradref: {_e(name)}</h1><p>could not be graded: {_e(report.get('error', ''))}</p>"
        return _page(f"gradref: {name}", body)
    rows = []
    absent = [r["name"] for r in report["results"] if r["status"] == "missing" and r.get("message") == "not defined"]
    for result in report["results"]:
        if result["name"] in absent:
            continue
        points = f"{result['points']:g}/{result['max_points']:g}" if "points" in result else ""
        rows.append(
            f'<tr data-function="{_e(result["name"])}"><td><code>{_e(result["name"])}</code></td>'
            f'<td class="{_e(result["status"])}">{_e(result["status"])}</td><td class="num">{points}</td>'
            f"<td>{_e(result.get('message', ''))}{_key_labels(result)}</td></tr>"
        )
    if absent:
        rows.append(
            f'<tr><td>{len(absent)} not defined</td><td class="missing">missing</td><td></td>'
            f"<td>{_e(', '.join(absent))}</td></tr>"
        )
    maps = []
    for result in report["results"]:
        if result["status"] == "pass":
            continue
        where = result.get("where")
        if isinstance(where, dict):
            place = (
                f"cell {where['cell']}, line {where.get('line')}" if "cell" in where else f"line {where.get('line')}"
            )
            maps.append(
                f'<p class="where">{_e(result["name"])}: {_e(place)} of {_e(where.get("file", ""))}: '
                f"<code>{_e(where.get('code', ''))}</code></p>"
            )
        for heat in filter(_worth_a_map, result.get("heatmaps", [])):
            caption = f"{result['name']}: {heat['quantity']} on sample {heat['sample']} (shape {tuple(heat['shape'])})"
            maps.append(f'<figure class="heatmap">{heatmap_chart(heat)}<figcaption>{_e(caption)}</figcaption></figure>')
    score = f"score {report['score']:g} of {report['max_score']:g}" if "max_score" in report else ""
    body = (
        f"<h1>gradref: {_e(name)}</h1><p>{_e(score)}; isolation: {_e(report.get('isolation', '?'))}</p>"
        '<table id="verdicts"><tr><th>function</th><th>verdict</th><th>points</th><th>what is wrong</th></tr>'
        + "".join(rows)
        + "</table>"
        + (
            '<h2>Where it is wrong</h2><p class="note">|got - want| per element for the first sample each '
            "quantity failed on, relative to the largest right value (images and sequences: the largest over "
            "the batch and channels).</p>" + "".join(maps)
            if maps
            else ""
        )
    )
    return _page(f"gradref: {name}", body)


def _key_labels(result):
    """The catalogue keys of a failing function's named mistakes, as small labels for staff."""
    if result.get("status") == "pass":
        return ""
    keys = named_mistakes(result)
    return "".join(f'<span class="key">{_e(k)}</span>' for k in keys)


def _worth_a_map(heat):
    """A heat map shows where an array is wrong; a scalar (a loss) has nowhere to show."""
    shape = tuple(heat.get("shape") or ())
    return heat.get("quantity") != "loss" and len(shape) > 0 and math.prod(shape) > 1


# ----- the similarity page (gradref similar) -----

SIDE_BY_SIDE = (
    "<style>.pair { display: flex; gap: 1em; } .pair pre { flex: 1; background: #f7f7f7; padding: .5em; "
    "overflow-x: auto; font-size: .85em; } mark { background: #ffe08a; }</style>"
)


def _shown(name, public, key):
    return name if public or key is None else pseudonym(name, key)


def _code_with_marks(document, function, lines):
    """A function's source, each line that holds a shared fingerprint marked."""
    if document is None or function not in document.sources:
        return "<pre>(not in this submission)</pre>"
    source, first = document.sources[function]
    marked = set(lines)
    rows = []
    for number, text in enumerate(source.splitlines(), first):
        row = f"{number:4d}  {_e(text)}"
        rows.append(f"<mark>{row}</mark>" if number in marked else row)
    return "<pre>" + "\n".join(rows) + "</pre>"


SPREAD = {  # a pair's reading (gradref.similarity.reading), in words
    "whole": "The evidence is spread over the ops both wrote.",
    "part": "The evidence is in one or a few of the ops both wrote; the others look written apart.",
}


def similar_page(pairs, documents, key=None):
    """Pairs ranked by shared wrong results and shared code, each with the functions that drive it:
    the shared result in words and both versions side by side, the matching lines marked."""
    rows, details = [], []
    for rank, p in enumerate(pairs, 1):
        a_public, b_public = documents[p["a"]].public, documents[p["b"]].public
        a, b = _shown(p["a"], a_public, key), _shown(p["b"], b_public, key)
        rows.append(
            f'<tr><td class="num">{rank}</td><td>{_e(a)}</td><td>{_e(b)}</td><td class="num">{p["score"]:.1f}</td>'
            f'<td class="num">{p["behaviour"]:.1f}</td><td class="num">{p["code"]:.1f}</td></tr>'
        )
        parts = [f'<h3 id="pair-{rank}">{rank}. {_e(a)} and {_e(b)}</h3><p>{_e(SPREAD[p["reading"]])}</p>']
        for f in p["functions"][:3]:
            said = f["shared_result"] or "no shared wrong result"
            parts.append(
                f"<p><code>{_e(f['name'])}</code>: {_e(said)}; code weight {f['code']:.1f}</p>"
                f'<div class="pair">{_code_with_marks(documents[p["a"]], f["name"], f["lines"].get(p["a"], []))}'
                f"{_code_with_marks(documents[p['b']], f['name'], f['lines'].get(p['b'], []))}</div>"
            )
        details.append("".join(parts))
    body = (
        SIDE_BY_SIDE + "<h1>gradref similar: pairs to look at</h1>"
        '<p class="note">Evidence for a person to weigh, never a verdict: a rare wrong result shared by two '
        "students, or code that matches beyond the form every correct solution takes. The score is in bits: "
        "the evidence read over all the ops both wrote, or over the few that carry it, whichever says more.</p>"
        '<table id="pairs"><tr><th>rank</th><th>a</th><th>b</th><th>score</th><th>shared wrong results</th>'
        "<th>shared code</th></tr>" + "".join(rows) + "</table>" + "".join(details)
    )
    return _page("gradref similar", body)
