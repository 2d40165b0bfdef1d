"""Feedback levels: verdict, hint and full, set per assignment and unlocked by attempts or a date."""

import datetime
import json
import os

import pytest

from gradref.grade import Options, grade_file
from gradref.grade.course import assignments
from gradref.grade.explain import feedback
from gradref.grade.front import platforms

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
BUGGY = os.path.join(EXAMPLES, "layers_buggy.py")
FORMULA = "Look at: db = np.sum(dout, axis=0)"
SAYS = "db keeps the shape (1, M)"


@pytest.fixture(scope="module")
def full_report():
    return grade_file(BUGGY, Options(timeout=10.0, sandbox="process"))


def backward(report):
    return next(r for r in report["results"] if r["name"] == "affine_backward")


def test_full_names_the_formula_hint_the_mistake_only_verdict_nothing(full_report):
    full = backward(full_report)
    assert FORMULA in full["message"] and SAYS in full["message"]
    hint = backward(feedback.apply(full_report, feedback.HINT))
    assert SAYS in hint["message"] and "Look at:" not in hint["message"]
    assert all("Look at:" not in d for d in hint["diagnosis"]) and hint["diagnosis"]
    verdict = backward(feedback.apply(full_report, feedback.VERDICT))
    assert verdict["message"].startswith("fail: ") and SAYS not in verdict["message"] and verdict["diagnosis"] == []


def test_a_hidden_function_stays_at_the_verdict_level(full_report):
    shown = feedback.apply(full_report, feedback.FULL, hidden=("affine_backward",))
    assert backward(shown)["message"].startswith("fail: ") and "got" not in backward(shown)["message"]


def test_grading_at_a_level_gives_that_report():
    report = grade_file(BUGGY, Options(timeout=10.0, sandbox="process", feedback=feedback.HINT))
    assert report["feedback"] == "hint" and "Look at:" not in json.dumps([r["message"] for r in report["results"]])


@pytest.mark.parametrize(
    "table, attempts, today, level",
    [
        ({}, 0, None, "hint"),
        ({"level": "verdict", "hint_after_attempts": 1, "full_after_attempts": 3}, 0, None, "verdict"),
        ({"level": "verdict", "hint_after_attempts": 1, "full_after_attempts": 3}, 1, None, "hint"),
        ({"level": "verdict", "hint_after_attempts": 1, "full_after_attempts": 3}, 3, None, "full"),
        ({"level": "hint", "full_after": datetime.date(2026, 12, 15)}, 0, datetime.date(2026, 12, 14), "hint"),
        ({"level": "hint", "full_after": datetime.date(2026, 12, 15)}, 0, datetime.date(2026, 12, 15), "full"),
    ],
)
def test_the_ladder(table, attempts, today, level):
    assert feedback.level_for(table, attempts, today) == level


def test_earlier_attempts_as_the_platforms_tell_them(tmp_path):
    assert feedback.earlier_attempts(str(tmp_path)) == 0
    (tmp_path / "submission_metadata.json").write_text(json.dumps({"previous_submissions": [{}, {}]}))
    assert feedback.earlier_attempts(str(tmp_path)) == 2
    other = tmp_path / "pl"
    (other / "data").mkdir(parents=True)
    (other / "data" / "data.json").write_text(json.dumps({"submission": {"attempt": 4}}))
    assert feedback.earlier_attempts(str(other)) == 3


SPEC = """
name = "ladder"
convention = "cs231n"
functions = [{ name = "affine_forward" }, { name = "affine_backward", points = 2 }]
[feedback]
level = "hint"
full_after_attempts = 2
"""


def test_a_platform_run_unlocks_the_formula_after_the_set_attempts(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "assignment.toml").write_text(SPEC)
    (root / "submission").mkdir()
    with open(BUGGY) as handle:
        (root / "submission" / "layers.py").write_text(handle.read())
    outputs = []
    for previous in (0, 2):
        (root / "submission_metadata.json").write_text(json.dumps({"previous_submissions": [{}] * previous}))
        platforms.run_gradescope(str(root), Options(timeout=10.0))
        data = json.loads((root / "results" / "results.json").read_text())
        outputs.append(next(t for t in data["tests"] if t["name"] == "affine_backward")["output"])
    assert SAYS in outputs[0] and "Look at:" not in outputs[0]
    assert FORMULA in outputs[1]


@pytest.mark.parametrize("table", ['level = "everything"', "full_after_attempts = 1.5", "unlock = 3"])
def test_a_bad_feedback_table_is_one_sentence(tmp_path, table):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.split("[feedback]")[0] + "[feedback]\n" + table + "\n")
    with pytest.raises(assignments.SpecError, match="feedback"):
        assignments.load(str(path))


def test_a_date_time_unlocks_from_its_day(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.split("[feedback]")[0] + "[feedback]\nfull_after = 2026-12-15T08:00:00\n")
    spec = assignments.load(str(path))
    assert feedback.level_for(spec.feedback, 0, datetime.date(2026, 12, 15)) == "full"


def test_feedback_as_a_plain_level(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('feedback = "verdict"\n' + SPEC.split("[feedback]")[0])
    assert feedback.level_for(assignments.load(str(path)).feedback, attempts=5) == "verdict"
    path.write_text('feedback = "loud"\n' + SPEC.split("[feedback]")[0])
    with pytest.raises(assignments.SpecError, match="level must be one of"):
        assignments.load(str(path))
