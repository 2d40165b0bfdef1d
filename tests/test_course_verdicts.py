"""`gradref grade` judges as the course does: for each rule, a correct variant that passes and a real
bug that fails. The course-style files are in tests/course/ (see its README)."""

import ast
import dataclasses
import importlib.util
import io
import json
import os
import re

import numpy as np
import pytest

from gradref.cli import main
from gradref.grade import CannotGrade, Options, grade_file

COURSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = Options(timeout=5.0, memory_mb=800)


def source(name):
    with open(os.path.join(COURSE, name)) as handle:
        return handle.read()


def grade_source(tmp_path, text, name="student.py", options=FAST, only=()):
    """{name: result} of grading `text`; `only`: just those functions (what the test looks at)."""
    path = tmp_path / name
    path.write_text(text)
    options = dataclasses.replace(options, only=only) if only else options
    return {r["name"]: r for r in grade_file(str(path), options)["results"]}


def mutate(text, old, new):
    assert old in text, old
    return text.replace(old, new)


# ----- what the staff and the textbook ship passes -----


@pytest.mark.parametrize("name", ["staff_a2.py", "staff_a3.py"])
def test_the_staff_provided_functions_pass(name):
    result = grade_file(os.path.join(COURSE, name), FAST)
    graded = [r for r in result["results"] if r["status"] != "missing"]
    assert graded and all(r["status"] == "pass" for r in graded), [(r["name"], r["message"]) for r in graded]
    assert result["passed"]


def test_the_textbook_layer_classes_pass_with_their_common_module():
    result = grade_file(
        os.path.join(COURSE, "book", "layers.py"),
        Options(timeout=5.0, memory_mb=800, support=(os.path.join(COURSE, "book", "common"),)),
    )
    verdicts = {r["name"]: r for r in result["results"]}
    assert {n: verdicts[n]["status"] for n in ("Affine", "Relu", "Sigmoid", "SoftmaxWithLoss")} == {
        "Affine": "pass",
        "Relu": "pass",
        "Sigmoid": "pass",
        "SoftmaxWithLoss": "pass",
    }
    assert "takes index and one-hot labels" in verdicts["SoftmaxWithLoss"]["message"]
    assert _cost_checks(verdicts["Affine"]) == [True] and _cost_checks(verdicts["SoftmaxWithLoss"]) == [True]


def _cost_checks(verdict):
    """Whether each timing of the call on the op's cost sample passed."""
    return [c["passed"] for c in verdict["checks"] if c["name"].startswith("cost [")]


def test_derived_code_in_naive_loops_passes_the_cost_check():
    """The slowest honest styles (a row, a feature, a window, a step at a time) are what the grader's
    timing must let through."""
    loops = os.path.join(ROOT, "bench", "cost_corpus", "loops.py")
    verdicts = {r["name"]: r for r in grade_file(loops, FAST)["results"] if r["status"] != "missing"}
    assert all(v["status"] == "pass" for v in verdicts.values()), [(n, v["message"]) for n, v in verdicts.items()]
    timed = {n for n, v in verdicts.items() if _cost_checks(v)}
    assert all(_cost_checks(verdicts[n]) == [True] for n in timed)
    assert {"affine_backward", "softmax_loss", "svm_loss", "batchnorm_backward", "conv_backward_naive"} <= timed
    assert {"max_pool_backward_naive", "word_embedding_backward", "temporal_softmax_loss"} <= timed


def test_without_its_support_module_the_textbook_file_uses_gradrefs_common_functions():
    result = grade_file(os.path.join(COURSE, "book", "layers.py"), FAST)
    statuses = {r["name"]: r["status"] for r in result["results"]}
    assert {statuses[n] for n in ("Affine", "Relu", "Sigmoid", "SoftmaxWithLoss")} == {"pass"}, statuses


# ----- 1. writing into arguments: a warning that names both -----


def test_an_update_rule_that_changes_w_in_place_is_graded_by_next_w(tmp_path):
    staff = source("staff_a2.py")
    right = grade_source(tmp_path, staff, only=("sgd",))["sgd"]
    assert right["status"] == "pass" and "sgd writes into its argument w" in right["message"]
    wrong = grade_source(tmp_path, mutate(staff, "w -= config", "w += config"), only=("sgd",))["sgd"]
    assert wrong["status"] == "fail"


def test_lstm_writing_into_dnext_c_is_a_warning_and_strict_fails_it(tmp_path):
    lstm = source("lstm_student.py")
    loose = grade_source(tmp_path, lstm, only=("lstm_step_backward",))["lstm_step_backward"]
    assert loose["status"] == "pass" and loose["warnings"] == ["lstm_step_backward writes into dnext_c"]
    strict = grade_source(tmp_path, lstm, options=Options(timeout=5.0, memory_mb=800, strict=True))
    assert strict["lstm_step_backward"]["status"] == "fail"
    wrong = grade_source(tmp_path, mutate(lstm, "dprev_c = dnext_c * f", "dprev_c = dnext_c * i"))
    assert wrong["lstm_step_backward"]["status"] == "fail"


def test_a_write_through_the_cache_is_blamed_on_the_backward(tmp_path):
    text = """
import numpy as np
def relu_forward(x):
    return np.maximum(x, 0), x
def relu_backward(dout, cache):
    cache[cache <= 0] = 0          # writes into x, which the cache holds
    return dout * (cache > 0)
"""
    verdicts = grade_source(tmp_path, text)
    assert verdicts["relu_backward"]["status"] == "pass"
    assert verdicts["relu_backward"]["warnings"] == ["relu_backward writes into x (through the cache)"]
    assert verdicts["relu_forward"]["warnings"] == []


# ----- 2. the course's tolerance -----


@pytest.mark.parametrize(
    "old,new",
    [
        ('/ (np.sqrt(vt) + config["epsilon"])', '/ np.sqrt(vt + config["epsilon"])'),
    ],
)
def test_adam_with_epsilon_inside_the_root_passes(tmp_path, old, new):
    assert (
        grade_source(tmp_path, mutate(source("optim_student.py"), old, new), only=("adam",))["adam"]["status"] == "pass"
    )


@pytest.mark.parametrize(
    "label,old,new",
    [
        ("no bias correction", 'mt = config["m"] / (1 - config["beta1"] ** config["t"])', 'mt = config["m"]'),
        ("1 - beta instead of 1 - beta^t", '(1 - config["beta2"] ** config["t"])', '(1 - config["beta2"])'),
        ("t incremented after use", '    config["t"] += 1\n', ""),
    ],
)
def test_real_adam_bugs_fail(tmp_path, label, old, new):
    text = mutate(source("optim_student.py"), old, new)
    if label == "t incremented after use":
        text = text.replace(
            '    next_w = w - config["learning_rate"] * mt',
            '    config["t"] += 1\n    next_w = w - config["learning_rate"] * mt',
        )
    assert grade_source(tmp_path, text, only=("adam",))["adam"]["status"] == "fail", label


def test_rmsprop_epsilon_inside_passes_and_without_the_root_fails(tmp_path):
    text = source("optim_student.py")
    inside = mutate(
        text, '(np.sqrt(config["cache"]) + config["epsilon"])', 'np.sqrt(config["cache"] + config["epsilon"])'
    )
    assert grade_source(tmp_path, inside, only=("rmsprop",))["rmsprop"]["status"] == "pass"
    no_root = mutate(text, '(np.sqrt(config["cache"]) + config["epsilon"])', '(config["cache"] + config["epsilon"])')
    assert grade_source(tmp_path, no_root, only=("rmsprop",))["rmsprop"]["status"] == "fail"


def test_batchnorm_with_epsilon_outside_the_root_passes_and_a_wrong_axis_fails(tmp_path):
    text = source("norms_student.py")
    outside = mutate(text, "std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps")
    assert grade_source(tmp_path, outside, only=("batchnorm_backward",))["batchnorm_backward"]["status"] == "pass"
    wrong_axis = mutate(text, "mu = x.mean(axis=0)", "mu = x.mean(axis=1, keepdims=True)")
    assert grade_source(tmp_path, wrong_axis, only=("batchnorm_forward",))["batchnorm_forward"]["status"] == "fail"


def test_a_comparison_reports_the_course_tolerance_and_the_rounding_level(tmp_path):
    verdicts = grade_source(tmp_path, source("optim_student.py"))
    detail = next(c["detail"] for c in verdicts["adam"]["checks"] if c["name"].startswith("next_w - w (the step)"))
    assert "the tolerance 1.0e-05 (within)" in detail and "x rounding level" in detail


# ----- 3. only call what the course calls -----


def test_backward_is_only_called_after_a_train_mode_forward(tmp_path):
    verdicts = grade_source(tmp_path, source("norms_student.py"))  # test mode returns cache None
    assert verdicts["batchnorm_forward"]["status"] == "pass"
    assert any("test_mode" in c["name"] for c in verdicts["batchnorm_forward"]["checks"])
    assert verdicts["batchnorm_backward"]["status"] == "pass"
    wrong_test = mutate(
        source("norms_student.py"), "out = gamma * (x - running_mean)", "out = gamma * (x - 0 * running_mean)"
    )
    assert grade_source(tmp_path, wrong_test, only=("batchnorm_forward",))["batchnorm_forward"]["status"] == "fail"


@pytest.mark.parametrize("body,status", [("raise NameError('dx')", "error"), ("while True:\n        pass", "timeout")])
def test_a_broken_backward_never_fails_its_forward(tmp_path, body, status):
    text = (
        "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
        f"def relu_backward(dout, cache):\n    {body}\n"
    )
    verdicts = grade_source(tmp_path, text, options=Options(timeout=2.0, memory_mb=800))
    assert verdicts["relu_backward"]["status"] == status
    forward = verdicts["relu_forward"]
    assert forward["status"] == "pass" and sum(c["passed"] for c in forward["checks"]) >= 4


# ----- 4. dropout against the student's own mask -----


