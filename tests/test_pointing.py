"""Point at the line (issue 38): a failing function's first wrong value, found in its own code.

Course-style code staged one value per line (tests/course/staged_student.py, correct as written) with
one bug planted at a time: the report's `where` names the planted line, its sentence says how the value
is wrong, and the correct file gets no line. Recording is bounded against hostile code.
"""

import ast
import dataclasses
import json
import os

import pytest

from gradref.grade import Options
from gradref.grade.front.batch import grade_folder
from gradref.grade.judging.grader import grade_file

COURSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")
STAGED = os.path.join(COURSE, "staged_student.py")

# name: (the function that fails, old, new, the words its sentence holds)
PLANTS = {
    "dvar_half_left_out": (
        "batchnorm_backward",
        "dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar",
        "dvar = 1.0 / np.sqrt(var + eps) * dsqrtvar",
        "twice the right dvar",
    ),
    "dsqrtvar_sign": (
        "batchnorm_backward",
        "dsqrtvar = -1.0 / (sqrtvar**2) * divar",
        "dsqrtvar = 1.0 / (sqrtvar**2) * divar",
        "the negative of the right dsqrtvar",
    ),
    "dsqrtvar_power": (
        "batchnorm_backward",
        "dsqrtvar = -1.0 / (sqrtvar**2) * divar",
        "dsqrtvar = -1.0 / sqrtvar * divar",
        "dsqrtvar is the first value",
    ),
    "dmu_sign": (
        "batchnorm_backward",
        "dmu = -1 * np.sum(dx1, axis=0)",
        "dmu = np.sum(dx1, axis=0)",
        "the negative of the right dmu",
    ),
    "dxhat_without_gamma": (
        "batchnorm_backward",
        "dxhat = dout * gamma",
        "dxhat = dout",
        "the right dxhat without a factor it needs",
    ),
    "dgamma_summed_over_features": (
        "batchnorm_backward",
        "dgamma = np.sum(dout * xhat, axis=0)",
        "dgamma = np.sum(dout * xhat, axis=1).sum() * np.ones(D) / D",
        "dgamma is the first value",
    ),
    "tanh_square_misplaced": (
        "tanh_backward",
        "dx = dout * (1 - out**2)",
        "dx = dout * (1 - out) ** 2",
        "dx is the first value",
    ),
    "loss_not_averaged": (
        "softmax_loss",
        "loss = -np.sum(np.log(probs[np.arange(N), y])) / N",
        "loss = -np.sum(np.log(probs[np.arange(N), y]))",
        "N (the batch size)",
    ),
    "dx_over_classes": ("softmax_loss", "dx /= N", "dx /= x.shape[1]", "dx is the first value"),
    # Static findings: what values cannot show, pointed at just the same.
    "continuation_without_parentheses": (
        "batchnorm_backward",
        "dx = dx1 + dx2",
        "dx = dx1\n    + dx2",
        "continuation line without parentheses",
    ),
    "momentum_key_never_set": (
        "sgd_momentum",
        'v = config["momentum"] * v',
        'v = config.get("mu", 0.9) * v',
        "'mu'",
    ),
}


def _line_of(text, new):
    """The line number of the planted text's last line (the one a continuation bug is on)."""
    last = new.splitlines()[-1].strip()
    return next(i for i, line in enumerate(text.splitlines(), 1) if last in line)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pointing")
    batch = folder / "batch"
    batch.mkdir()
    with open(STAGED) as handle:
        source = handle.read()
    (batch / "correct.py").write_text(source)
    for name, (_, old, new, _) in PLANTS.items():
        assert source.count(old) == 1, old
        (batch / f"{name}.py").write_text(source.replace(old, new))
    grade_folder(str(batch), Options(timeout=20.0, memory_mb=1024), jobs=2, out=str(folder / "out"))
    found = {}
    for path in (folder / "out").iterdir():
        if path.name.endswith(".py.json"):
            found[path.name[: -len(".py.json")]] = json.loads(path.read_text())
    return found, source


def _entry(report, name):
    return next(r for r in report["results"] if r["name"] == name)


