"""The whole CS231n layer set: every op is graded right when right and wrong when wrong; state rules."""

import dataclasses
import re

import numpy as np
import pytest

import manual_grads as mg
from conformance import checks, registry
from gradref.grade import Options, grade_file
from gradref.grade.course.targets import CS231N, MODEL, PAIR, TARGETS, UPDATE_RULE

MODULES = ["_xp", "_mode", "layers", "losses", "nets", "norms", "dropout", "conv", "sequence", "optim"]
NEW_OPS = [
    "batchnorm",
    "batchnorm_alt",
    "layernorm",
    "spatial_batchnorm",
    "spatial_groupnorm",
    "dropout",
    "conv",
    "conv_fast",
    "max_pool",
    "conv_relu",
    "conv_relu_pool",
    "rnn_step",
    "rnn",
    "word_embedding",
    "temporal_affine",
    "temporal_softmax_loss",
    "affine_bn_relu",
    "affine_ln_relu",
    "lstm_step",
    "lstm",
    "sgd",
    "sgd_momentum",
    "rmsprop",
    "adam",
]
OPTIONS = Options(timeout=30.0, memory_mb=2048)


def flattened_manual_grads():
    """manual_grads as one student-style file: the same code, relative imports removed."""
    parts = []
    for module in MODULES:
        with open(f"{mg.__path__[0]}/{module}.py") as handle:
            text = handle.read()
        text = re.sub(r"^from \.\w* import \([^)]*\)\n", "", text, flags=re.M)
        parts.append(re.sub(r"^from \.\w* import .*\n", "", text, flags=re.M))
    return "\n\n".join(parts)


def wrapped_wrong(source):
    """Every backward pass and loss gradient of `source`, off by half in its first gradient."""
    lines = [source]
    for target in TARGETS:
        if target.convention != CS231N:
            continue
        name = target.names[-1]
        if target.kind == UPDATE_RULE:
            lines.append(f"""
_right_{name} = {name}
def {name}(w, dw, config=None):
    next_w, config = _right_{name}(w, dw, config)
    return next_w + 0.5 * (next_w - w), config
""")
        elif target.kind == MODEL:
            lines.append(f"""
class {name}({name}):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        first = next(iter(grads))
        return loss, {{**grads, first: grads[first] * 1.5}}
""")
        elif target.kind == PAIR and target.op == "lstm_step":
            lines.append(f"""
_right_{name} = {name}
def {name}(dnext_h, dnext_c, cache):
    grads = _right_{name}(dnext_h, dnext_c, cache)
    return (grads[0] * 1.5,) + tuple(grads[1:])
""")
        elif target.kind == PAIR:
            lines.append(f"""
_right_{name} = {name}
def {name}(dout, cache):
    grads = _right_{name}(dout, cache)
    return (grads[0] * 1.5,) + tuple(grads[1:]) if isinstance(grads, tuple) else grads * 1.5
""")
        else:
            lines.append(f"""
_right_{name} = {name}
def {name}(*args):
    loss, dx = _right_{name}(*args)
    return loss, dx * 1.5
""")
    return "\n".join(lines)


def test_every_new_op_is_registered_with_a_grading_target():
    assert set(NEW_OPS) <= set(registry.REGISTRY)
    graded = {t.op for t in TARGETS}
    assert set(NEW_OPS) - {"conv_fast"} <= graded


@pytest.fixture(scope="module")
def correct_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("correct") / "layers.py"
    path.write_text(flattened_manual_grads())
    return grade_file(str(path), OPTIONS)


@pytest.fixture(scope="module")
def wrong_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("wrong") / "layers.py"
    path.write_text(wrapped_wrong(flattened_manual_grads()))
    return grade_file(str(path), OPTIONS)


def test_a_correct_solution_of_each_op_passes(correct_report):
    statuses = {r["name"]: r["status"] for r in correct_report["results"]}
    names = {n for t in TARGETS if t.convention == CS231N for n in t.names}
    assert {statuses[n] for n in names} == {"pass"}, {n: s for n, s in statuses.items() if s != "pass"}


def test_a_wrong_solution_of_each_op_fails(wrong_report):
    statuses = {r["name"]: r["status"] for r in wrong_report["results"]}
    for target in TARGETS:
        if target.convention == CS231N:
            assert statuses[target.names[-1]] == "fail", target
            if target.kind == PAIR:
                assert statuses[target.forward] == "pass", target


def test_batchnorm_train_mode_updates_the_running_statistics():
    op = registry.REGISTRY["batchnorm"]
    assert checks.run_check("state", checks.Case(op, "small", "float64")).passed
    assert checks.run_check("state", checks.Case(op, "test_mode", "float64")).passed

    def forgetful(x, gamma, beta, bn_param):
        return mg.batchnorm_forward(x, gamma, beta, dict(bn_param))  # updates a copy: the state is lost

    broken = dataclasses.replace(op, forward=forgetful)
    result = checks.run_check("state", checks.Case(broken, "small", "float64"))
    assert not result.passed and "bn_param['running_mean']" in result.detail


def test_batchnorm_backward_and_backward_alt_agree():
    case = checks.Case(registry.REGISTRY["batchnorm"], "course", "float64")
    _, cache = mg.batchnorm_forward(*[dict(a) if isinstance(a, dict) else a for a in checks.sample_args(case)])
    dout = np.random.default_rng(0).standard_normal((200, 3))
    for a, b in zip(mg.batchnorm_backward(dout, cache), mg.batchnorm_backward_alt(dout, cache)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_dropout_uses_the_course_mask_and_p_keeps():
    x = np.ones((1000, 100))
    out, _ = mg.dropout_forward(x, {"mode": "train", "p": 0.8, "seed": 1})
    assert abs(np.mean(out != 0) - 0.8) < 0.01 and np.allclose(out[out != 0], 1 / 0.8)
    np.random.seed(1)
    assert np.array_equal(out != 0, np.random.rand(1000, 100) < 0.8)
    assert np.array_equal(mg.dropout_forward(x, {"mode": "test", "p": 0.8})[0], x)


def test_dropout_with_p_as_the_drop_probability_fails(tmp_path):
    path = tmp_path / "old_year.py"
    path.write_text("""
import numpy as np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)      # an older year: p drops a unit
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
""")
    verdicts = {r["name"]: r["status"] for r in grade_file(str(path), OPTIONS)["results"]}
    assert verdicts["dropout_forward"] == "fail"


def test_word_embedding_backward_must_add_repeated_words(tmp_path):
    path = tmp_path / "embed.py"
    path.write_text("""
import numpy as np
def word_embedding_forward(x, W):
    return W[x], (x, W)
def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    dW[x] += dout              # repeated words overwrite instead of adding up
    return dW
""")
    verdicts = {r["name"]: r["status"] for r in grade_file(str(path), OPTIONS)["results"]}
    assert verdicts["word_embedding_forward"] == "pass" and verdicts["word_embedding_backward"] == "fail"


def test_samples_keep_max_pool_windows_free_of_ties():
    op = registry.REGISTRY["max_pool"]
    for name in op.sample_names():
        args = op.draw_sample(name, "float32").args
        gaps = registry._pool_gaps(args["x"].astype(np.float64), args["pool_param"])
        assert gaps.min() > 0
