"""Grading reports: Gradescope's results.json, the batch summary CSV and the gradebook, and report names."""

import csv
import hashlib
import io
import os
import re

from ...text import clean, csv_cell
from ..judging.verdict import PASS, defined_as_said

MAX_NAME = 100  # characters of a submission's name kept in its report's name

SUMMARY_COLUMNS = (
    "submission",
    "report",
    "status",
    "convention",
    "score",
    "max_score",
    "pass",
    "fail",
    "error",
    "timeout",
    "missing",
    "message",
)


def _said(entry):
    """A test's output: its message, and for a function not defined, the near name the files define."""
    said = entry["message"] or entry["status"]
    if entry.get("defined_as"):
        said += f" ({defined_as_said(entry['defined_as'])})"
    return said


def gradescope(result, execution_time=None):
    """Gradescope's results.json: one test per function of the assignment, with its points."""
    tests = []
    for entry in result["results"]:
        if entry.get("max_points", 1.0) == 0 and entry["status"] == "missing":
            continue
        passed = entry["status"] == PASS
        tests.append(
            {
                "name": entry["name"],
                "score": entry.get("points", 1.0 if passed else 0.0),
                "max_score": entry.get("max_points", 1.0),
                "status": "passed" if passed else "failed",
                "output": clean(_said(entry), 8000),
                "visibility": "after_published" if entry.get("hidden") else "visible",
            }
        )
    output = (
        f"gradref: {sum(t['status'] == 'passed' for t in tests)} of {len(tests)} functions pass"
        f"{' (assignment ' + result['assignment'] + ')' if result.get('assignment') else ''}. "
        f"Limits: {result['limits']['timeout_s']:g} s per call, {result['limits']['memory_mb']} MB; "
        f"{result['isolation_note']}."
    )
    report = {
        "score": result.get("score", sum(t["score"] for t in tests)),
        "max_score": result.get("max_score", sum(t["max_score"] for t in tests)),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if execution_time is not None:
        report["execution_time"] = round(execution_time, 1)
    return report


def gradescope_error(message, max_score=0.0):
    """A Gradescope result for a submission that could not be graded at all."""
    return {
        "score": 0.0,
        "max_score": max_score,
        "output": f"gradref could not grade this submission: {clean(message)}",
        "visibility": "visible",
        "tests": [],
    }


def report_name(path):
    """The file name of one submission's report: its own name (a file's extension kept, so `mary.py`
    and the folder `mary/` differ), made safe; where making it safe or short changed it, a hash of the
    original name follows, so two submissions never share a report and a name never outgrows the
    file system."""
    name = os.path.basename(os.path.normpath(path))
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"
    if safe != name or len(safe) > MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        safe = f"{safe[:MAX_NAME]}-{digest}"
    return f"{safe}.json"


def summary_row(path, result=None, error="", max_score=""):
    """One row of summary.csv; a submission that could not be graded still says what it was out of."""
    counts = (result or {}).get("summary", {})
    status = "cannot grade" if error else ("pass" if result["passed"] else "fail")
    return {
        "submission": clean(os.path.basename(path), 300),
        "report": report_name(path),
        "status": status,
        "convention": (result or {}).get("convention", ""),
        "score": (result or {}).get("score", 0.0),
        "max_score": (result or {}).get("max_score", max_score),
        **{k: counts.get(k, 0) for k in ("pass", "fail", "error", "timeout", "missing")},
        "message": error,
    }


def required_points(spec):
    """What a submission is out of before it is graded: the required functions' points ("" without a spec)."""
    return sum(i.points for i in spec.items if i.required) if spec else ""


def gradebook_csv(graded_reports, spec=None):
    """One row per student: submission, score, max_score, then the points of each function."""
    names = (
        [i.name for i in spec.items]
        if spec
        else list(dict.fromkeys(r["name"] for graded in graded_reports.values() if graded for r in graded["results"]))
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "score", "max_score", *names])
    default_max = required_points(spec)
    for path, graded in graded_reports.items():
        points = {r["name"]: r.get("points", 0.0) for r in (graded or {}).get("results", [])}
        writer.writerow(
            [
                csv_cell(os.path.basename(path)),
                (graded or {}).get("score", 0.0),
                (graded or {}).get("max_score", default_max),
                *(points.get(n, 0.0) for n in names),
            ]
        )
    return buffer.getvalue()


def summary_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS)
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()
