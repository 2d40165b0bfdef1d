"""`gradref grade`: conventions, the diagnosis of each common mistake, hostile submissions, the CLI."""

import csv
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import pytest

from gradref.cli import main
from gradref.grade import Options, grade_file

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
FAST = Options(timeout=3.0, memory_mb=600)

AFFINE = """
import numpy as np

def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)

def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
"""

RELU = """
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0)
"""


def submission(tmp_path, source, name="student.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def verdicts(result):
    return {r["name"]: r for r in result["results"] if r["status"] != "missing"}


# ----- conventions -----


def test_a_correct_cs231n_file_passes_every_function():
    result = grade_file(os.path.join(EXAMPLES, "layers_correct.py"), FAST)
    assert result["convention"] == "cs231n" and result["passed"]
    assert set(verdicts(result)) == {
        "affine_forward",
        "affine_backward",
        "relu_forward",
        "relu_backward",
        "sigmoid_forward",
        "sigmoid_backward",
        "tanh_forward",
        "tanh_backward",
        "affine_relu_forward",
        "affine_relu_backward",
        "softmax_loss",
        "svm_loss",
    }


def test_textbook_layer_classes_are_graded():
    result = grade_file(os.path.join(EXAMPLES, "textbook_layers.py"), FAST)
    assert result["convention"] == "layers" and result["passed"]
    assert set(verdicts(result)) == {"Affine", "Relu", "Sigmoid", "Tanh", "SoftmaxWithLoss"}
    assert result["score"] == result["max_score"] == 5.0  # the shipped correct example is whole


def test_a_layer_whose_backward_keeps_dw_in_a_local_is_told_to_store_it_on_the_layer(tmp_path):
    with open(os.path.join(EXAMPLES, "textbook_layers.py")) as handle:
        text = handle.read()
    assert "        self.dW = self.x.T @ dout\n" in text
    path = tmp_path / "layers.py"
    path.write_text(text.replace("        self.dW = self.x.T @ dout\n", "        dW = self.x.T @ dout\n"))
    affine = verdicts(grade_file(str(path), dataclasses.replace(FAST, only=("Affine",))))["Affine"]
    assert affine["status"] == "fail" and affine["mistakes"] == ["attribute_not_set"], affine["message"]
    assert "backward never sets self.dW (the layer's dw)" in affine["message"]


def test_textbook_relu_that_zeroes_dout_in_place_passes_with_a_warning_and_fails_strict(tmp_path):
    path = submission(
        tmp_path,
        """
        class Relu:
            def forward(self, x):
                self.mask = x <= 0
                out = x.copy()
                out[self.mask] = 0
                return out
            def backward(self, dout):
                dout[self.mask] = 0
                return dout
    """,
    )
    relu = verdicts(grade_file(path, FAST))["Relu"]
    assert relu["status"] == "pass" and "Relu.backward writes into dout" in relu["message"]
    strict = verdicts(grade_file(path, Options(timeout=3.0, memory_mb=600, strict=True)))["Relu"]
    assert strict["status"] == "fail" and "Relu.backward writes into dout" in strict["message"]


def test_missing_functions_do_not_fail_unless_required(tmp_path):
    path = submission(tmp_path, RELU)
    assert grade_file(path, FAST)["passed"]
    result = grade_file(path, Options(timeout=3.0, memory_mb=600, require=("affine_backward",)))
    assert not result["passed"]
    assert next(r for r in result["results"] if r["name"] == "affine_backward")["status"] == "missing"


def test_only_grades_the_functions_it_names_and_refuses_an_unknown_name(tmp_path, capsys):
    path = submission(tmp_path, RELU + AFFINE.replace("dout.sum(axis=0)", "dout.sum(axis=1)"))
    everything = {r["name"] for r in grade_file(path, FAST)["results"] if r["status"] != "missing"}
    assert {"relu_backward", "affine_backward"} <= everything
    only = grade_file(path, dataclasses.replace(FAST, only=("relu_backward",)))["results"]
    assert {r["name"] for r in only} == {"relu_forward", "relu_backward"} and all(r["status"] == "pass" for r in only)
    assert main(["grade", path, "--only", "affine_backward"]) == 1  # just the wrong one
    assert main(["grade", path, "--only", "relu_backwards"]) == 2
    assert "--only 'relu_backwards' is not a gradable name; did you mean relu_backward" in capsys.readouterr().err


def test_the_cache_stays_opaque(tmp_path):
    path = submission(
        tmp_path,
        RELU.replace("return np.maximum(x, 0), x", "return np.maximum(x, 0), (lambda: x)").replace(
            "(cache > 0)", "(cache() > 0)"
        ),
    )
    assert grade_file(path, FAST)["passed"]


# ----- the diagnosis of each common mistake -----

MISTAKES = [
    (
        "transpose",
        AFFINE.replace("x.reshape(x.shape[0], -1).T @ dout", "(dout.T @ x.reshape(x.shape[0], -1)).T.T"),
        "affine_backward",
        "dw_transposed",
    ),
    (
        "bias (1, M)",
        AFFINE.replace("dout.sum(axis=0)", "dout.sum(axis=0, keepdims=True)"),
        "affine_backward",
        "db_keepdims",
    ),
    (
        "dx not reshaped",
        AFFINE.replace("(dout @ w.T).reshape(x.shape)", "dout @ w.T"),
        "affine_backward",
        "dx_not_reshaped",
    ),
    (
        "sign flipped",
        RELU.replace("return dout * (cache > 0)", "return -dout * (cache > 0)"),
        "relu_backward",
        "generic",
    ),
    ("mask on the wrong side", RELU.replace("(cache > 0)", "(cache < 0)"), "relu_backward", "mask_wrong_side"),
    (
        "sigmoid from x",
        """
        import numpy as np
        def sigmoid_forward(x):
            return 1 / (1 + np.exp(-x)), x
        def sigmoid_backward(dout, cache):
            return dout * cache * (1 - cache)
     """,
        "sigmoid_backward",
        "derivative_from_x",
    ),
    (
        "missing 1/N",
        """
        import numpy as np
        def softmax_loss(x, y):
            s = x - x.max(axis=1, keepdims=True)
            p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
            n = len(y)
            dx = p.copy(); dx[np.arange(n), y] -= 1
            return -np.log(p[np.arange(n), y]).mean(), dx
     """,
        "softmax_loss",
        "no_1_over_n",
    ),
    (
        "extra 1/N",
        """
        import numpy as np
        def softmax_loss(x, y):
            s = x - x.max(axis=1, keepdims=True)
            logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            n = len(y)
            dx = np.exp(logp); dx[np.arange(n), y] -= 1
            return -logp[np.arange(n), y].mean(), dx / n / n
     """,
        "softmax_loss",
        "double_1_over_n",
    ),
    (
        "steps in the wrong order",
        AFFINE
        + RELU
        + textwrap.dedent("""
        def affine_relu_forward(x, w, b):
            a, fc = affine_forward(x, w, b)
            out, rc = relu_forward(a)
            return out, (fc, rc)
        def affine_relu_backward(dout, cache):
            fc, rc = cache
            dx, dw, db = affine_backward(dout, fc)
            return relu_backward(dx, rc), dw, db
     """),
        "affine_relu_backward",
        "wrong_order",
    ),
]


@pytest.mark.parametrize("label,source,function,hint", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_common_mistake_is_named(tmp_path, label, source, function, hint):
    result = verdicts(grade_file(submission(tmp_path, source), FAST))[function]
    assert result["status"] in ("fail", "error"), result
    assert hint in result["mistakes"], (result["mistakes"], result["diagnosis"])
    assert result["message"].startswith("Likely mistake:")


NAIVE_SOFTMAX = """
import numpy as np
def softmax_loss(x, y):
    e = np.exp(x)
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    dx = p.copy(); dx[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), dx / n
"""


def test_softmax_that_overflows_only_at_extreme_scores_is_a_warning_unless_strict(tmp_path):
    path = submission(tmp_path, NAIVE_SOFTMAX)
    loose = verdicts(grade_file(path, FAST))["softmax_loss"]
    assert loose["status"] == "pass" and "softmax overflows" in loose["message"]
    assert any("large_scores" in w for w in loose["warnings"])
    strict = verdicts(grade_file(path, Options(timeout=3.0, memory_mb=600, strict=True)))["softmax_loss"]
    assert strict["status"] == "fail" and "softmax overflows" in strict["message"]


# ----- hostile submissions: none may turn a failure into a pass -----

WRONG_BUT_SNEAKY = [
    (
        "lying __eq__ and an ndarray subclass",
        """
        import numpy as np
        class Liar(np.ndarray):
            def __eq__(self, other): return True
            def __ne__(self, other): return False
        def relu_forward(x):
            return np.maximum(x, 0), x
        def relu_backward(dout, cache):
            return (dout * 0 + 1).view(Liar)
     """,
    ),
    (
        "patched numpy",
        """
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        def relu_forward(x):
            return np.maximum(x, 0), x
        def relu_backward(dout, cache):
            return dout
     """,
    ),
]


@pytest.mark.parametrize("label,source", WRONG_BUT_SNEAKY, ids=[s[0] for s in WRONG_BUT_SNEAKY])
def test_sneaky_wrong_answers_still_fail(tmp_path, label, source):
    result = verdicts(grade_file(submission(tmp_path, source), FAST))
    assert result["relu_backward"]["status"] == "fail"
    assert result["relu_forward"]["status"] == "pass"


def _hostile(body):
    """relu_backward misbehaves; affine is correct and must still be graded."""
    return AFFINE + RELU.replace(
        "def relu_backward(dout, cache):\n    return dout * (cache > 0)",
        "def relu_backward(dout, cache):\n" + textwrap.indent(textwrap.dedent(body), "    "),
    )


HOSTILE = [
    ("sys.exit", "import sys\nsys.exit(0)", "error", "exited"),
    ("os._exit", "import os\nos._exit(3)", "error", "exited with code 3"),
    ("endless loop", "while True:\n    pass", "timeout", "no answer within"),
    ("memory bomb", "hog = []\nwhile True:\n    hog.append(bytearray(50 * 2**20))", "error", "out of memory"),
    ("raises", "raise ValueError('nope')", "error", "ValueError: nope"),
    ("prints on stdout", "print('{\"ok\": true}')\nprint('noise' * 1000)\nreturn dout * (cache > 0)", "pass", ""),
]


@pytest.mark.parametrize("label,body,status,words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_behaviour_gets_a_verdict_and_the_rest_is_graded(tmp_path, label, body, status, words):
    result = verdicts(grade_file(submission(tmp_path, _hostile(body)), Options(timeout=2.0, memory_mb=400)))
    assert result["relu_backward"]["status"] == status, result["relu_backward"]
    assert words in result["relu_backward"]["message"]
    assert result["affine_forward"]["status"] == "pass" and result["affine_backward"]["status"] == "pass"


@pytest.mark.parametrize(
    "statement,use,library",
    [
        ("import jax", "jax.grad", "jax"),
        ("from torch._C import default_generator", "default_generator", "torch"),
        ("autograd = __import__('autograd')", "autograd.grad", "autograd"),
        (
            "import importlib; conformance = importlib.import_module('conformance')",
            "conformance.registry",
            "conformance",
        ),
    ],
)
def test_an_autodiff_library_or_gradref_is_refused_where_it_is_used(tmp_path, statement, use, library):
    used = RELU.replace("return dout * (cache > 0)", f"{use}(cache)\n    return dout * (cache > 0)")
    result = grade_file(submission(tmp_path, statement + "\n" + used), FAST)
    relu = verdicts(result)["relu_backward"]
    assert relu["status"] == "error" and "is not allowed in a submission" in relu["message"], relu["message"]
    assert verdicts(result)["relu_forward"]["status"] == "pass"
    assert not result["passed"] and result["stand_ins"]["refused"] == [library]
    unused = grade_file(submission(tmp_path, statement + "\n" + RELU), FAST)  # a stray import costs nothing
    assert unused["passed"], json.dumps(unused)[:1500]


def test_allow_imports_lifts_the_refusal(tmp_path):
    path = submission(tmp_path, "import jax.numpy\n" + RELU.replace("np.maximum(x, 0)", "jax.numpy.maximum(x, 0)"))
    refused = grade_file(path, FAST)
    assert "importing jax is not allowed" in verdicts(refused)["relu_forward"]["message"]
    path = submission(tmp_path, "import jax.numpy\n" + RELU)
    allowed = grade_file(path, Options(timeout=30.0, memory_mb=16384, allow_imports=("jax",)))
    assert allowed["passed"], json.dumps(allowed)[:2000]
    assert "jaxlib" not in allowed["limits"]["blocked_imports"]
    in_process = grade_file(path, Options(timeout=30.0, memory_mb=16384, allow_imports=("jax",), sandbox="process"))
    assert in_process["passed"], json.dumps(in_process)[:2000]  # Landlock lets the allowed site-packages be read


def test_an_error_at_import_time_fails_every_function(tmp_path):
    result = grade_file(submission(tmp_path, RELU + "\nraise RuntimeError('broken at import')\n"), FAST)
    assert all(r["status"] == "error" and "broken at import" in r["message"] for r in verdicts(result).values())


# ----- exit codes, reports, batches -----


def run_grade(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "gradref", "grade", *args], capture_output=True, text=True, timeout=600
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    "source,sentence",
    [
        ("def relu_forward(x):\n    return x,, x\n", "has a syntax error on line 2"),
        ("def helper():\n    return 1\n", "none of the assignment's functions (affine_forward"),
        ("", "the file is empty (no code at all)"),
        ("# TODO: write the layers\n\n", "the file is empty (no code at all)"),
    ],
)
def test_ungradable_files_exit_2_with_one_sentence(tmp_path, source, sentence):
    code, stdout, stderr = run_grade(submission(tmp_path, source))
    assert code == 2 and sentence in stderr and "Traceback" not in stderr + stdout


def test_a_missing_file_exits_2():
    code, _, stderr = run_grade("/no/such/student.py")
    assert code == 2 and "no such file or folder: /no/such/student.py" in stderr


def test_grade_writes_json_and_gradescope(tmp_path):
    report, gs = tmp_path / "r.json", tmp_path / "results.json"
    code = main(
        [
            "grade",
            os.path.join(EXAMPLES, "layers_buggy.py"),
            "--json",
            str(report),
            "--gradescope",
            str(gs),
            "--timeout",
            "3",
            "--memory-mb",
            "600",
        ]
    )
    assert code == 1
    data = json.loads(report.read_text())
    assert data["passed"] is False and data["convention"] == "cs231n"
    for entry in data["results"]:
        assert {"name", "status", "message", "checks"} <= entry.keys()
        assert entry["status"] in ("pass", "fail", "error", "timeout", "missing")
    scores = json.loads(gs.read_text())
    assert scores["max_score"] == len(scores["tests"]) and 0 < scores["score"] < scores["max_score"]
    assert {t["status"] for t in scores["tests"]} == {"passed", "failed"}


def test_grading_a_folder_never_stops_at_a_broken_submission(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "good.py").write_text(RELU)
    (folder / "broken.py").write_text("def relu_forward(x:\n")
    (folder / "wrong.py").write_text(RELU.replace("(cache > 0)", "(cache < 0)"))
    out = tmp_path / "reports"
    code = main(
        [
            "grade",
            str(folder),
            "--batch",
            "--jobs",
            "2",
            "--out",
            str(out),
            "--gradescope",
            str(tmp_path / "gs"),
            "--timeout",
            "3",
            "--memory-mb",
            "600",
        ]
    )
    assert code == 1
    with open(out / "summary.csv") as handle:
        rows = {r["submission"]: r for r in csv.DictReader(handle)}
    assert rows["good.py"]["status"] == "pass" and rows["wrong.py"]["status"] == "fail"
    assert rows["broken.py"]["status"] == "cannot grade" and "syntax error" in rows["broken.py"]["message"]
    assert sorted(p.name for p in out.iterdir()) == [
        "broken.py.json",
        "good.py.json",
        "gradebook.csv",
        "summary.csv",
        "wrong.py.json",
    ]
    assert json.loads((tmp_path / "gs" / "good.py.json").read_text())["score"] == 2.0


def test_the_memory_watchdog_stops_a_process_that_lifts_its_own_limit(tmp_path):
    body = """
import resource
try:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
except (ValueError, OSError):
    pass
hog = []
while True:
    hog.append(b"x" * (50 * 2**20))
"""
    result = verdicts(grade_file(submission(tmp_path, _hostile(body)), Options(timeout=5.0, memory_mb=400)))
    assert result["relu_backward"]["status"] == "error"
    assert "memory" in result["relu_backward"]["message"]
    assert result["affine_backward"]["status"] == "pass"


# ----- a folder of students, odd files, flags over specs -----


def test_a_folder_of_several_students_is_refused_with_a_pointer_to_batch(tmp_path):
    for name in ("ann.py", "bob.py", "cid.py"):
        (tmp_path / name).write_text(RELU)
    (tmp_path / "bob.py").write_text(RELU.replace("(cache > 0)", "(cache < 0)"))
    code, out, err = run_grade(str(tmp_path))
    assert code == 2 and "Traceback" not in err
    assert "ann.py and bob.py both define relu_backward" in err and "--batch" in err


def test_a_python_file_with_another_extension_is_one_sentence(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(RELU)
    code, out, err = run_grade(str(notes))
    assert code == 2 and "Traceback" not in err
    assert "notes.txt is not a Python file" in err


def test_a_flag_overrides_the_assignments_setting_and_says_so_once(tmp_path):
    dropout_2016 = """
import numpy as np

def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)

def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
"""
    path = submission(tmp_path, dropout_2016)
    code, out, err = run_grade(path, "--assignment", "cs231n-a2", "--dropout-p", "drop", "--json", "-")
    report = json.loads(out)
    statuses = {r["name"]: r["status"] for r in report["results"]}
    assert statuses["dropout_forward"] == statuses["dropout_backward"] == "pass", statuses
    assert err.count("--dropout-p drop overrides cs231n-a2's dropout_p = keep") == 1 and "Traceback" not in err
    code, out, err = run_grade(path, "--assignment", "cs231n-a2", "--json", "-")
    assert {r["name"]: r["status"] for r in json.loads(out)["results"]}["dropout_forward"] == "fail"