def test_the_correct_staged_file_passes_and_no_line_is_pointed_at(reports):
    found, _ = reports
    for entry in found["correct"]["results"]:
        assert entry["status"] in ("pass", "missing"), (entry["name"], entry["message"][:300])
        assert "where" not in entry and "first_wrong_value" not in entry["mistakes"]


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_the_planted_line_is_pointed_at(reports, plant):
    found, source = reports
    function, old, new, words = PLANTS[plant]
    entry = _entry(found[plant], function)
    assert entry["status"] == "fail", entry["message"][:300]
    planted = source.replace(old, new)
    where = entry.get("where")
    assert where is not None, entry["message"][:600]
    assert where["line"] == _line_of(planted, new), (where, entry["message"][:600])
    assert where["file"] == f"{plant}.py" and where["code"] == planted.splitlines()[where["line"] - 1].strip()
    assert words in entry["diagnosis"][0], entry["diagnosis"][:2]


def test_a_line_pointed_at_comes_first_and_says_what_is_right(reports):
    found, _ = reports
    entry = _entry(found["dvar_half_left_out"], "batchnorm_backward")
    first = entry["diagnosis"][0]
    assert first.startswith("line ") and "dvar is the first value that no correct derivation gives" in first
    assert "(what it is computed from, dsqrtvar, var, is right)" in first
    assert entry["message"].startswith("Likely mistake: line ")


def test_the_verdict_level_shows_no_line(reports):
    from gradref.grade.explain import feedback

    found, _ = reports
    entry = _entry(found["dvar_half_left_out"], "batchnorm_backward")
    assert "where" not in feedback.render(entry, feedback.VERDICT)
    hinted = feedback.render(entry, feedback.HINT)
    assert hinted["where"] == entry["where"] and "line " in hinted["diagnosis"][0]


HOSTILE_LOOP = """
def tanh_backward(dout, cache):
    out = cache
    for _ in range(3_000_000):
        pass
    dx = dout * (1 - out)
    return dx
"""

HOSTILE_MANY = (
    """
def tanh_backward(dout, cache):
    out = cache
"""
    + "".join(f"    a{i} = np.ones(1_000_000) * {i}\n" for i in range(12))
    + """    dx = dout * (1 - out)
    return dx
"""
)


@pytest.mark.parametrize("body,why", [(HOSTILE_LOOP, "more than 1,000,000 lines"), (HOSTILE_MANY, "MB of them")])
def test_recording_is_bounded_and_says_so(tmp_path, body, why):
    path = tmp_path / "hostile.py"
    path.write_text("import numpy as np\n\n\ndef tanh_forward(x):\n    out = np.tanh(x)\n    return out, out\n" + body)
    report = grade_file(str(path), Options(timeout=60.0, memory_mb=1024))
    entry = _entry(report, "tanh_backward")
    assert entry["status"] == "fail", entry["message"][:300]
    assert any(why in note for note in entry["notes"]), entry["notes"]


def test_a_name_read_in_another_case_than_it_is_computed_is_pointed_at(tmp_path):
    with open(STAGED) as handle:
        source = handle.read()
    old = "    dx = dout * (1 - out**2)\n    return dx"
    assert old in source
    path = tmp_path / "twin.py"
    path.write_text("dx = 0.0  # left over from an earlier cell\n" + source.replace(old, old.replace("dx =", "dX =")))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "tanh_backward")
    assert entry["status"] == "fail", entry["message"][:300]
    assert "reads dx, which this function never assigns, while it computes dX" in entry["diagnosis"][0]
    assert entry["where"]["code"] == "return dx"


LOOP_SUM = """import numpy as np


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    xf = x.reshape(x.shape[0], -1)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(xf.shape[0]):
        dw = np.outer(xf[n], dout[n])
        db += dout[n]
    return (dout @ w.T).reshape(x.shape), dw, db
"""


