"""Answers looked up instead of computed: the public samples can be drawn by anyone, so each graded
function also meets one sample drawn from a secret seed (gradref/grade/judging/unseen.py)."""

import hashlib
import json
import os
import stat

import numpy as np
import pytest

from conformance.registry import REGISTRY
from gradref.grade import Options, grade_file
from gradref.grade.judging import unseen
from gradref.grade.judging.answers import oracle_answers, unseen_twin
from gradref.grade.judging.grader import SKIPPED_SAMPLES

FAST = Options(timeout=5.0, memory_mb=800)
KNOWN, SECRET = 4242, 777001

LOOKUP = """
import hashlib
import numpy as np

TABLE = {TABLE}

def _key(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    found = TABLE.get(_key(dout))
    return np.array(found) if found is not None else np.zeros_like(dout)   # no formula at all
"""


def _key(array):
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float64).tobytes()).hexdigest()


def lookup_submission(path):
    """relu_backward as a table of the right answers for every public sample and for the unseen
    sample of the seed KNOWN: what a student could build offline with JAX, or with values an earlier
    report printed."""
    op = REGISTRY["relu"]
    names = [s.name for s in op.samples if s.name not in SKIPPED_SAMPLES and s.graded]
    table = {}
    for name, seed in [(n, 0) for n in names] + [(names[0], KNOWN)]:
        _, _, want_grads, dout = oracle_answers("relu", name, seed)
        table[_key(dout)] = np.asarray(want_grads[0]).tolist()
    path.write_text(LOOKUP.replace("{TABLE}", json.dumps(table)))
    return str(path)


def verdicts(path, seed):
    report = grade_file(path, Options(**{**FAST.__dict__, "unseen_secret": seed}))
    return {r["name"]: r for r in report["results"]}


def test_a_table_of_answers_passes_the_public_samples_but_not_unseen_values(tmp_path, monkeypatch):
    path = lookup_submission(tmp_path / "lookup.py")
    with monkeypatch.context() as known:
        known.setattr(unseen, "submission_seed", lambda secret, folder: KNOWN)  # values the table holds
        assert verdicts(path, SECRET)["relu_backward"]["status"] == "pass"  # so the table is complete
    caught = verdicts(path, SECRET)["relu_backward"]
    assert caught["status"] == "fail" and "unseen values" in caught["message"]


def test_the_unseen_values_follow_the_file_and_the_secret(tmp_path):
    """A regrade meets the same values; an edited file (one that adds what the last report printed)
    and another machine meet others."""
    (tmp_path / "layers.py").write_text("x = 1\n")
    first = unseen.submission_seed(SECRET, str(tmp_path))
    assert unseen.submission_seed(SECRET, str(tmp_path)) == first
    assert unseen.submission_seed(SECRET + 1, str(tmp_path)) != first
    (tmp_path / "layers.py").write_text("x = 2\n")
    assert unseen.submission_seed(SECRET, str(tmp_path)) != first


def test_the_machine_seed_is_kept_private_and_stable(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADREF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADREF_UNSEEN_SEED", raising=False)
    first = unseen.machine_secret()
    assert first > 0 and unseen.machine_secret() == first
    assert stat.S_IMODE(os.stat(tmp_path / "cache" / unseen.FILE).st_mode) == 0o600
    monkeypatch.setenv("GRADREF_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert unseen.machine_secret() != first  # another machine, another seed
    monkeypatch.setenv("GRADREF_UNSEEN_SEED", "31337")
    assert unseen.machine_secret() == 31337  # staff can share one


@pytest.mark.parametrize("course_file", ["staff_a2.py", "layers_student.py"])
def test_correct_course_code_passes_whatever_the_secret(course_file):
    path = os.path.join(os.path.dirname(__file__), "course", course_file)
    for seed in (1, 987654321):
        failed = [r["name"] for r in verdicts(path, seed).values() if r["status"] not in ("pass", "missing")]
        assert failed == [], (seed, failed)


def test_a_bad_named_seed_is_a_usage_error(monkeypatch, capsys):
    from gradref.cli import main

    monkeypatch.setenv("GRADREF_UNSEEN_SEED", "abc")
    assert main(["grade", os.path.join(os.path.dirname(__file__), "course", "staff_a2.py")]) == 2
    assert "GRADREF_UNSEEN_SEED must be a positive integer" in capsys.readouterr().err


@pytest.mark.parametrize("op_name", sorted(REGISTRY))
def test_every_functions_unseen_sample_has_values_of_its_own(op_name):
    names = tuple(s.name for s in REGISTRY[op_name].samples if s.name not in SKIPPED_SAMPLES and s.graded)
    twin = unseen_twin(op_name, names)
    public, secret = oracle_answers(op_name, twin, 0)[0], oracle_answers(op_name, twin, SECRET)[0]
    arrays = lambda sample: [a for a in sample.args.values() if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    # The inputs themselves, not only dout: dout times a table of local gradients would still be right.
    assert any(not np.array_equal(a, b) for a, b in zip(arrays(public), arrays(secret)))
