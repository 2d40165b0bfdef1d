"""Points: all or nothing per function by default; a teacher-set share for named near-misses; warnings
never earn points for a function that fails its ordinary samples; published-only answers earn nothing."""

import numpy as np
import pytest

from gradref.grade import Options, grade_file
from gradref.grade.course import assignments

BASE = """
import numpy as np

def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)

def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, DB

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache MASK 0)
"""
RIGHT = BASE.replace("DB", "dout.sum(axis=0)").replace("MASK", ">")
DB_KEEPDIMS = RIGHT.replace("dout.sum(axis=0)", "dout.sum(axis=0, keepdims=True)")  # right values, (1, M)
MASK_WRONG_SIDE = RIGHT.replace("(cache > 0)", "(cache < 0)")
SPEC = """
name = "points-test"
convention = "cs231n"
functions = [
  {{ name = "affine_forward", points = 1 }},
  {{ name = "affine_backward", points = 2 }},
  {{ name = "relu_forward", points = 1 }},
  {{ name = "relu_backward", points = 2 }},
]
{extra}
"""


def grade(tmp_path, source, extra=""):
    path, spec_path = tmp_path / "layers.py", tmp_path / "spec.toml"
    path.write_text(source)
    spec_path.write_text(SPEC.format(extra=extra))
    spec = assignments.load(str(spec_path))
    options = assignments.apply(spec, Options(timeout=10.0, memory_mb=1024, sandbox="process", assignment=spec))
    report = grade_file(str(path), options)
    return report, {r["name"]: r for r in report["results"]}


def test_a_passing_function_earns_its_points_and_a_failing_one_nothing(tmp_path):
    report, results = grade(tmp_path, MASK_WRONG_SIDE)
    assert results["relu_backward"]["status"] == "fail" and results["relu_backward"]["points"] == 0.0
    assert results["relu_forward"]["points"] == 1.0 and report["score"] == 4.0 and report["max_score"] == 6.0


def test_right_values_in_the_wrong_shape_earn_nothing_by_default_and_the_set_share_when_asked(tmp_path):
    _, plain = grade(tmp_path, DB_KEEPDIMS)
    assert plain["affine_backward"]["near_miss"] == "shape_only" and plain["affine_backward"]["points"] == 0.0
    _, shared = grade(tmp_path, DB_KEEPDIMS, "[near_miss]\nshape_only = 0.5")
    assert shared["affine_backward"]["points"] == 1.0
    assert "the values are right, the shape is wrong" in shared["affine_backward"]["message"]


def test_a_wrong_value_is_no_near_miss(tmp_path):
    _, results = grade(tmp_path, MASK_WRONG_SIDE, "[near_miss]\nshape_only = 0.5\nkdim_only = 0.5")
    assert results["relu_backward"]["near_miss"] == "" and results["relu_backward"]["points"] == 0.0


def test_warnings_earn_a_share_only_when_every_ordinary_check_passed(tmp_path):
    writes = RIGHT.replace("return dout * (cache > 0)", "dout[cache <= 0] = 0\n    return dout")
    _, results = grade(tmp_path, writes, "[settings]\nstrict = true\n[near_miss]\nwarnings_only = 0.75")
    assert results["relu_backward"]["near_miss"] == "warnings_only" and results["relu_backward"]["points"] == 1.5
    wrong_and_writing = writes.replace("cache <= 0", "cache >= 0")
    _, results = grade(tmp_path, wrong_and_writing, "[settings]\nstrict = true\n[near_miss]\nwarnings_only = 0.75")
    assert results["relu_backward"]["points"] == 0.0


@pytest.mark.parametrize("table", ["[near_miss]\nshape_only = 2", "[near_miss]\nclose_enough = 0.5", "near_miss = 1"])
def test_a_bad_near_miss_table_is_one_sentence(tmp_path, table):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(extra=table))
    with pytest.raises(assignments.SpecError, match="near_miss"):
        assignments.load(str(path))


def test_the_shapes_error_says_the_shape_is_the_problem():
    from conformance import tolerance

    same = tolerance.compare("db", np.ones((1, 3)), np.ones(3), 1e-5, "float64")
    other = tolerance.compare("db", 2 * np.ones((1, 3)), np.ones(3), 1e-5, "float64")
    assert same.describe() == "db.shape=(1, 3), want (3,): the values are right, the shape is wrong"
    assert "the values are wrong too" in other.describe() and not other.values_right