def test_a_sum_assigned_anew_in_its_loop_is_pointed_at(tmp_path):
    """dw starts at zero and is assigned, not added to, on every pass: the line that drops the sum is
    named; db, summed with +=, and a correct loop are not."""
    path = tmp_path / "loops.py"
    path.write_text(LOOP_SUM)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "affine_backward")
    assert entry["status"] == "fail", entry["message"][:300]
    assert entry["where"]["code"] == "dw = np.outer(xf[n], dout[n])", entry["where"]
    assert "assigns dw anew on every pass of the loop at line 13" in entry["diagnosis"][0]
    path.write_text(LOOP_SUM.replace("dw = np.outer", "dw += np.outer"))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "affine_backward")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


ADAM = """import numpy as np


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    t = config.get("t", 0) + 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw * dw
    m_hat = config["m"] / (1 - config["beta1"] ** t)
    v_hat = config["v"] / (1 - config["beta2"] ** t)
    config["t"] = t
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config
"""


def test_a_step_count_never_increased_is_pointed_at(tmp_path):
    path = tmp_path / "optim.py"
    path.write_text(ADAM.replace('t = config.get("t", 0) + 1', 't = config.get("t", 0)'))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "adam")
    assert entry["status"] == "fail", entry["message"][:300]
    assert entry["where"]["code"] == 't = config.get("t", 0)', entry["where"]
    assert "is never increased, yet lines 16 and 17 raise to its power" in entry["diagnosis"][0]


def test_a_step_count_increased_after_its_use_is_pointed_at_and_a_right_one_is_not(tmp_path):
    path = tmp_path / "optim.py"
    late = ADAM.replace('t = config.get("t", 0) + 1', 't = config.get("t", 0)').replace(
        '    config["t"] = t\n', '    config["t"] = t + 1\n'
    )
    path.write_text(late)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "adam")
    assert entry["status"] == "fail" and entry["where"]["code"] == 'config["t"] = t + 1', entry["where"]
    assert "after lines 16 and 17 used it" in entry["diagnosis"][0]
    path.write_text(ADAM)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "adam")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


DROPOUT = """import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    out = x
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
"""


def test_a_random_layers_only_computing_line_is_pointed_at_and_only_that(tmp_path):
    """Dropout draws its own mask, so no run of it has the reference's values; a backward whose one
    computing line is wrong is pointed there, one that computes over two lines is not, and a right
    one gets no line."""
    path = tmp_path / "dropout.py"
    wrong = DROPOUT.replace("return dout * mask if", "return dout * (mask > 0) if")
    path.write_text(wrong)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "dropout_backward")
    line = next(i for i, text in enumerate(wrong.splitlines(), 1) if "(mask > 0)" in text)
    assert entry["status"] == "fail" and entry["where"]["line"] == line, entry.get("where")
    assert "is the only line that computes dropout_backward's result" in entry["diagnosis"][0]
    path.write_text(
        DROPOUT.replace(
            '    return dout * mask if dropout_param["mode"] == "train" else dout\n',
            "    keep = mask > 0\n    return dout * keep\n",
        )
    )
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "dropout_backward")
    assert entry["status"] == "fail" and not entry.get("where"), entry.get("where")
    path.write_text(DROPOUT)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "dropout_backward")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


POOL = """import numpy as np


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)
"""


def test_a_pooling_window_read_into_the_other_sides_name_is_pointed_at(tmp_path):
    path = tmp_path / "pool.py"
    path.write_text(POOL.replace('ph, pw, s = pool_param["pool_height"]', 'pw, ph, s = pool_param["pool_height"]'))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "max_pool_forward_naive")
    assert entry["status"] == "fail" and entry["where"]["line"] == 5, entry.get("where")
    assert "reads pool_param['pool_height'] into pw, a name of the window's width" in entry["diagnosis"][0]
    path.write_text(POOL)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "max_pool_forward_naive")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


def test_an_svm_with_its_margin_in_a_name_of_its_own_is_not_read_as_missing_it():
    from gradref.grade.explain import static

    missing = "def svm_loss(x, y):\n    c = x[range(len(y)), y][:, None]\n    m = np.maximum(0, x - c)\n    return m.sum(), m\n"
    assert "with no margin" in static.findings(missing, "svm_loss")[0]
    for margin in ("    delta = 1.0\n    m = np.maximum(0, x - c + delta)\n", "    m = np.maximum(0, x + 1 - c)\n"):
        there = missing.replace("    m = np.maximum(0, x - c)\n", margin)
        assert not [f for f in static.findings(there, "svm_loss") if "margin" in f], there