def test_dropout_with_its_own_draw_passes_and_other_conventions_are_named(tmp_path):
    text = source("dropout_student.py")
    assert grade_source(tmp_path, text, only=("dropout_backward",))["dropout_backward"]["status"] == "pass"
    drop = mutate(text, "< p) / p", ">= p) / (1 - p)")
    as_keep = grade_source(tmp_path, drop)
    assert as_keep["dropout_forward"]["status"] == "fail"
    assert "probability of dropping a unit" in as_keep["dropout_forward"]["message"]
    assert as_keep["dropout_backward"]["status"] == "pass"  # consistent with its own mask
    as_drop = grade_source(tmp_path, drop, options=Options(timeout=5.0, memory_mb=800, dropout_p="drop"))
    assert as_drop["dropout_forward"]["status"] == "pass"


def test_a_softmax_whose_denominator_is_a_mean_is_told_its_loss_is_off_by_log_c(tmp_path):
    """log(np.mean(np.exp(...))) for log(np.sum(...)): the loss is the right one minus log(C) on every
    sample (C changes with the sample: said once)."""
    line = "log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))"
    text = mutate(source("layers_student.py"), line, line.replace("np.sum(", "np.mean("))
    loss = grade_source(tmp_path, text, only=("softmax_loss",))["softmax_loss"]
    assert loss["status"] == "fail" and loss["mistakes"][0] == "mean_in_log_sum_exp", loss["message"]
    assert loss["message"].count("the right loss minus log(C)") == 1, loss["message"]


def test_the_2017_handouts_dropout_keeps_with_probability_p_under_a_docstring_that_says_drop(tmp_path):
    """CS231n's 2017 layers.py says "We drop each neuron output with probability p" and its code and
    notebook keep each unit with probability p: that code passes as it is, no --dropout-p needed. The
    2016 reading (drop) fails, naming the other convention, and passes where the teacher says drop."""
    header = 'def dropout_forward(x, dropout_param):\n    """- p: Dropout parameter. We drop each neuron output with probability p."""\n'
    kept = mutate(source("dropout_student.py"), "def dropout_forward(x, dropout_param):\n", header)
    forward = grade_source(tmp_path, kept, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "pass", forward["message"]
    dropped = mutate(kept, "< p) / p", ">= p) / (1 - p)")
    forward = grade_source(tmp_path, dropped, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "fail" and "other convention" in forward["message"], forward["message"]
    teacher = Options(timeout=5.0, memory_mb=800, dropout_p="drop")
    assert (
        grade_source(tmp_path, dropped, options=teacher, only=("dropout_forward",))["dropout_forward"]["status"]
        == "pass"
    )


def test_a_right_backward_beside_a_wrong_forward_is_timed_on_its_own_cache(tmp_path):
    """temporal_affine's forward wrong in its values (- b) and its cache (x, w, b), not the course's
    (x, w, b, out): the backward passes on its own cache everywhere, the cost sample included (it was
    timed on the course's cache there, which it cannot unpack, and failed)."""
    wrong = mutate(source("seq_student.py"), "reshape(N, T, -1) + b", "reshape(N, T, -1) - b")
    verdicts = grade_source(tmp_path, wrong, only=("temporal_affine_forward", "temporal_affine_backward"))
    assert verdicts["temporal_affine_forward"]["status"] == "fail"
    backward = verdicts["temporal_affine_backward"]
    assert backward["status"] == "pass", backward["message"]
    assert any(c["name"].startswith("cost [") and c["passed"] for c in backward["checks"]), backward["checks"]


def test_a_backward_never_checked_is_not_timed_on_a_cache_it_does_not_read(tmp_path):
    """The forward raises on every sample (N / T); the backward reads its own (x, w, b): it cannot be
    checked, and says so, rather than failing the cost check on the course's (x, w, b, out)."""
    broken = mutate(source("seq_student.py"), "x.reshape(N * T, D).dot(w)", "x.reshape(N / T, D).dot(w)")
    verdicts = grade_source(tmp_path, broken, only=("temporal_affine_forward", "temporal_affine_backward"))
    assert verdicts["temporal_affine_forward"]["status"] == "error"
    backward = verdicts["temporal_affine_backward"]
    assert backward["status"] == "error" and "it could not be checked" in backward["message"], backward["message"]
    assert not any(c["name"].startswith("cost [") for c in backward["checks"]), backward["checks"]


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "running_var = momentum * running_var + (1 - momentum) * var",
            "running_var = momentum * running_var - (1 - momentum) * var",
        ),
        (
            "running_mean = momentum * running_mean + (1 - momentum) * mu",
            "running_mean = momentum / running_mean + (1 - momentum) * mu",
        ),
    ],
)
def test_a_running_statistic_updated_wrong_is_said_at_the_line_that_computes_it(tmp_path, old, new):
    """Not the line that stores it in bn_param: the one before it that computes it."""
    forward = grade_source(tmp_path, mutate(source("norms_student.py"), old, new), only=("batchnorm_forward",))
    forward = forward["batchnorm_forward"]
    assert forward["status"] == "fail" and forward["mistakes"] == ["running_update"], forward["message"]
    assert forward["where"]["code"] == new, forward["where"]
    key = new.split(" = ")[0]
    assert f"bn_param['{key}'] is updated wrong: it is momentum * {key} + (1 - momentum)" in forward["message"]


def test_a_model_whose_init_never_makes_a_parameter_its_loss_reads_fails(tmp_path):
    """The grader sets the params' values before loss(), which hid an __init__ that stores W0, W1, W2
    where loss() reads W1, W2, W3: training would stop at the first missing key."""
    shifted = mutate(
        source("fcn_student.py"), 'self.params["W%d" % (i + 1)] = weight', 'self.params["W%d" % i] = weight'
    )
    model = grade_source(tmp_path, shifted, only=("FullyConnectedNet",))["FullyConnectedNet"]
    assert model["status"] == "fail", model["message"]
    assert "after __init__, model.params lacks W3, which loss() reads" in model["message"], model["message"]
    assert "it makes W0 instead" in model["message"] and model["mistakes"][0] == "init_params_missing"


def test_grads_stored_under_keys_one_off_from_the_params_are_told_so(tmp_path):
    """grads['gamma0'] for params['gamma1']: the gradients it computed are under names nobody reads."""
    shifted = mutate(
        source("fcn_student.py"),
        'grads["gamma%d" % i], grads["beta%d" % i] = batchnorm_backward_alt',
        'grads["gamma%d" % (i - 1)], grads["beta%d" % (i - 1)] = batchnorm_backward_alt',
    )
    model = grade_source(tmp_path, shifted, only=("FullyConnectedNet",))["FullyConnectedNet"]
    assert model["status"] == "fail" and model["mistakes"][0] == "grads_keys_not_params", model["message"]
    assert "grads holds gamma0, beta0, which are not parameters" in model["message"]
    assert "the layer numbers are one off (gamma0 for gamma1)" in model["message"]
    right = grade_source(tmp_path, source("fcn_student.py"), only=("FullyConnectedNet",))["FullyConnectedNet"]
    assert right["status"] == "pass" and "grads_keys_not_params" not in right["mistakes"]


