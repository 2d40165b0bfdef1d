"""Feedback levels: how much of a diagnosis a student sees, set per assignment and unlocked step by step.

- verdict: whether each function passes, and nothing of what is wrong;
- hint: what is wrong and in which quantity ("dx misses the path through the variance"), where the
  code raised, and the values at the worst element, but not the formula;
- full: everything, the line of the formula to look at included.

An assignment's `[feedback]` table sets the level of a first attempt and what unlocks the next ones:
a number of earlier attempts (the platform tells it: Gradescope's submission metadata lists the
previous submissions, PrairieLearn's data.json the attempt) or a date. The platform bundles default
to "hint"; the local command line to "full", for people learning on their own. A hidden function's
message is always at the verdict level: it never leaks values.
"""

import datetime
import json
import os

VERDICT, HINT, FULL = "verdict", "hint", "full"
LEVELS = (VERDICT, HINT, FULL)
PLATFORM_DEFAULT = HINT
KEYS = {"level": str, "hint_after_attempts": int, "full_after_attempts": int, "full_after": datetime.date}


def check(table, where):
    """The spec's [feedback] table, or ValueError with one sentence."""
    for key, value in table.items():
        kind = KEYS.get(key)
        if kind is None or not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{where}: [feedback] knows {', '.join(KEYS)}, not {key} = {value!r}")
    if table.get("level", PLATFORM_DEFAULT) not in LEVELS:
        raise ValueError(f"{where}: [feedback] level must be one of {', '.join(LEVELS)}")
    if isinstance(table.get("full_after"), datetime.datetime):  # a TOML date-time: its day
        table = {**table, "full_after": table["full_after"].date()}
    return table


def level_for(table, attempts=0, today=None):
    """The level a submission gets: the table's first-attempt level, raised by what earlier attempts
    or the date unlock."""
    level = table.get("level", PLATFORM_DEFAULT)
    today = today or datetime.date.today()
    if "hint_after_attempts" in table and attempts >= table["hint_after_attempts"]:
        level = max(level, HINT, key=LEVELS.index)
    if ("full_after_attempts" in table and attempts >= table["full_after_attempts"]) or (
        "full_after" in table and today >= table["full_after"]
    ):
        level = FULL
    return level


def earlier_attempts(root):
    """How many times this student submitted before, where the platform says so (else 0): Gradescope's
    submission_metadata.json, PrairieLearn's data/data.json."""
    for name, read in (
        ("submission_metadata.json", lambda data: len(data.get("previous_submissions") or [])),
        (os.path.join("data", "data.json"), _prairielearn_attempts),
    ):
        try:
            with open(os.path.join(root, name)) as handle:
                return max(0, int(read(json.load(handle))))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return 0


def _prairielearn_attempts(data):
    for holder in (data, data.get("submission") or {}, data.get("variant") or {}):
        for key in ("num_attempts", "attempt", "attempts"):
            if isinstance(holder.get(key), int):
                return max(0, holder[key] - (key == "attempt"))  # "attempt" counts this one
    raise ValueError("no attempt count")


def render(result, level):
    """A result's message and diagnosis at `level` (the report of a full-level run is the input)."""
    if level == FULL or result["status"] in ("pass", "missing"):
        return result
    if level == VERDICT:
        failed = sum(not c["passed"] for c in result.get("checks", []))
        total = len(result.get("checks", []))
        message = f"{result['status']}: {failed} of {total} checks did not pass" if total else result["status"]
        plain = {k: v for k, v in result.items() if k != "where"}  # the line pointed at is a diagnosis too
        return {**plain, "message": message, "diagnosis": [], "feedback": VERDICT}
    strip = [f" Look at: {formula}." for formula in result.get("formulas", [])]
    strip += [f"Look at: {formula}." for formula in result.get("formulas", [])]  # a warning may start with it
    message, diagnosis = result["message"], list(result.get("diagnosis", []))
    warnings = list(result.get("warnings", []))
    for text in strip:
        message = message.replace(text, "")
        diagnosis = [d.replace(text, "") for d in diagnosis]
        warnings = [w.replace(text, "") for w in warnings]
    return {**result, "message": message, "diagnosis": diagnosis, "warnings": warnings, "feedback": HINT}


def apply(report, level, hidden=()):
    """The report with every result's feedback at `level` (hidden functions at the verdict level)."""
    results = [render(r, VERDICT if r["name"] in hidden else level) for r in report["results"]]
    return {**report, "results": results, "feedback": level}