def _course_function(file, name):
    """One function of a course-style file, as a module of its own."""
    with open(os.path.join(COURSE, file)) as handle:
        text = handle.read()
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return "import numpy as np\n\n\n" + ast.get_source_segment(text, node) + "\n"


POOL_FORWARD = _course_function("conv_student.py", "max_pool_forward_naive")


def test_a_loop_that_skips_its_first_step_is_pointed_at_and_a_whole_one_is_not(tmp_path):
    path = tmp_path / "pool.py"
    path.write_text(POOL_FORWARD.replace("for j in range(Wo):", "for j in range(1, Wo):"))
    options = dataclasses.replace(Options(timeout=20.0), only=("max_pool_forward_naive",))
    entry = _entry(grade_file(str(path), options), "max_pool_forward_naive")
    assert entry["status"] == "fail" and entry["where"]["code"] == "for j in range(1, Wo):", entry.get("where")
    assert "never reaches the first index along axis 3 of out" in entry["diagnosis"][0]
    path.write_text(POOL_FORWARD)
    entry = _entry(grade_file(str(path), options), "max_pool_forward_naive")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


def test_a_window_written_with_equals_is_read_from_the_code_and_a_block_is_not():
    from gradref.grade.explain import static

    windows = """
import numpy as np

def max_pool_backward_naive(dout, cache):
    x, p = cache
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        dx[:, :, i * p['stride']:i * p['stride'] + p['pool_height']] = dout[:, :, i:i + 1]
    return dx
"""
    found = static.findings(windows, "max_pool_backward_naive")
    assert len(found) == 1 and found[0].startswith("line 8 `dx[:, :, i * p['stride']") and "+=" in found[0]
    added = windows.replace("] = dout", "] += dout")
    blocks = windows.replace("i * p['stride']:i * p['stride'] + p['pool_height']", "i * 2:(i + 1) * 2")
    assert static.findings(added, "max_pool_backward_naive") == []
    assert static.findings(blocks, "max_pool_backward_naive") == []


def test_a_carry_never_read_inside_its_loop_is_read_from_the_code_and_one_handed_on_is_not():
    from gradref.grade.explain import static

    dropped = """
def rnn_backward(dh, cache):
    dprev = 0 * dh[:, 0, :]
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev = step_backward(dh[:, t, :], cache[t])
    dh0 = dprev
    return dh0
"""
    found = static.findings(dropped, "rnn_backward")
    assert len(found) == 1 and found[0].startswith("line 5 `dx_t, dprev = step_backward") and "dprev" in found[0]
    carried = dropped.replace("step_backward(dh[:, t, :], cache[t])", "step_backward(dh[:, t, :] + dprev, cache[t])")
    assert static.findings(carried, "rnn_backward") == []


def test_a_layer_skipped_in_a_composite_backward_is_read_from_the_code_and_an_unused_bias_is_not():
    from gradref.grade.explain import static

    skipped = """
def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    dx, dw, db = affine_backward(dout, fc_cache)
    return dx, dw, db
"""
    found = static.findings(skipped, "affine_relu_backward")
    assert len(found) == 1 and found[0].startswith("line 4 `dx, dw, db = affine_backward(dout, fc_cache)`")
    assert "without going through the relu" in found[0]
    whole = skipped.replace(
        "affine_backward(dout, fc_cache)", "affine_backward(relu_backward(dout, relu_cache), fc_cache)"
    )
    assert static.findings(whole, "affine_relu_backward") == []
    unused_bias = """
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    return x * 0, w * 0, dout.sum(axis=(0, 2, 3))
"""
    assert static.findings(unused_bias, "conv_backward_naive") == []