def test_dropout_that_scales_nothing_in_train_mode_is_named_not_inverted(tmp_path):
    """Train mode keeps x itself and test mode is right: dropout.py names it from the statistics."""
    unscaled = mutate(source("dropout_student.py"), "< p) / p", "< p)")
    forward = grade_source(tmp_path, unscaled, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "fail" and "not_inverted" in forward["mistakes"], forward["message"]
    assert "train mode keeps units unscaled" in forward["message"]
    squared = mutate(source("dropout_student.py"), "< p) / p", "< p) / p**2")  # scaled, wrongly: not this one
    forward = grade_source(tmp_path, squared, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "fail" and "not_inverted" not in forward["mistakes"], forward["message"]


def test_dropout_with_a_fixed_mask_or_one_that_ignores_the_seed_fails(tmp_path):
    """Both pass the notebook's statistics (it seeds before each check); neither is a random draw."""
    fixed = mutate(source("dropout_student.py"), "np.random.rand(*x.shape)", "np.random.RandomState(0).rand(*x.shape)")
    forward = grade_source(tmp_path, fixed, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "fail" and "dropped the same units" in forward["message"], forward["message"]
    unseeded = mutate(source("dropout_student.py"), 'np.random.seed(dropout_param["seed"] + 1)', "pass")
    forward = grade_source(tmp_path, unseeded, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "fail" and "seed the generator" in forward["message"], forward["message"]
    right = grade_source(tmp_path, source("dropout_student.py"), only=("dropout_forward",))["dropout_forward"]
    assert right["status"] == "pass" and any(c["name"].startswith("mask drawn anew") for c in right["checks"])


def test_dropout_backward_that_ignores_its_mask_scale_fails(tmp_path):
    text = mutate(source("dropout_student.py"), "return dout * mask if", "return dout * (mask > 0) if")
    assert grade_source(tmp_path, text, only=("dropout_backward",))["dropout_backward"]["status"] == "fail"


def test_dropout_that_does_not_scale_fails(tmp_path):
    text = mutate(source("dropout_student.py"), "< p) / p", "< p) * 1.0")
    forward = grade_source(tmp_path, text, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "fail" and "scaled by 1/keep" in forward["message"]


# ----- 5. samples as wide as the docstrings -----


@pytest.mark.parametrize(
    "function,old,new",
    [
        ("conv_backward_naive", "dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp[:, :, pad:-pad, pad:-pad]"),
        ("conv_forward_naive", "Wo = 1 + (W + 2 * pad - WW) // stride", "Wo = 1 + (W + 2 * pad - HH) // stride"),
        (
            "max_pool_forward_naive",
            'ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]\n    N',
            'ph, pw, s = pool_param["pool_height"], pool_param["pool_height"], pool_param["stride"]\n    N',
        ),
    ],
)
def test_geometry_bugs_that_square_samples_miss_fail(tmp_path, function, old, new):
    only = (function,)
    assert grade_source(tmp_path, source("conv_student.py"), only=only)[function]["status"] == "pass"
    mutated = grade_source(tmp_path, mutate(source("conv_student.py"), old, new), only=only)
    assert mutated[function]["status"] in ("fail", "error")


def test_groupnorm_is_graded_in_the_gamma_convention_the_code_follows(tmp_path):
    text = source("norms_student.py")  # gamma * xhat: works for (1, C, 1, 1) only
    verdicts = grade_source(tmp_path, text)
    assert verdicts["spatial_groupnorm_backward"]["status"] == "pass"
    channels = mutate(
        text, "out = gamma * xhat + beta", "out = gamma.reshape(1, -1, 1, 1) * xhat + beta.reshape(1, -1, 1, 1)"
    )
    channels = mutate(channels, "dxhat = (dout * gamma)", "dxhat = (dout * gamma.reshape(1, -1, 1, 1))")
    channels = mutate(
        channels,
        "dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)",
        "dgamma = (dout * xhat).sum(axis=(0, 2, 3)).reshape(gamma.shape)",
    )
    channels = mutate(
        channels,
        "dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)",
        "dbeta = dout.sum(axis=(0, 2, 3)).reshape(gamma.shape)",
    )
    assert (
        grade_source(tmp_path, channels, only=("spatial_groupnorm_backward",))["spatial_groupnorm_backward"]["status"]
        == "pass"
    )
    wrong = mutate(
        text,
        "dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)",
        "dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True) * 2",
    )
    assert (
        grade_source(tmp_path, wrong, only=("spatial_groupnorm_backward",))["spatial_groupnorm_backward"]["status"]
        == "fail"
    )


# ----- 6. submissions as the course hands them out -----


def test_a_students_package_with_relative_imports_is_one_submission():
    result = grade_file(os.path.join(COURSE, "student_pkg"), FAST)
    verdicts = {r["name"]: r["status"] for r in result["results"]}
    assert verdicts["affine_relu_backward"] == "pass" and verdicts["affine_backward"] == "pass"
    assert result["files"][0] == os.path.join("cs231n", "layers.py")


def test_a_folder_without_batch_is_one_student_and_with_batch_a_class(tmp_path):
    code_one = main(["grade", os.path.join(COURSE, "student_pkg"), "--timeout", "5"])
    code_batch = main(
        ["grade", os.path.join(COURSE, "student_pkg"), "--batch", "--out", str(tmp_path / "r"), "--timeout", "5"]
    )
    assert code_one == 0
    rows = (tmp_path / "r" / "summary.csv").read_text().splitlines()
    assert rows[1].startswith("cs231n,") and code_batch == 0


# ----- 7. textbook conventions -----

ONE_HOT_ONLY = """
import numpy as np
class SoftmaxWithLoss:
    def forward(self, x, t):
        s = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        self.t = t
        return -np.sum(t * np.log(self.y)) / x.shape[0]
    def backward(self, dout=1):
        return dout * (self.y - self.t) / self.t.shape[0]
class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
    def forward(self, x):
        self.x = x
        return x @ self.W + self.b
    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T
"""


def test_one_hot_only_losses_are_graded_one_hot_and_say_so(tmp_path):
    verdicts = grade_source(tmp_path, ONE_HOT_ONLY)
    assert verdicts["SoftmaxWithLoss"]["status"] == "pass"
    assert "one-hot labels" in verdicts["SoftmaxWithLoss"]["message"]
    wrong = grade_source(tmp_path, mutate(ONE_HOT_ONLY, "(self.y - self.t) /", "(self.t - self.y) /"))
    assert wrong["SoftmaxWithLoss"]["status"] == "fail"


def test_an_affine_that_does_not_flatten_says_only_the_k_dim_sample_fails(tmp_path):
    affine = grade_source(tmp_path, ONE_HOT_ONLY, only=("Affine",))["Affine"]
    assert affine["status"] in ("fail", "error")
    assert "every 2-D check passed and only the k-dimensional x" in affine["message"]
    assert "k_dimensional_x_not_flattened" in affine["mistakes"]  # named: the class page counts it


# ----- 8. plain words -----

STUB = """
import numpy as np
def affine_forward(x, w, b):
    out = None
    ###########################################################################
    # TODO: Implement the affine forward pass.                                #
    ###########################################################################
    pass
    cache = (x, w, b)
    return out, cache
def affine_backward(dout, cache):
    raise NotImplementedError
def relu_forward(x):
    return np.maximum(x, 0), x
def relu_backward(dout, cache):
    dx = None
    return dx
"""


def test_starter_stubs_are_not_implemented_yet(tmp_path):
    verdicts = grade_source(tmp_path, STUB)
    for name in ("affine_forward", "relu_backward"):
        assert verdicts[name]["status"] == "missing", verdicts[name]
        assert verdicts[name]["message"].startswith("not implemented yet")
        assert "worker" not in verdicts[name]["message"] and "NotYet" not in verdicts[name]["message"]
    assert verdicts["relu_forward"]["status"] == "pass"


STARTER_ZEROS = """
import numpy as np


def svm_loss_vectorized(W, X, y, reg):
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero

    pass

    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    loss = 0.0
    dW = np.zeros_like(W)
    scores = X.dot(W)
    loss = np.log(np.exp(scores).sum(axis=1)).mean() - scores[np.arange(len(y)), y].mean() + reg * np.sum(W * W)
    return loss, dW
"""


def test_starter_code_that_returns_its_zeros_is_not_implemented_yet_and_kept_zeros_are_said_once(tmp_path):
    """CS231n's classifiers start `loss = 0.0; dW = np.zeros_like(W)`: left as they are, they are not
    written yet, not a mistake to diagnose sample by sample; a dW left at zero beside a written loss is
    a mistake, said once for every sample."""
    verdicts = grade_source(tmp_path, STARTER_ZEROS)
    untouched = verdicts["svm_loss_vectorized"]
    assert untouched["status"] == "missing", untouched
    assert (
        untouched["message"] == "not implemented yet (its code is the starter's: it returns the zeros it starts with)"
    )
    written = verdicts["softmax_loss_vectorized"]
    assert written["status"] == "fail", written
    zeros = [d for d in written["diagnosis"] if "all zeros" in d]
    assert zeros == ["dW is all zeros on every sample: it is never written (or only created)."], written["diagnosis"]


@pytest.mark.parametrize(
    "body,starter",
    [
        ("loss = 0.0\n    dW = np.zeros_like(W)\n    pass\n    return loss, dW", True),
        ("loss, grads = 0, {}\n    return loss, grads", True),
        ("dx = np.zeros(x.shape, dtype=np.float64)\n    return dx", True),
        ("loss = 0.0\n    dW = torch.zeros_like(W, device=W.device)\n    pass\n    return loss, dW", True),
        ("return dout", False),  # passes an argument through: the student's own (wrong) answer
        ("loss = 0.0\n    return loss, W", False),
        ("dx = np.zeros_like(x)\n    dx[x > 0] = dout[x > 0]\n    return dx", False),
        ("dx = np.zeros_like(x) + 1\n    return dx", False),
        ("dx = None\n    return dx", False),  # a None stub: the runtime already says "not implemented yet"
    ],
)
def test_only_code_that_returns_the_zeros_it_starts_with_reads_as_starter_code(body, starter):
    from gradref.grade.explain import static

    node = ast.parse(f"def f(x, W, dout):\n    {body}\n").body[0]
    assert static.returns_its_starting_zeros(node) is starter


def test_a_file_handed_in_without_the_course_module_it_imports_is_told_which_file_to_add(tmp_path):
    """fc_net.py alone imports the student's own cs231n.layers: say which file is missing, not only
    Python's ModuleNotFoundError."""
    source = (
        "import numpy as np\nfrom cs231n.layers import *\n\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
    )
    result = grade_source(tmp_path, source, name="fc_net.py")["relu_forward"]
    assert result["status"] == "error", result
    assert "No module named 'cs231n.layers'" in result["message"], result["message"]
    assert "cs231n.layers is not in the submission: hand in layers.py with it" in result["message"], result["message"]
    other = grade_source(tmp_path, source.replace("cs231n.layers", "gradient_tools"), name="fc_net.py")
    assert (
        "if it is a file of yours, hand in gradient_tools.py with it; if it is a library, leave the import out"
        in (other["relu_forward"]["message"])
    ), other["relu_forward"]["message"]


NEAR_NAMES = """
import numpy as np


def affine_foward(x, w, b):
    return x.reshape(len(x), -1) @ w + b, (x, w, b)


def Relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax(x):
    return np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
"""


def test_a_function_defined_under_a_near_name_is_pointed_out(tmp_path):
    """A capital or a typo in a function's name makes it "not defined": the report says which of the
    file's names it most likely is, and a backward that could not get its cache says why."""
    path = tmp_path / "layers.py"
    path.write_text(NEAR_NAMES)
    results = {r["name"]: r for r in grade_file(str(path), FAST)["results"]}
    assert results["affine_forward"].get("defined_as") == "affine_foward"
    assert results["relu_forward"].get("defined_as") == "Relu_forward"
    assert "defined_as" not in results["softmax_loss"] and "defined_as" not in results["affine_backward"]
    assert results["relu_backward"]["message"].endswith(
        "(the files define Relu_forward: a function must have the assignment's name exactly)"
    ), results["relu_backward"]["message"]
    from rich.console import Console

    from gradref.grade.front.command import grade_table

    console = Console(width=400, record=True, file=io.StringIO())
    console.print(grade_table(grade_file(str(path), FAST)))
    assert "relu_forward (defined as Relu_forward?)" in console.export_text()
    from gradref.grade.front.reports import gradescope

    tests = {t["name"]: t for t in gradescope(grade_file(str(path), FAST))["tests"]}
    assert tests["relu_forward"]["output"] == (
        "not defined (the files define Relu_forward: a function must have the assignment's name exactly)"
    )


def test_python_2_print_is_named_with_the_fix(tmp_path):
    path = tmp_path / "old.py"
    path.write_text("def relu_forward(x):\n    print 'hello'\n    return x, x\n")
    with pytest.raises(CannotGrade, match=r"Python 2 print statement: write print\(...\)"):
        grade_file(str(path), FAST)


def test_a_file_saved_with_a_byte_order_mark_grades_as_python_runs_it(tmp_path):
    """Windows editors save UTF-8 with a byte order mark; Python runs such a file, so gradref grades it."""
    path = tmp_path / "layers.py"
    path.write_bytes(
        b"\xef\xbb\xbfimport numpy as np\r\n\r\ndef relu_forward(x):\r\n    return np.maximum(0, x), x\r\n\r\n"
        b"def relu_backward(dout, x):\r\n    return dout * (x > 0) * undefined_scale\r\n"
    )
    results = {r["name"]: r for r in grade_file(str(path), FAST)["results"]}
    assert results["relu_forward"]["status"] == "pass", results["relu_forward"]["message"]
    backward = results["relu_backward"]
    assert backward["status"] == "error" and "line 7 of layers.py" in backward["message"], backward["message"]


EDITION_2017 = """
from __future__ import print_function
from builtins import range, object
from past.builtins import xrange
from future import standard_library
import numpy as np

standard_library.install_aliases()


def svm_loss_naive(W, X, y, reg):
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in xrange(X.shape[0]):
        scores = X[i].dot(W)
        for j in xrange(W.shape[1]):
            margin = scores[j] - scores[y[i]] + 1
            if j != y[i] and margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / X.shape[0] + reg * np.sum(W * W)
    return loss, dW / X.shape[0] + 2 * reg * W
"""


def test_the_2017_editions_imports_of_the_future_package_work_as_they_did_in_the_course(tmp_path):
    """courses.md: CS231n's code of 2017-2019 imports `past.builtins.xrange` and `future`'s aliases;
    the grader serves them where the sandbox has no `future` package."""
    path = tmp_path / "linear_svm.py"
    path.write_text(EDITION_2017)
    result = {r["name"]: r for r in grade_file(str(path), FAST)["results"]}["svm_loss_naive"]
    assert result["status"] == "pass", result["message"]
    wrong = tmp_path / "wrong" / "linear_svm.py"
    wrong.parent.mkdir()
    wrong.write_text(EDITION_2017.replace("for j in xrange(W.shape[1]):", "for j in xrange(W.shape[1] - 1):"))
    result = {r["name"]: r for r in grade_file(str(wrong), FAST)["results"]}["svm_loss_naive"]
    assert result["status"] == "fail", result["message"]


def test_a_file_with_a_nul_byte_is_refused_without_a_line_it_does_not_have(tmp_path):
    path = tmp_path / "nul.py"
    path.write_bytes(b"import numpy as np\x00\n")
    with pytest.raises(
        CannotGrade, match=r"nul\.py has a syntax error: source code string cannot contain null bytes"
    ) as raised:
        grade_file(str(path), FAST)
    assert "None" not in str(raised.value)


@pytest.mark.parametrize(
    "call,fix",
    [
        ("np.product(x.shape[1:])", "use np.prod"),
        ("x.reshape(newshape=(x.shape[0], -1)).shape[1]", "pass the shape by position"),
    ],
)
def test_numpy_2_removals_are_named_with_the_fix(tmp_path, call, fix):
    text = f"""
import numpy as np
def affine_forward(x, w, b):
    d = {call}
    return x.reshape(x.shape[0], d) @ w + b, (x, w, b)
def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
"""
    forward = grade_source(tmp_path, text, only=("affine_forward",))["affine_forward"]
    assert forward["status"] == "error" and fix in forward["message"]


def test_a_file_that_cannot_be_graded_still_writes_its_reports(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def relu_forward(x:\n")
    report, gs = tmp_path / "r.json", tmp_path / "gs.json"
    assert main(["grade", str(path), "--json", str(report), "--gradescope", str(gs)]) == 2
    assert json.loads(report.read_text())["status"] == "cannot grade"
    assert json.loads(gs.read_text())["score"] == 0.0


# ----- 9. reports a person can read -----


def test_reports_list_the_assignment_once_and_passed_checks_carry_no_failure_text(tmp_path):
    result = grade_file(os.path.join(COURSE, "staff_a3.py"), FAST)
    names = [r["name"] for r in result["results"]]
    assert result["assignments"] == ["cs231n assignment 3"]
    assert len(names) == len(set(names))
    assert "affine_forward" not in names and "lstm_step_backward" in names  # only assignment 3's
    for entry in result["results"]:
        for check in entry["checks"]:
            if check["passed"]:
                assert "changed in place" not in check["detail"] and "has NaN or inf" not in check["detail"]


# ----- what the course environment has and the grader does not -----

PLOTS_UNUSED_IMPORTS = """
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.pyplot import axis
from scipy.signal import convolve2d


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    plt.hist(out)
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)
"""


def test_unused_imports_of_the_courses_packages_fail_only_what_uses_them(tmp_path):
    verdicts = grade_source(tmp_path, PLOTS_UNUSED_IMPORTS)
    assert verdicts["relu_forward"]["status"] == verdicts["relu_backward"]["status"] == "pass"
    assert verdicts["sigmoid_forward"]["status"] == "error"
    said = verdicts["sigmoid_forward"]["message"]
    assert "matplotlib.pyplot.hist was used, but matplotlib is not" in said  # installed, or open to submissions
    if importlib.util.find_spec("matplotlib") is not None:  # it is here: what to do instead is said
        assert "do not belong in a graded function: leave it out" in said, said
    unused = grade_source(tmp_path, PLOTS_UNUSED_IMPORTS.replace("    plt.hist(out)\n", ""))
    assert unused["sigmoid_forward"]["status"] == unused["sigmoid_backward"]["status"] == "pass"


RELU_BESIDE_A_HELPER = """
import numpy as np
from functions import Sigmoid


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, dout):
        return np.where(self.mask, 0, dout)
"""


def test_a_helper_function_named_like_a_layer_is_not_that_layer(tmp_path):
    student = tmp_path / "student"
    student.mkdir()
    (student / "functions.py").write_text("import numpy as np\n\ndef Sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n")
    (student / "layers.py").write_text(RELU_BESIDE_A_HELPER)
    results = {r["name"]: r for r in grade_file(str(student), FAST)["results"]}
    assert results["Relu"]["status"] == "pass"
    assert results["Sigmoid"]["status"] == "missing" and results["Sigmoid"]["message"] == "not defined"
    # A real Sigmoid class beside it is graded as the layer (here a wrong one, which fails).
    (student / "layers.py").write_text(
        RELU_BESIDE_A_HELPER.replace("from functions import Sigmoid\n", "")
        + "\n\nclass Sigmoid:\n    def forward(self, x):\n        self.out = 1 / (1 + np.exp(-x))\n"
        "        return self.out\n\n    def backward(self, dout):\n        return dout * self.out\n"
    )
    (student / "functions.py").write_text("import numpy as np\n\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n")
    results = {r["name"]: r for r in grade_file(str(student), FAST)["results"]}
    assert results["Sigmoid"]["status"] == "fail"


ONE_HOT_RAISES = """
import numpy as np


class SoftmaxWithLoss:
    def forward(self, x, t):
        if t.ndim != 2:
            raise ValueError("t must be one-hot")
        self.t = t
        shifted = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        return -np.sum(t * np.log(self.y + 1e-7)) / x.shape[0]

    def backward(self, dout=1):
        return (self.y - self.t) * dout / self.t.shape[0]
"""


def test_a_loss_class_that_raises_on_index_labels_is_graded_with_one_hot_labels(tmp_path):
    verdicts = grade_source(tmp_path, ONE_HOT_RAISES)
    assert verdicts["SoftmaxWithLoss"]["status"] == "pass"
    assert "graded with one-hot labels t" in verdicts["SoftmaxWithLoss"]["message"]
    wrong = grade_source(tmp_path, ONE_HOT_RAISES.replace("(self.y - self.t) * dout", "(self.t - self.y) * dout"))
    assert wrong["SoftmaxWithLoss"]["status"] == "fail"


# ----- a constant factor only when one factor explains every sample -----

FACTORS = """
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0) * cache.size / 10.0


def tanh_forward(x):
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, cache):
    return 2 * dout * (1 - cache**2)
"""


def test_a_constant_factor_is_named_only_when_one_factor_explains_every_sample(tmp_path):
    verdicts = grade_source(tmp_path, FACTORS)
    relu, tanh = verdicts["relu_backward"], verdicts["tanh_backward"]
    assert relu["status"] == tanh["status"] == "fail"
    assert not any("right value" in d or "too large" in d or "factor" in d for d in relu["diagnosis"]), relu
    # Both the factor and the line it is on (its returned value, which the line's finding names) say twice.
    assert tanh["diagnosis"] and all("twice the right" in d for d in tanh["diagnosis"]), tanh["diagnosis"]
    assert tanh["where"]["line"] == 19 and "2 * dout" in tanh["where"]["code"]


# ----- exceptions whose line shows a known mistake -----

POOL_PY2 = """
import numpy as np


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = 1 + (H - ph) / stride
    W_out = 1 + (W - pw) / stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    return out, (x, pool_param)
"""


def test_python_2_division_in_an_output_size_is_named(tmp_path):
    verdicts = grade_source(tmp_path, POOL_PY2)
    forward = verdicts["max_pool_forward_naive"]
    assert forward["status"] == "error" and forward["mistakes"] == ["python2_division"]
    assert "compute output sizes with //" in forward["message"]
    right = grade_source(tmp_path, POOL_PY2.replace(") / stride", ") // stride"))
    assert right["max_pool_forward_naive"]["status"] == "pass"


def test_torchs_pair_from_max_and_a_view_of_a_strided_tensor_are_named():
    """torch.max(x, dim) is (values, indices); x.view needs a contiguous x: both in words, with the fix."""
    from gradref.grade.explain.plainwords import explain_error, mistake_in_error

    pair = (
        "TwoLayerNet.loss raised TypeError: unsupported operand type(s) for -: 'Tensor' and "
        "'torch.return_types.max' (line 134 of fully_connected_networks.py: shifted = scores - "
        "torch.max(scores, dim=1, keepdim=True))"
    )
    assert mistake_in_error(pair)[0] == "torch_max_pair" and ".values" in explain_error(pair)
    view = (
        "Linear.forward raised RuntimeError: view size is not compatible with input tensor's size and stride "
        "(at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead. (line 13 of "
        "fully_connected_networks.py: out = x.view(x.shape[0], -1).mm(w) + b)"
    )
    assert mistake_in_error(view)[0] == "view_not_contiguous" and "x.reshape(...)" in explain_error(view)
    assert mistake_in_error(view.replace("x.view(", "x.flatten(")) is None  # the line must show the view


def test_a_package_installed_here_but_not_open_to_submissions_is_said_so_with_the_numpy_way():
    """scipy comes with JAX: "not installed" would be untrue; say how a teacher opens it, and the NumPy way."""
    from gradref.grade.explain.plainwords import explain_error

    message = (
        "softmax_loss raised ImportError: scipy.special.logsumexp was used, but scipy is not installed where "
        "the grader runs the code (line 7 of layers.py: log_probs = x - logsumexp(x, axis=1, keepdims=True))"
    )
    said = explain_error(message)
    assert "scipy is not open to submissions here" in said and "not installed" not in said
    assert "--allow-imports scipy" in said and "m + np.log(np.sum(np.exp(x - m)" in said
    absent = message.replace("scipy", "nosuchpackage_gradref")
    assert explain_error(absent) == absent  # not installed here either: the worker's words stand


def test_a_row_statistic_without_keepdims_that_does_not_broadcast_is_named():
    from gradref.grade.explain.plainwords import explain_error, mistake_in_error

    message = (
        "softmax_loss raised ValueError: operands could not be broadcast together with shapes (5,10) (5,) "
        "(line 4 of layers.py: shifted = x - np.max(x, axis=1))"
    )
    assert mistake_in_error(message)[0] == "keepdims_missing" and "keepdims=True" in explain_error(message)
    assert mistake_in_error(message.replace("(5,10) (5,)", "(5,10) (10,)")) is None  # a column one: not this
    assert mistake_in_error(message.replace("axis=1", "axis=0")) is None


def test_a_pad_slice_that_empties_at_pad_0_is_named():
    from gradref.grade.explain.plainwords import explain_error, mistake_in_error

    message = (
        "ValueError: could not broadcast input array from shape (2,3,0,0) into shape (2,3,5,5) "
        "(line 40 of layers.py: dx = dx_pad[:, :, pad:-pad, pad:-pad])"
    )
    assert mistake_in_error(message)[0] == "pad_slice"
    assert "empty when pad = 0" in explain_error(message)
    assert mistake_in_error(message.replace("pad:-pad", "pad:pad + H")) is None


# ----- the course's support modules, when the submission brings none -----

FAST_COMPOSITES = """
import numpy as np
from cs231n.fast_layers import conv_forward_fast, conv_backward_fast, max_pool_forward_fast, max_pool_backward_fast


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    return conv_backward_fast(relu_backward(ds, relu_cache), conv_cache)
"""

BOOK_LOSS = """
import numpy as np
from common.functions import softmax, cross_entropy_error


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t, self.y = t, softmax(x)
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx * dout / batch_size
"""


def test_the_courses_support_modules_are_there_when_the_submission_brings_none(tmp_path):
    composites = grade_source(tmp_path, FAST_COMPOSITES)
    assert composites["conv_relu_pool_forward"]["status"] == composites["conv_relu_pool_backward"]["status"] == "pass"
    wrong = grade_source(tmp_path, FAST_COMPOSITES.replace("relu_backward(ds, relu_cache)", "ds"))
    assert wrong["conv_relu_pool_backward"]["status"] == "fail"
    book = grade_source(tmp_path, BOOK_LOSS)
    assert book["SoftmaxWithLoss"]["status"] == "pass", book["SoftmaxWithLoss"]["message"]


NAIVE_ON_FAST = (
    FAST_COMPOSITES
    + """

def conv_forward_naive(x, w, b, conv_param):
    return conv_forward_fast(x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    return conv_backward_fast(dout, cache)


def max_pool_forward_naive(x, pool_param):
    return max_pool_forward_fast(x, pool_param)


def max_pool_backward_naive(dout, cache):
    return max_pool_backward_fast(dout, cache)
"""
)


def test_a_naive_layer_whose_work_the_shipped_fast_layers_do_fails_and_says_so(tmp_path):
    graded = grade_source(tmp_path, NAIVE_ON_FAST)
    for name in ("conv_forward_naive", "max_pool_forward_naive"):
        assert graded[name]["status"] != "pass", graded[name]
        assert "calls cs231n.fast_layers" in graded[name]["message"], graded[name]["message"]
    assert graded["conv_relu_pool_forward"]["status"] == "pass"  # the composites may use them


def test_where_the_assignment_allows_the_fast_layers_a_naive_layer_on_them_passes_with_a_note(tmp_path):
    import dataclasses

    graded = grade_source(tmp_path, NAIVE_ON_FAST, options=dataclasses.replace(FAST, allow_fast_layers=True))
    for name in ("conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive"):
        assert graded[name]["status"] == "pass", graded[name]["message"]
        assert f"{name} calls cs231n.fast_layers (the assignment allows it)" in graded[name]["notes"], graded[name]
    assert not any("fast_layers" in note for note in graded["conv_relu_pool_forward"]["notes"])


def test_the_submissions_own_support_module_wins(tmp_path):
    student = tmp_path / "student"
    (student / "common").mkdir(parents=True)
    (student / "common" / "__init__.py").write_text("")
    (student / "common" / "functions.py").write_text(
        "import numpy as np\n\ndef softmax(x):\n    return np.ones_like(x) / x.shape[-1]\n\n"
        "def cross_entropy_error(y, t):\n    return 0.0\n"
    )
    (student / "layers.py").write_text(BOOK_LOSS)
    results = {r["name"]: r for r in grade_file(str(student), FAST)["results"]}
    assert results["SoftmaxWithLoss"]["status"] == "fail"  # its own (wrong) softmax, not gradref's


def test_the_textbooks_im2col_and_col2im_are_adjoint_and_laid_out_as_documented():
    path = os.path.join(
        os.path.dirname(COURSE), os.pardir, "gradref", "grade", "course", "support", "common", "util.py"
    )
    spec = importlib.util.spec_from_file_location("support_util", path)
    util = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(util)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    col = util.im2col(x, 3, 2, stride=2, pad=1)
    assert col.shape == (2 * 4 * 4, 3 * 3 * 2)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert np.array_equal(col[1], padded[0, :, 0:3, 2:4].ravel())  # image 0, output (0, 1)
    r = rng.standard_normal(col.shape)
    assert np.isclose(np.sum(col * r), np.sum(x * util.col2im(r, x.shape, 3, 2, stride=2, pad=1)))


def test_a_book_style_file_that_imports_common_util_grades(tmp_path):
    verdicts = grade_source(tmp_path, "from common.util import im2col, col2im\n" + BOOK_LOSS)
    assert verdicts["SoftmaxWithLoss"]["status"] == "pass"


# ----- a backward is graded where its forward failed: the course documents the cache -----

PY2_DIVISION = ("Ho = 1 + (H + 2 * pad - HH) // stride", "Ho = 1 + (H + 2 * pad - HH) / stride")


def test_a_correct_backward_passes_with_the_course_cache_where_its_forward_fails(tmp_path):
    verdicts = grade_source(tmp_path, mutate(source("conv_student.py"), *PY2_DIVISION))
    assert verdicts["conv_forward_naive"]["status"] == "error"
    backward = verdicts["conv_backward_naive"]
    assert backward["status"] == "pass", backward["message"]
    assert any("(x, w, b, conv_param)" in note for note in backward["notes"])
    assert sum(c["passed"] for c in backward["checks"]) >= 20


def test_a_wrong_backward_still_fails_with_the_course_cache(tmp_path):
    text = mutate(source("conv_student.py"), *PY2_DIVISION)
    verdicts = grade_source(tmp_path, mutate(text, "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(0, 2))"))
    assert verdicts["conv_backward_naive"]["status"] == "fail"


STUB_FORWARD = """
import numpy as np
def affine_forward(x, w, b):
    out = None
    pass
    cache = (x, w, b)
    return out, cache
def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)
"""


def test_a_backward_is_not_implemented_only_when_it_is_itself_a_stub(tmp_path):
    verdicts = grade_source(tmp_path, STUB_FORWARD)
    assert verdicts["affine_forward"]["status"] == "missing"
    assert verdicts["affine_backward"]["status"] == "pass", verdicts["affine_backward"]["message"]
    stubbed = grade_source(tmp_path, STUB_FORWARD.replace("x, w, b = cache", "raise NotImplementedError"))
    assert stubbed["affine_backward"]["status"] == "missing"


SIGMOID = """
import numpy as np
def sigmoid_forward(x):
    N, D = x.shape
    out = 1 / (1 + np.exp(-x))
    return out, out
def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)
"""


def test_without_a_documented_cache_a_backward_is_graded_where_its_forward_ran(tmp_path):
    verdicts = grade_source(tmp_path, SIGMOID)
    assert verdicts["sigmoid_forward"]["status"] == "error"
    backward = verdicts["sigmoid_backward"]
    assert backward["status"] == "pass", backward["message"]
    assert any("not checked on sample kdim" in note for note in backward["notes"])
    assert (
        grade_source(tmp_path, SIGMOID.replace("(1 - cache)", "(1 + cache)"), only=("sigmoid_backward",))[
            "sigmoid_backward"
        ]["status"]
        == "fail"
    )
    never = grade_source(
        tmp_path, SIGMOID.replace("N, D = x.shape", "raise ValueError('no')"), only=("sigmoid_backward",)
    )["sigmoid_backward"]
    assert never["status"] == "error" and "could not be checked" in never["message"]


# ----- each function judged under the convention it follows; names only where they are the real one -----


def test_a_groupnorm_backward_in_the_other_gamma_convention_than_its_forward_passes(tmp_path):
    text = source("norms_student.py")  # the forward takes gamma (1, C, 1, 1) only
    mixed = mutate(
        text, "dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)", "dgamma = (dout * xhat).sum(axis=(0, 2, 3))"
    )
    mixed = mutate(mixed, "dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)", "dbeta = dout.sum(axis=(0, 2, 3))")
    mixed = mutate(mixed, "dxhat = (dout * gamma)", "dxhat = (dout * gamma.reshape(1, C, 1, 1))")
    verdicts = grade_source(tmp_path, mixed)
    assert verdicts["spatial_groupnorm_forward"]["status"] == "pass"
    backward = verdicts["spatial_groupnorm_backward"]
    assert backward["status"] == "pass", backward["message"]
    assert any("other convention" in note for note in backward["notes"])
    neither = mutate(
        mixed, "dgamma = (dout * xhat).sum(axis=(0, 2, 3))", "dgamma = (dout * xhat).sum(axis=(0, 2, 3))[:, None, None]"
    )
    assert (
        grade_source(tmp_path, neither, only=("spatial_groupnorm_backward",))["spatial_groupnorm_backward"]["status"]
        == "fail"
    )
    wrong = mutate(mixed, "dbeta = dout.sum(axis=(0, 2, 3))", "dbeta = dout.sum(axis=(0, 2, 3)) * 2")
    assert (
        grade_source(tmp_path, wrong, only=("spatial_groupnorm_backward",))["spatial_groupnorm_backward"]["status"]
        == "fail"
    )


def test_a_dropout_that_keeps_p_and_scales_by_one_minus_p_is_not_called_the_other_convention(tmp_path):
    forward = grade_source(
        tmp_path, mutate(source("dropout_student.py"), "< p) / p", "< p) / (1 - p)"), only=("dropout_forward",)
    )["dropout_forward"]
    assert forward["status"] == "fail"
    assert "other convention" not in forward["message"] and "scaled by 1/keep" in forward["message"]


def test_a_dropout_mask_drawn_with_randn_is_named(tmp_path):
    forward = grade_source(
        tmp_path, mutate(source("dropout_student.py"), "np.random.rand(", "np.random.randn("), only=("dropout_forward",)
    )["dropout_forward"]
    assert forward["status"] == "fail" and forward["mistakes"] == ["mask_randn"], forward["message"]
    assert "np.random.rand " in forward["message"] or "np.random.rand (" in forward["message"]


OLD_DROPOUT_STARTER = """
import numpy as np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])
    mask = None
    out = None
    if mode == 'train':
        pass
    elif mode == 'test':
        pass
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache
"""


def test_the_2016_dropout_starter_stub_is_not_implemented_yet(tmp_path):
    forward = grade_source(tmp_path, OLD_DROPOUT_STARTER, only=("dropout_forward",))["dropout_forward"]
    assert forward["status"] == "missing" and "out.astype" in forward["message"], forward["message"]
    train_only = OLD_DROPOUT_STARTER.replace(
        "if mode == 'train':\n        pass",
        "if mode == 'train':\n        mask = (np.random.rand(*x.shape) < p) / p\n        out = x * mask",
    )
    half = grade_source(tmp_path, train_only, only=("dropout_forward",))["dropout_forward"]
    assert half["status"] == "fail" and "starter stub" in half["message"], half["message"]


# ----- assignment 1's linear classifiers: (W, X, y, reg) -> (loss, dW) -----


def test_the_linear_classifiers_naive_and_vectorized_pass_in_the_convention_their_code_follows(tmp_path):
    graded = grade_source(tmp_path, source("classifiers_student.py"))
    for name in ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized"):
        assert graded[name]["status"] == "pass", graded[name]["message"]
        assert _cost_checks(graded[name]) == [True], graded[name]["checks"][-2:]
    assert any(n.startswith("judged with reg * sum(W^2)") for n in graded["svm_loss_naive"]["notes"])
    assert any(n.startswith("judged with 0.5 * reg * sum(W^2)") for n in graded["softmax_loss_vectorized"]["notes"])


@pytest.mark.parametrize(
    "function,old,new",
    [
        # The loss leaves out its regulariser while the gradient adds it: exact at reg = 0 only.
        (
            "svm_loss_vectorized",
            "loss = np.sum(margins) / num_train + reg * np.sum(W * W)",
            "loss = np.sum(margins) / num_train",
        ),
        # The correct class's column misses the count of violating classes.
        (
            "svm_loss_vectorized",
            "mask[np.arange(num_train), y] = -np.sum(mask, axis=1)",
            "mask[np.arange(num_train), y] = -1",
        ),
        # The gradient's regulariser without the 2 of d(W^2)/dW.
        ("svm_loss_naive", "dW += 2 * reg * W", "dW += reg * W"),
        # Averaged over classes instead of examples.
        ("softmax_loss_naive", "dW = dW / num_train + reg * W", "dW = dW / W.shape[1] + reg * W"),
        # The loss's probability of the wrong class.
        ("softmax_loss_vectorized", "np.log(probs[np.arange(num_train), y])", "np.log(probs[np.arange(num_train), 0])"),
    ],
)
def test_real_linear_classifier_bugs_fail(tmp_path, function, old, new):
    graded = grade_source(tmp_path, mutate(source("classifiers_student.py"), old, new))
    assert graded[function]["status"] == "fail", graded[function]["message"]


def test_a_docstring_that_states_the_factor_is_held_to_it(tmp_path):
    text = source("classifiers_student.py").replace(
        "    Softmax loss function, vectorized version.\n",
        "    Softmax loss function, vectorized version. The L2 regularization does not include a factor of 0.5.\n",
    )
    graded = grade_source(tmp_path, text)
    assert graded["softmax_loss_vectorized"]["status"] == "fail", graded["softmax_loss_vectorized"]["message"]
    assert (
        "regularisation reg * sum(W^2), as its docstring or comments say" in graded["softmax_loss_vectorized"]["notes"]
    )
    assert graded["softmax_loss_naive"]["status"] == "pass"


# ----- models: TwoLayerNet as a whole, built in its own edition's terms -----


def test_two_layer_net_of_each_edition_passes_built_with_its_own_arguments(tmp_path):
    fc_net = grade_source(tmp_path, source("fc_net_student.py"), only=("TwoLayerNet",))["TwoLayerNet"]
    assert fc_net["status"] == "pass", fc_net["message"]
    assert "regularisation 0.5 * reg * sum(W^2), as its docstring or comments say" in fc_net["notes"]
    neural_net = grade_source(tmp_path, source("neural_net_student.py"), name="neural_net.py", only=("TwoLayerNet",))[
        "TwoLayerNet"
    ]
    assert neural_net["status"] == "pass", neural_net["message"]
    assert any(n.startswith("judged with reg * sum(W^2)") for n in neural_net["notes"])
    for verdict in (fc_net, neural_net):
        assert _cost_checks(verdict) == [True]
        assert {c["name"].split(" [")[0] for c in verdict["checks"]} >= {"dW1", "db1", "dW2", "db2"}


@pytest.mark.parametrize(
    "name,old,new",
    [
        # The biases regularised too: invisible on the notebook's toy model, whose biases start at 0.
        (
            "neural_net_student.py",
            "loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))",
            "loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(b1 * b1) + np.sum(b2 * b2))",
        ),
        # A ReLU on the output scores.
        ("neural_net_student.py", "scores = hidden.dot(W2) + b2", "scores = np.maximum(0, hidden.dot(W2) + b2)"),
        # The loss leaves out the regulariser that the gradients add.
        ("fc_net_student.py", "loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))", "pass"),
        # The first layer's gradient from the second layer's cache.
        (
            "fc_net_student.py",
            '_, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)',
            '_, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, (scores_cache, hidden_cache[1]))',
        ),
    ],
)
def test_real_two_layer_net_bugs_fail(tmp_path, name, old, new):
    verdict = grade_source(tmp_path, mutate(source(name), old, new), only=("TwoLayerNet",))["TwoLayerNet"]
    assert verdict["status"] in ("fail", "error"), verdict["message"]


def test_a_model_that_hands_its_layer_another_layers_cache_is_pointed_at_its_own_line(tmp_path):
    """The error is raised in affine_backward, which is right: the line to look at is the model's call."""
    text = mutate(
        source("fc_net_student.py"),
        '_, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)',
        '_, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, (scores_cache, hidden_cache[1]))',
    )
    verdict = grade_source(tmp_path, text)["TwoLayerNet"]  # its layers graded too: they pass
    assert verdict["status"] == "error" and verdict["mistakes"][0] == "bad_call_of_a_passing_function"
    line = next(n for n, code in enumerate(text.splitlines(), 1) if "(scores_cache, hidden_cache[1])" in code)
    assert verdict["diagnosis"][0].startswith(
        f"the error is raised inside your affine_backward (line 10), which passes on its own: what line {line} "
    ), verdict["diagnosis"]


def test_the_three_layer_convnet_passes_built_with_its_own_arguments(tmp_path):
    """cnn.py's ThreeLayerConvNet (input_dim as (C, H, W), num_filters, filter_size) on the shipped fast
    layers: its loss, every gradient and its label-free scores."""
    verdict = grade_source(tmp_path, source("cnn_student.py"), name="cnn.py", only=("ThreeLayerConvNet",))[
        "ThreeLayerConvNet"
    ]
    assert verdict["status"] == "pass", verdict["message"]
    assert any(n.startswith("judged with 0.5 * reg * sum(W^2)") for n in verdict["notes"]), verdict["notes"]
    names = {c["name"].split(" [")[0] for c in verdict["checks"]}
    assert names >= {"loss", "dW1", "db1", "dW2", "db2", "dW3", "db3", "scores"}, names


@pytest.mark.parametrize(
    "old,new",
    [
        ("np.sum(W2 * W2) + np.sum(W3 * W3))", "np.sum(W2 * W2))"),  # W3 left out of the regularisation
        ('conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}', 'conv_param = {"stride": 1, "pad": 1}'),
        ("        dhidden = drelu2 * (hidden > 0)\n", "        dhidden = drelu2\n"),  # the hidden ReLU skipped
        ("            return scores\n", "            return np.maximum(scores, 0)\n"),  # scores through a ReLU
    ],
)
def test_real_three_layer_convnet_bugs_fail(tmp_path, old, new):
    verdict = grade_source(
        tmp_path, mutate(source("cnn_student.py"), old, new), name="cnn.py", only=("ThreeLayerConvNet",)
    )["ThreeLayerConvNet"]
    assert verdict["status"] in ("fail", "error"), verdict["message"]


def test_the_fully_connected_net_passes_plain_with_dropout_and_with_batch_and_layer_norm(tmp_path):
    """fc_net.py's FullyConnectedNet(hidden_dims, ..., dropout_keep_ratio, normalization, ...) with two
    hidden layers: built with dropout and normalisation off (its loss, six gradients, its scores), then
    with dropout (seeded: judged on the masks its own dropout_forward draws), with normalization=
    "batchnorm" and "layernorm" (gamma1, beta1, gamma2, beta2 too), one entry."""
    verdict = grade_source(tmp_path, source("fcn_student.py"), name="fc_net.py", only=("FullyConnectedNet",))[
        "FullyConnectedNet"
    ]
    assert verdict["status"] == "pass", verdict["message"]
    names = {c["name"] for c in verdict["checks"]}
    assert {
        "dW1 [small]",
        "scores [small, no labels]",
        "dW1 [dropout]",
        "dgamma1 [batchnorm]",
        "dbeta2 [layernorm]",
    } <= names


def test_the_2017_fully_connected_net_is_judged_with_batch_norm_only(tmp_path):
    """2017-19's constructor takes use_batchnorm=, and there is no layer norm: batch norm is judged,
    layer norm is noted as not taken."""
    text = mutate(source("fcn_student.py"), "        normalization=None,\n", "        use_batchnorm=False,\n")
    text = mutate(
        text, "self.normalization = normalization", 'self.normalization = "batchnorm" if use_batchnorm else None'
    )
    verdict = grade_source(tmp_path, text, name="fc_net.py")["FullyConnectedNet"]
    assert verdict["status"] == "pass", verdict["message"]
    assert "dgamma1 [batchnorm]" in {c["name"] for c in verdict["checks"]}
    assert not any("layernorm" in c["name"] for c in verdict["checks"])
    assert any("takes none of normalization: not judged with them" in n for n in verdict["notes"]), verdict["notes"]


@pytest.mark.parametrize(
    "old,new,sample",
    [
        # The normalisation's gradients never stored: grads has no gamma1 / beta1.
        (
            'dout, grads["gamma%d" % i], grads["beta%d" % i] = batchnorm_backward_alt(dout, norm_cache)',
            "dout, _, _ = batchnorm_backward_alt(dout, norm_cache)",
            "batchnorm",
        ),
        # Layer norm's backward skipped: the upstream gradient passes through unchanged.
        (
            'dout, grads["gamma%d" % i], grads["beta%d" % i] = layernorm_backward(dout, norm_cache)',
            'grads["gamma%d" % i], grads["beta%d" % i] = layernorm_backward(dout, norm_cache)[1:]',
            "layernorm",
        ),
        # Dropout's backward skipped: the gradient flows through the dropped units too.
        ("                dout = dropout_backward(dout, dropout_cache)\n", "                pass\n", "dropout"),
        # Dropout on the output scores too (at train time only, so the label-free scores stay right).
        (
            '        scores, last_cache = affine_forward(out, self.params["W%d" % L], self.params["b%d" % L])\n',
            '        scores, last_cache = affine_forward(out, self.params["W%d" % L], self.params["b%d" % L])\n'
            "        if self.use_dropout and mode == 'train':\n"
            "            scores = dropout_forward(scores, self.dropout_param)[0]\n",
            "dropout",
        ),
    ],
)
def test_a_fully_connected_net_wrong_only_in_one_setting_fails_there(tmp_path, old, new, sample):
    verdict = grade_source(
        tmp_path, mutate(source("fcn_student.py"), old, new), name="fc_net.py", only=("FullyConnectedNet",)
    )["FullyConnectedNet"]
    assert verdict["status"] in ("fail", "error"), verdict["message"]
    failed = {c["name"].split(" [")[1] for c in verdict["checks"] if not c["passed"]}
    assert failed and all(name.startswith(sample) for name in failed), failed


@pytest.mark.parametrize(
    "old,new",
    [
        ('        grads["W%d" % L] += self.reg * self.params["W%d" % L]\n', ""),  # the last W's reg term
        ("            dout = relu_backward(dout, relu_cache)\n", ""),  # the ReLUs skipped in the backward
        ("        for i in range(L - 1, 0, -1):", "        for i in range(L - 1, 1, -1):"),  # W1, b1 never reached
    ],
)
def test_real_fully_connected_net_bugs_fail(tmp_path, old, new):
    text = mutate(source("fcn_student.py"), old, new)
    verdict = grade_source(tmp_path, text, name="fc_net.py")["FullyConnectedNet"]
    assert verdict["status"] in ("fail", "error"), verdict["message"]


def test_models_in_a_students_package_import_their_layers_relatively(tmp_path):
    """A student's cs231n/ folder as the course lays it out: layers.py, layer_utils.py (from .layers
    import *) and classifiers/fc_net.py (from ..layers import *, from ..layer_utils import *) holding
    TwoLayerNet and FullyConnectedNet: both models are found, built and pass."""
    import shutil

    package = tmp_path / "cs231n"
    shutil.copytree(os.path.join(COURSE, "student_pkg", "cs231n"), package)
    with open(package / "layers.py", "a") as layers:  # the losses and dropout live in layers.py too
        fcn = source("fcn_student.py")
        layers.write("\n\n" + fcn[fcn.index("def dropout_forward") : fcn.index("class FullyConnectedNet")])
    (package / "classifiers").mkdir()
    (package / "classifiers" / "__init__.py").write_text("")
    two_layer = source("fc_net_student.py")
    (package / "classifiers" / "fc_net.py").write_text(
        "import numpy as np\n\nfrom ..layers import *\nfrom ..layer_utils import *\n\n\n"
        + two_layer[two_layer.index("class TwoLayerNet") :]
        + "\n\n"
        + fcn[fcn.index("class FullyConnectedNet") :]
    )
    verdicts = {r["name"]: r for r in grade_file(str(package), FAST)["results"]}
    for model in ("TwoLayerNet", "FullyConnectedNet"):
        assert verdicts[model]["status"] == "pass", (model, verdicts[model]["message"])
    assert verdicts["affine_backward"]["status"] == "pass"


def _files_alone(folder, layers_edit=("", "")):
    """fc_net_student.py split as a student hands in the files alone: layers.py, and fc_net.py importing
    them as the course's package does (cs231n.layers, cs231n.layer_utils, which it does not hand in)."""
    text = source("fc_net_student.py")
    layers = (
        text[: text.index("def affine_relu_forward")]
        + text[text.index("def softmax_loss") : text.index("class TwoLayerNet")]
    )
    folder.mkdir()
    (folder / "layers.py").write_text(layers.replace(*layers_edit))
    (folder / "fc_net.py").write_text(
        "import numpy as np\n\nfrom cs231n.layers import *\nfrom cs231n.layer_utils import *\n\n\n"
        + text[text.index("class TwoLayerNet") :]
    )
    return {r["name"]: r for r in grade_file(str(folder), FAST)["results"]}


def test_the_files_alone_import_each_other_and_the_courses_layer_utils(tmp_path):
    """layers.py is cs231n.layers to fc_net.py, and layer_utils (not handed in) is the course's, served:
    its composites are the course's code, not graded as the student's."""
    verdicts = _files_alone(tmp_path / "flat")
    assert verdicts["TwoLayerNet"]["status"] == "pass", verdicts["TwoLayerNet"]["message"]
    assert verdicts["affine_relu_forward"]["status"] == "missing"
    assert verdicts["TwoLayerNet"]["caused_by"] == []


def test_the_files_alone_with_the_courses_relative_imports_run_in_the_package(tmp_path):
    """classifiers/fc_net.py's `from ..layers import *` and layer_utils.py's `from .layers import *`,
    handed in as loose files beside layers.py: each is imported in the course's package."""
    text = source("fc_net_student.py")
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "layers.py").write_text(text[: text.index("def affine_relu_forward")])
    (folder / "layer_utils.py").write_text(
        "from .layers import *\n\n\n" + text[text.index("def affine_relu_forward") : text.index("class TwoLayerNet")]
    )
    (folder / "fc_net.py").write_text(
        "import numpy as np\n\nfrom ..layer_utils import *\nfrom ..layers import *\n\n\n"
        + text[text.index("class TwoLayerNet") :]
    )
    verdicts = {r["name"]: r for r in grade_file(str(folder), FAST)["results"]}
    for name in ("TwoLayerNet", "affine_relu_backward", "softmax_loss", "affine_backward"):
        assert verdicts[name]["status"] == "pass", (name, verdicts[name]["message"])


def test_a_model_failing_through_the_students_own_layer_names_that_layer_first(tmp_path):
    """A wrong db in affine_backward: TwoLayerNet (through the served affine_relu_backward too) is told
    that its failure comes from that layer, before anything of its own."""
    verdicts = _files_alone(tmp_path / "bug", ("np.sum(dout, axis=0)", "np.mean(dout, axis=0)"))
    model = verdicts["TwoLayerNet"]
    assert verdicts["affine_backward"]["status"] == "fail" and model["status"] == "fail"
    assert model["caused_by"] == ["affine_backward"], model["caused_by"]
    assert model["diagnosis"][0].startswith("it calls your own affine_backward, which fails on its own")
    assert model["mistakes"][0] == "calls_a_failing_function"


def test_a_failing_layer_the_model_does_not_call_is_not_blamed(tmp_path):
    """neural_net.py's TwoLayerNet computes its layers inline: a wrong affine_backward beside it is not its cause."""
    layers = (
        source("fc_net_student.py")
        .split("def relu_forward")[0]
        .replace("np.sum(dout, axis=0)", "np.mean(dout, axis=0)")
    )
    model = mutate(
        source("neural_net_student.py"), "scores = hidden.dot(W2) + b2", "scores = np.maximum(0, hidden.dot(W2) + b2)"
    )
    verdicts = grade_source(tmp_path, layers + "\n\n" + model.replace("import numpy as np\n", "", 1))
    assert verdicts["affine_backward"]["status"] == "fail"
    assert verdicts["TwoLayerNet"]["status"] == "fail" and verdicts["TwoLayerNet"]["caused_by"] == []
    assert "relu_on_scores" in verdicts["TwoLayerNet"]["mistakes"], verdicts["TwoLayerNet"]["message"][:300]


def _captioning(folder, model_edit=("", ""), layers_edit=("", "")):
    """rnn.py's CaptioningRNN handed in beside its rnn_layers.py (which it imports as cs231n.rnn_layers)."""
    folder.mkdir()
    (folder / "rnn_layers.py").write_text(mutate(source("seq_student.py"), *layers_edit))
    (folder / "rnn.py").write_text(mutate(source("rnn_student.py"), *model_edit))
    return {r["name"]: r for r in grade_file(str(folder), FAST)["results"]}


def test_a_mask_of_all_true_is_pointed_at_not_taken_for_a_right_value(tmp_path):
    """np.ones_like(captions_out, dtype=bool) equals any correct value divided by itself: that is no
    evidence it is right, and the line that makes it is the one pointed at."""
    edit = ("mask = captions_out != self._null", "mask = np.ones_like(captions_out, dtype=bool)")
    model = _captioning(tmp_path / "all_true", model_edit=edit)["CaptioningRNN"]
    assert model["status"] == "fail"
    assert model["where"]["code"] == "mask = np.ones_like(captions_out, dtype=bool)", model.get("where")
    assert "it is True in every entry" in model["message"], model["message"][:400]


def test_the_captioning_rnn_passes_with_an_rnn_and_with_an_lstm(tmp_path):
    """CaptioningRNN(word_to_idx, input_dim, wordvec_dim, hidden_dim, cell_type): loss(features,
    captions) and its eight gradients, built with cell_type "rnn" and then "lstm", in one entry."""
    model = _captioning(tmp_path / "ok")["CaptioningRNN"]
    assert model["status"] == "pass", model["message"]
    names = {c["name"] for c in model["checks"]}
    assert {"loss [small]", "dW_embed [small]", "db_proj [n1]", "dWx [lstm]", "dW_vocab [lstm-n1]"} <= names, names


@pytest.mark.parametrize(
    "old,new,failing",
    [
        # Every step scored, the <NULL> padding too.
        ("mask = captions_out != self._null", "mask = np.ones(captions_out.shape, dtype=bool)", "loss"),
        # The projection's bias gradient summed over the wrong axis.
        ('grads["b_proj"] = dh0.sum(axis=0)', 'grads["b_proj"] = dh0.sum(axis=1)', "db_proj"),
        # The LSTM branch's backward through the RNN's: right for cell_type "rnn" only.
        (
            'dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(dstates, recurrence_cache)',
            'dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dstates, recurrence_cache)',
            "lstm",
        ),
    ],
)
def test_real_captioning_rnn_bugs_fail(tmp_path, old, new, failing):
    model = _captioning(tmp_path / "bug", (old, new))["CaptioningRNN"]
    assert model["status"] in ("fail", "error"), model["message"]
    assert failing in model["message"], model["message"][:400]


def test_a_captioning_rnn_failing_through_the_students_rnn_backward_names_it(tmp_path):
    verdicts = _captioning(tmp_path / "layers", layers_edit=("    dh0 = dprev\n", "    dh0 = 0.5 * dprev\n"))
    assert verdicts["rnn_backward"]["status"] == "fail"
    assert verdicts["CaptioningRNN"]["caused_by"] == ["rnn_backward"], verdicts["CaptioningRNN"]["message"][:300]


def test_a_two_layer_net_left_as_the_starter_is_not_implemented(tmp_path):
    starter = source("neural_net_student.py").split("        W1, b1 = self.params")[0] + (
        "        loss, grads = None, {}\n        return loss, grads\n"
    )
    assert grade_source(tmp_path, starter, only=("TwoLayerNet",))["TwoLayerNet"]["status"] == "missing"


# ----- the student's own code, read where values cannot show the mistake -----


def test_a_continuation_line_without_parentheses_is_pointed_at_by_its_line(tmp_path):
    text = mutate(
        source("norms_student.py"),
        "    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std\n",
        "    dx = dxhat - dxhat.mean(axis=0)\n    - xhat * (dxhat * xhat).mean(axis=0)\n    dx = dx / std\n",
    )
    verdict = grade_source(tmp_path, text, only=("batchnorm_backward",))["batchnorm_backward"]
    assert verdict["status"] == "fail"
    line = text.splitlines().index("    - xhat * (dxhat * xhat).mean(axis=0)") + 1
    pointed = [h for h in verdict["diagnosis"] if h.startswith(f"line {line} `- xhat * (dxhat * xhat).mean(axis=0)`")]
    assert pointed and "continuation line without parentheses" in pointed[0], verdict["diagnosis"]
    assert not any(
        h.startswith("line ")
        for h in grade_source(tmp_path, source("norms_student.py"), only=("batchnorm_backward",))["batchnorm_backward"][
            "diagnosis"
        ]
    )


def test_a_config_key_the_course_never_sets_is_named_with_its_fallback(tmp_path):
    text = mutate(source("optim_student.py"), 'config["momentum"] * v', 'config.get("mu", 0.5) * v')
    verdict = grade_source(tmp_path, text, only=("sgd_momentum",))["sgd_momentum"]
    assert verdict["status"] == "fail"
    named = [h for h in verdict["diagnosis"] if "config['mu']" in h]
    assert named and "falls back on 0.5" in named[0] and named[0].startswith("line 10 "), verdict["diagnosis"]


def test_a_conv_crop_hard_coded_for_one_padding_is_pointed_at(tmp_path):
    text = mutate(source("conv_student.py"), "dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp[:, :, 1:-1, 1:-1]")
    verdict = grade_source(tmp_path, text, only=("conv_backward_naive",))["conv_backward_naive"]
    assert verdict["status"] == "fail"
    line = text.splitlines().index("    dx = dxp[:, :, 1:-1, 1:-1]") + 1
    assert verdict["diagnosis"][0].startswith(f"line {line} `dx = dxp[:, :, 1:-1, 1:-1]` crops a fixed 1"), verdict[
        "diagnosis"
    ]
    assert not any(
        "crops a fixed 1" in h
        for h in grade_source(tmp_path, source("conv_student.py"), only=("conv_backward_naive",))[
            "conv_backward_naive"
        ]["diagnosis"]
    )


def test_a_two_layer_net_whose_label_free_scores_are_wrong_fails_on_them(tmp_path):
    text = mutate(
        source("neural_net_student.py"),
        "        if y is None:\n            return scores\n",
        "        if y is None:\n            return hidden.dot(W2)\n",
    )
    verdict = grade_source(tmp_path, text, only=("TwoLayerNet",))["TwoLayerNet"]
    assert verdict["status"] == "fail"
    failed = [c["name"] for c in verdict["checks"] if not c["passed"]]
    assert failed == ["scores [small, no labels]"], failed


# ----- a whole assignment folder, and a class of them -----


def test_a_whole_a2_folder_is_graded_in_one_command_and_a_batch_of_them_makes_a_class_page(tmp_path, capsys):
    """cs231n/ with layers.py, classifiers/fc_net.py and cnn.py (as bench.speed writes it): one table with
    every A2 function and both models, full marks; two such folders (one with a model's mistake) as a
    batch make a class page that lists the models."""
    from bench.speed import a2_folder
    from gradref.cli import main

    batch = tmp_path / "class"
    alice = a2_folder(str(batch / "alice"))
    bob = a2_folder(str(batch / "bob"))
    fc_net = os.path.join(bob, "classifiers", "fc_net.py")
    with open(fc_net) as handle:
        text = handle.read()
    with open(fc_net, "w") as handle:  # bob leaves the last layer's weights out of the regularisation
        handle.write(mutate(text, '        grads["W%d" % L] += self.reg * self.params["W%d" % L]\n', ""))
    assert main(["grade", alice, "--assignment", "cs231n-a2"]) == 0
    table = capsys.readouterr().out
    assert "FullyConnectedNet (6/6)" in table and "ThreeLayerConvNet (4/4)" in table and "score 57 of 57" in table
    page = tmp_path / "class.html"
    code = main(
        [
            "grade",
            str(batch),
            "--batch",
            "--assignment",
            "cs231n-a2",
            "--html",
            str(page),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1  # bob fails
    text = re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", page.read_text()))
    assert "2 submissions; 2 graded" in text
    assert "FullyConnectedNet 1/2" in text and "ThreeLayerConvNet 2/2" in text, text[-3000:]


def test_a_net_that_takes_dropout_without_a_dropout_forward_to_judge_it_by_fails(tmp_path):
    """Its masks come from the student's own dropout_forward: without one, the dropout setting cannot be
    judged, and that is not a pass."""
    text = source("fcn_student.py").replace("dropout_forward(", "own_dropout(")
    verdict = grade_source(tmp_path, text, name="fc_net.py")["FullyConnectedNet"]
    assert verdict["status"] == "fail", verdict["message"]
    assert any(c["name"] == "dropout masks [dropout]" and not c["passed"] for c in verdict["checks"]), verdict[
        "checks"
    ][-3:]


def test_running_statistics_kept_with_keepdims_are_a_warning_when_test_mode_gives_the_same(tmp_path):
    """bn_param['running_mean'] stored as (1, D) through keepdims: the values are right and test mode
    broadcasts to the same output, so a warning; stored as (D, 1) test mode goes wrong, so a failure."""
    text = mutate(source("norms_student.py"), "mu = x.mean(axis=0)\n", "mu = x.mean(axis=0, keepdims=True)\n")
    text = mutate(text, "var = x.var(axis=0)\n", "var = x.var(axis=0, keepdims=True)\n")
    verdict = grade_source(tmp_path, text, only=("batchnorm_forward",))["batchnorm_forward"]
    assert verdict["status"] == "pass", verdict["message"][:300]
    assert any("is stored with shape (1, " in w and "keep the course's shape" for w in verdict["warnings"]), verdict[
        "warnings"
    ]
    columns = mutate(source("norms_student.py"), "mu = x.mean(axis=0)\n", "mu = x.mean(axis=0)[:, None]\n")
    columns = mutate(columns, "xhat = (x - mu) / std", "xhat = (x - mu.T) / std")
    assert grade_source(tmp_path, columns, only=("batchnorm_forward",))["batchnorm_forward"]["status"] == "fail"