def test_channels_reshaped_without_a_transpose_are_read_from_the_code_and_moved_ones_are_not():
    from gradref.grade.explain import static

    mixed = """
def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.reshape(-1, C), cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta
"""
    found = static.findings(mixed, "spatial_batchnorm_backward")
    assert len(found) == 1 and found[0].startswith("line 4 ") and "without moving the channels last" in found[0]
    moved = mixed.replace("dout.reshape(-1, C)", "dout.transpose(0, 2, 3, 1).reshape(-1, C)")
    assert static.findings(moved, "spatial_batchnorm_backward") == []


def test_a_flipped_filter_and_one_filters_bias_are_read_from_the_code_and_the_right_conv_is_not():
    from gradref.grade.explain import static

    right = _course_function("conv_student.py", "conv_forward_naive")
    assert static.findings(right, "conv_forward_naive") == []
    flipped = right.replace("np.tensordot(window, w,", "np.tensordot(window, w[:, :, ::-1, ::-1],")
    one_bias = right.replace("axes=([1, 2, 3], [1, 2, 3])) + b", "axes=([1, 2, 3], [1, 2, 3])) + b[0]")
    assert ["flips the filter w" in f for f in static.findings(flipped, "conv_forward_naive")] == [True]
    assert ["the first filter's bias" in f for f in static.findings(one_bias, "conv_forward_naive")] == [True]


# Plants of the catalogue whose line only a relation of values names (tests/test_mistakes.py holds them).
PLANT_LINES = {
    # dc = ... tanh(prev_c): di = dc * g is wrong, g right, and the right di over g is the right dc.
    ("lstm_step", "tanh_prime_of_prev_c"): (
        "lstm_step_backward",
        "dc = dnext_c + dnext_h * o * (1 - np.tanh(prev_c) ** 2)",
        "di is it times values that are right, and the right di needs another dc here",
    ),
    # The scores through a ReLU: the right scores with their negative entries at 0.
    ("two_layer_net", "relu_on_scores"): (
        "TwoLayerNet",
        "scores, scores_cache = affine_relu_forward(hidden, W2, b2)",
        "passed through a ReLU (its negative entries are 0): no ReLU belongs here",
    ),
    ("three_layer_convnet", "relu_on_scores"): (
        "ThreeLayerConvNet",
        "scores = np.maximum(pre, 0)",
        "passed through a ReLU (its negative entries are 0): no ReLU belongs here",
    ),
    # The gates sliced in another order: g is tanh of the block of a that o's sigmoid should take.
    ("lstm_step", "gate_order"): (
        "lstm_step_forward",
        "i, f, g, o = (sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:]))",
        "it is tanh of columns 10:15 of a correct value of shape (3, 20), a block no correct derivation takes",
    ),
    # Channels interleaved into groups: x regrouped so that no mean over any axes is a group's.
    ("spatial_groupnorm", "channels_interleaved"): (
        "spatial_groupnorm_forward",
        "xg = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, G, -1)",
        "holds the right numbers regrouped in an order of its own, and no sum or mean of it over any axes",
    ),
    # Statistics per sample, returned early in train mode: the early return's values, not the last return's.
    ("spatial_batchnorm", "per_sample_statistics"): (
        "spatial_batchnorm_forward",
        "mu, sd = (x.mean(axis=(2, 3), keepdims=True), np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-05))",
        "averaged over axes (2, 3)",
    ),
    # The cell gradient multiplied by 0 on its way to the next step: read from the code.
    ("lstm", "cell_gradient_not_carried"): (
        "lstm_backward",
        "dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, 0 * dprev_c, cache[t])",
        "multiplies dprev_c by 0: the product is always 0, so dprev_c never counts here",
    ),
    # The forward caches the pre-activation a where the backward reads next_h: the forward's return.
    ("rnn_step", "tanh_prime_from_preactivation"): (
        "rnn_step_backward",
        "return (next_h, (x, prev_h, Wx, Wh, a))",
        "reads next_h, the forward's output, from the cache, but the cache holds another value there",
    ),
}


@pytest.mark.parametrize("plant", sorted(PLANT_LINES), ids=["__".join(p) for p in sorted(PLANT_LINES)])
def test_a_wrong_value_known_only_by_how_it_relates_to_a_right_one_is_pointed_at(tmp_path, plant):
    from test_mistakes import PLANTED, planted_source

    course_file, function, edits = PLANTED[plant]
    name, code, said = PLANT_LINES[plant]
    path = tmp_path / f"{plant[1]}.py"
    source = planted_source(course_file, function, edits)
    path.write_text(source)
    line = next(n for n, text in enumerate(source.splitlines(), 1) if text.strip() == code)
    entry = _entry(grade_file(str(path), Options(timeout=20.0, only=(name,))), name)
    assert entry["status"] == "fail", entry["message"][:300]
    assert entry.get("where", {}).get("line") == line, (entry.get("where"), entry["message"][:400])
    assert said in entry["diagnosis"][0], entry["diagnosis"][0]


def test_a_value_multiplied_by_zero_inside_a_call_is_read_from_the_code_and_the_zeros_idiom_is_not():
    from gradref.grade.explain import static

    dropped = """
def lstm_backward(dh, cache):
    dprev_h = 0 * dh[:, 0, :]
    dprev_c = dprev_h * 0
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev_h, dprev_c = step_backward(dh[:, t, :] + dprev_h, 0 * dprev_c, cache[t])
    return dprev_h
"""
    found = static.findings(dropped, "lstm_backward")
    assert len(found) == 1 and found[0].startswith("line 6 `dx_t, dprev_h, dprev_c = step_backward("), found
    assert found[0].endswith("multiplies dprev_c by 0: the product is always 0, so dprev_c never counts here")
    kept = dropped.replace("0 * dprev_c, cache", "dprev_c, cache")
    assert static.findings(kept, "lstm_backward") == []
    assert static.findings(kept.replace("0 * dh[:, 0, :]", "0.5 * dh[:, 0, :] * 0.0 + 1"), "lstm_backward") != []


def test_a_files_tree_is_parsed_once_however_many_functions_read_it(monkeypatch):
    """The diagnosis of each failing function reads its file's tree: the text is parsed once."""
    from gradref.grade.explain import firstwrong

    text = "def relu_backward(dout, cache):\n    return dout\n\n\ndef relu_forward(x):\n    return x, x\n"
    firstwrong.parsed.cache_clear()
    parses = []
    real = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *args, **kwargs: parses.append(1) or real(*args, **kwargs))
    nodes = [firstwrong.function_node(text, name) for name in ("relu_backward", "relu_forward", "relu_backward")]
    assert [n.name for n in nodes] == ["relu_backward", "relu_forward", "relu_backward"]
    assert len(parses) == 1 and nodes[0] is nodes[2]
    assert firstwrong.function_node(text + "\n", "relu_forward").name == "relu_forward" and len(parses) == 2


SOFTMAX_STAGED_IN_THE_RETURN = """import numpy as np


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = len(x)
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return -np.sum(log_probs[np.arange(n), y]) / n, dx / n
"""


@pytest.mark.parametrize(
    "old, new, pointed_at, words",
    [
        ("dx / n\n", "-(dx / n)\n", "return ", "the negative of the right dx"),
        ("dx / n\n", "dx / (2 * n)\n", "return ", "half the right dx"),
        # The staged value itself wrong (not by the 1/N the return applies): its own line.
        ("-= 1\n", "-= 2\n", "dx[np.arange(n), y] -= 2", "dx is the first value that no correct derivation"),
        ("return -np.sum", "return np.sum", "return ", "the negative of the right loss"),
    ],
)
def test_a_name_the_return_still_works_on_is_not_taken_for_the_output(tmp_path, old, new, pointed_at, words):
    """dx = p; dx[y] -= 1, divided by N in the return: the staged dx is right (N times the gradient,
    as the derivation stages it); what the return makes of it is the wrong value, and its line is the
    one to point at, not dx's. A staged value wrong in another way is pointed at where it is made."""
    path = tmp_path / "losses.py"
    assert old in SOFTMAX_STAGED_IN_THE_RETURN
    path.write_text(SOFTMAX_STAGED_IN_THE_RETURN.replace(old, new))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "softmax_loss")
    assert entry["status"] == "fail", entry["message"][:300]
    where = entry.get("where") or {}
    assert where.get("code", "").startswith(pointed_at), (where, entry["diagnosis"])
    assert words in entry["diagnosis"][0], entry["diagnosis"]


def test_a_name_the_return_divides_by_n_passes_where_right(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(SOFTMAX_STAGED_IN_THE_RETURN)
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "softmax_loss")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


SVM = """import numpy as np


def svm_loss(x, y):
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(n), y] = 0
    dx = (margins > 0).astype(float)
    dx[np.arange(n), y] -= dx.sum(axis=1)
    return margins.sum() / n, dx / n
"""


def test_an_svm_margin_other_than_1_is_named_with_its_line_and_a_margin_of_1_is_not(tmp_path):
    path = tmp_path / "svm.py"
    path.write_text(SVM.replace("+ 1.0)", "+ 3.25)"))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "svm_loss")
    assert entry["status"] == "fail" and "margin_not_one" in entry["mistakes"], entry["message"][:300]
    assert entry["where"]["code"] == "margins = np.maximum(0, x - correct + 3.25)", entry["where"]
    assert "adds 3.25 to the score difference as the margin" in entry["diagnosis"][0]
    path.write_text(SVM.replace("np.maximum(0, x - correct + 1.0)", "np.maximum(0, 1 + (x - correct))"))
    entry = _entry(grade_file(str(path), Options(timeout=20.0)), "svm_loss")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]


RNN_BACKWARD = _course_function("seq_student.py", "rnn_backward")


def test_a_backward_through_time_run_from_the_first_step_is_read_from_the_code():
    """`for t in range(T)` carrying dprev, indexing with t itself: named at the loop. Reversed, or
    counting up with the step index computed from t (T - 1 - t), it is not."""
    from gradref.grade.explain import static

    forward_order = RNN_BACKWARD.replace("for t in reversed(range(T)):", "for t in range(T):")
    assert forward_order != RNN_BACKWARD
    found = static.findings(forward_order, "rnn_backward")
    assert len(found) == 1 and "`for t in range(T):` runs the steps from the first up, handing dprev" in found[0]
    assert static.findings(RNN_BACKWARD, "rnn_backward") == []
    counted_down = RNN_BACKWARD.replace("for t in reversed(range(T)):", "for k in range(T):\n        t = T - 1 - k")
    assert static.findings(counted_down, "rnn_backward") == []


def test_pooling_windows_counted_without_the_stride_are_read_from_the_code():
    from gradref.grade.explain import static

    unstrided = POOL_FORWARD.replace("Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s", "Ho, Wo = H // ph, W // pw")
    assert unstrided != POOL_FORWARD
    found = static.findings(unstrided, "max_pool_forward_naive")
    assert len(found) == 1 and "`Ho, Wo = H // ph, W // pw` counts the windows as the input's height" in found[0]
    assert static.findings(POOL_FORWARD, "max_pool_forward_naive") == []


def test_a_term_whose_sign_is_flipped_is_pointed_at_and_said(tmp_path):
    """da = dnext_h * (1 + next_h ** 2): neither factor of it is wrong on its own, and it is the right
    da with one term's sign flipped (half its sum with the right one, dnext_h, is a correct value)."""
    path = tmp_path / "rnn_step.py"
    step = (
        _course_function("seq_student.py", "rnn_step_forward")
        + "\n\n"
        + _course_function("seq_student.py", "rnn_step_backward").replace("import numpy as np\n\n\n", "")
    )
    flipped = step.replace("(1 - next_h ** 2)", "(1 + next_h ** 2)")
    assert flipped != step
    path.write_text(flipped)
    options = dataclasses.replace(Options(timeout=20.0), only=("rnn_step_backward",))
    entry = _entry(grade_file(str(path), options), "rnn_step_backward")
    assert entry["status"] == "fail" and entry["where"]["code"] == "da = dnext_h * (1 + next_h ** 2)", entry.get(
        "where"
    )
    assert "with the sign of one of its terms flipped" in entry["diagnosis"][0]
    path.write_text(step)
    entry = _entry(grade_file(str(path), options), "rnn_step_backward")
    assert entry["status"] == "pass" and not entry.get("where"), entry["message"][:300]
