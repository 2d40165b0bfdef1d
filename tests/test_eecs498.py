"""EECS 498-007/598-005 in PyTorch: the course's A2 and A3 functions, written in its style for these
tests (tests/course/eecs498/), graded on torch float64 tensors. Correct folders pass; each planted
mistake fails and is named; autograd, float32 tensors and .cuda() are the course's own mistakes."""

import dataclasses
import os
import shutil
import textwrap

import pytest
from conftest import once_per_session

from gradref.grade import CannotGrade, Options, grade_file
from gradref.grade.course import assignments
from gradref.grade.judging import grader as grader_module
from gradref.grade.untrusted import confine

torch = pytest.importorskip("torch", reason="gradref's torch extra is not installed (make installs it)")

COURSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course", "eecs498")
OPTIONS = Options(timeout=20.0, memory_mb=2048)


def _grade(folder, options=OPTIONS):
    report = grade_file(os.path.join(COURSE, folder), options)
    return report, {r["name"]: r for r in report["results"]}


@pytest.fixture(scope="module")
def a2():
    return _grade("A2")


@pytest.fixture(scope="module")
def a2_bugs():
    return _grade("A2_bugs")


@pytest.fixture(scope="module")
def a3_bugs():
    return _grade("A3_bugs")


def test_a2_in_the_courses_style_passes_on_torch_tensors(a2):
    report, verdicts = a2
    assert report["convention"] == "eecs498" and report["assignments"] == ["eecs498 a2"]
    graded = {n: r["status"] for n, r in verdicts.items() if r["status"] != "missing"}
    assert graded == {
        "svm_loss_naive": "pass",
        "svm_loss_vectorized": "pass",
        "softmax_loss_naive": "pass",
        "softmax_loss_vectorized": "pass",
        "nn_forward_backward": "pass",
        "nn_forward_pass": "pass",
    }, [(n, r["message"]) for n, r in verdicts.items()]
    assert not verdicts["nn_forward_backward"]["warnings"], "the params dict is not read as X, y, ..."
    cost = [c for c in verdicts["svm_loss_naive"]["checks"] if c["name"].startswith("cost")]
    assert cost and cost[0]["passed"], "a naive torch loop is timed, and passes"


def _with_spec(name):
    return assignments.apply(assignments.load(name), dataclasses.replace(OPTIONS, assignment=assignments.load(name)))


def test_a3_in_the_courses_style_passes_as_static_methods():
    report, verdicts = _grade("A3", _with_spec("eecs498-a3"))
    graded = {n: r["status"] for n, r in verdicts.items() if r["status"] != "missing"}
    names = [
        f"{c}.{m}"
        for c in ("Linear", "ReLU", "Dropout", "Conv", "MaxPool", "SpatialBatchNorm")
        for m in ("forward", "backward")
    ]
    names += ["BatchNorm.forward", "BatchNorm.backward", "BatchNorm.backward_alt", "sgd_momentum", "rmsprop", "adam"]
    names += [
        "TwoLayerNet",
        "FullyConnectedNet",
        "ThreeLayerConvNet",
        "DeepConvNet",
    ]  # built with dtype=torch.float64 and the grader's device
    assert graded == dict.fromkeys(names, "pass"), [
        (n, r["message"]) for n, r in verdicts.items() if r["status"] != "pass"
    ]
    assert report["passed"] and report["assignments"] == ["eecs498-a3"]
    assert report["score"] == report["max_score"] == 54


def test_a3_dropout_alone_is_read_with_p_the_drop_probability(tmp_path):
    """Graded with no --assignment, EECS 498's Dropout takes p as the probability of dropping a unit
    (its course's reading; its docstring, removed here, is not what decides), not CS231n's keep
    probability."""
    with open(os.path.join(COURSE, "A3", "fully_connected_networks.py")) as handle:
        text = handle.read()
    said = '        """dropout_param: p is the probability of dropping a neuron output."""\n'
    assert said in text
    (tmp_path / "fully_connected_networks.py").write_text(text.replace(said, ""))
    options = dataclasses.replace(OPTIONS, only=("Dropout",))
    verdicts = {r["name"]: r for r in grade_file(str(tmp_path / "fully_connected_networks.py"), options)["results"]}
    forward = verdicts["Dropout.forward"]
    assert forward["status"] == "pass", forward["message"]
    assert "probability of dropping a unit, as EECS 498's starter says" in forward["message"]


def test_torchs_unbiased_var_is_named_in_torchs_words_and_the_backward_points_at_the_forward(tmp_path):
    """x.var(dim=0) divides by N - 1 in torch: the advice must not be NumPy's `x.var(axis=0)`, and the
    right backward, judged on the cache of that forward, is told to fix the forward first."""
    with open(os.path.join(COURSE, "A3", "convolutional_networks.py")) as handle:
        text = handle.read()
    assert "var = x.var(dim=0, unbiased=False)" in text
    (tmp_path / "convolutional_networks.py").write_text(text.replace("x.var(dim=0, unbiased=False)", "x.var(dim=0)", 1))
    shutil.copy(os.path.join(COURSE, "A3", "fully_connected_networks.py"), tmp_path)  # it imports that file
    options = dataclasses.replace(OPTIONS, only=("BatchNorm",))
    verdicts = {r["name"]: r for r in grade_file(str(tmp_path), options)["results"]}
    forward = verdicts["BatchNorm.forward"]
    assert forward["status"] == "fail" and "unbiased_variance" in forward["mistakes"], forward["message"]
    assert "unbiased=False" in forward["message"] and "np.var" not in forward["message"], forward["message"]
    for name in ("BatchNorm.backward", "BatchNorm.backward_alt"):
        backward = verdicts[name]
        assert backward["status"] == "fail" and backward["mistakes"][0] == "cache_of_a_failing_forward", backward
        assert "judged on the cache your BatchNorm.forward made" in backward["message"]


@pytest.mark.parametrize(
    "old, new, failing",
    [
        # The pool's backward skipped: a shape error in the conv before it, or wrong values.
        ("                dout = MaxPool.backward(dout, pool_cache)\n", "                pass\n", ""),
        # The linear layer's weights left out of the regularisation, in the loss and the gradient alike.
        (
            "        for i in range(1, L + 1):\n            loss = loss + self.reg",
            "        for i in range(1, L):\n            loss = loss + self.reg",
            "loss",
        ),
        # batchnorm=True accepted and ignored: right without it, wrong with it.
        (
            "            if self.batchnorm:\n                gamma",
            "            if False:\n                gamma",
            "batchnorm",
        ),
        # The batch norm's gradients computed but not stored: gamma and beta never learn.
        (
            'dout, grads["gamma%d" % (i + 1)], grads["beta%d" % (i + 1)] = SpatialBatchNorm',
            "dout, _, _ = SpatialBatchNorm",
            "gamma1",
        ),
    ],
)
def test_real_deep_convnet_bugs_fail(tmp_path, old, new, failing):
    """DeepConvNet(input_dims, num_filters, max_pools, batchnorm, ...) built with two conv layers."""
    import shutil

    shutil.copytree(os.path.join(COURSE, "A3"), tmp_path / "A3")
    path = tmp_path / "A3" / "convolutional_networks.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    options = dataclasses.replace(_with_spec("eecs498-a3"), only=("DeepConvNet", "ThreeLayerConvNet"))
    verdict = {r["name"]: r for r in grade_file(str(tmp_path / "A3"), options)["results"]}
    assert verdict["DeepConvNet"]["status"] in ("fail", "error"), verdict["DeepConvNet"]["message"]
    assert failing in verdict["DeepConvNet"]["message"]
    assert verdict["ThreeLayerConvNet"]["status"] == "pass"


def test_both_captioning_editions_rnn_functions_pass_under_their_spec():
    report, verdicts = _grade("A5", _with_spec("eecs498-rnn"))
    assert {n: r["status"] for n, r in verdicts.items()} == dict.fromkeys(
        [
            "rnn_step_forward",
            "rnn_step_backward",
            "rnn_forward",
            "rnn_backward",
            "temporal_softmax_loss",
            "dot_product_attention",
            "WordEmbedding.forward",
            "LSTM.step_forward",
            "lstm_step_forward",
        ],
        "pass",
    ), [(n, r["message"]) for n, r in verdicts.items()]
    assert report["score"] == report["max_score"] == 18
    checks = {c["name"] for c in verdicts["dot_product_attention"]["checks"]}
    assert {"out [small]", "attn_weights [small]"} <= checks, checks


# Mutants of the captioning file, each a function built on autograd with one thing wrong. They are
# graded two files at a time, each file holding mutants of different functions (the forget and input
# gates swapped is one edit of two functions): one grade judges each function on its own mistake.
AUTOGRAD_MUTANTS = (
    (
        # Averaged over N * T instead of summed over time and averaged over N.
        (
            'reduction="sum"\n    )\n    return loss / x.shape[0]',
            'reduction="mean"\n    )\n    return loss',
            "temporal_softmax_loss",
            "loss",
        ),
        # Scores not scaled by 1 / sqrt(H).
        ("squeeze(1) / H**0.5", "squeeze(1)", "dot_product_attention", "out"),
        # The embedding's rows picked by position, not by word.
        (
            "return self.W_embed[x]",
            "return self.W_embed[: x.shape[1]].expand(x.shape[0], -1, -1)",
            "WordEmbedding.forward",
            "out",
        ),
        # The forget and input gates swapped (2022's method through 2020's function: both fail).
        ("next_c = f * prev_c + i * g", "next_c = i * prev_c + f * g", "LSTM.step_forward", "out"),
        ("next_c = f * prev_c + i * g", "next_c = i * prev_c + f * g", "lstm_step_forward", "out"),
    ),
    (
        # The ignored steps counted too.
        ("ignore_index=ignore_index, ", "", "temporal_softmax_loss", "loss"),
        # The weights returned flat, (N, 16), not (N, 4, 4).
        ("attn_weights.reshape(N, D_a, D_a)", "attn_weights", "dot_product_attention", "attn_weights"),
    ),
)


def _grade_autograd_mutants(folder, group):
    with open(os.path.join(COURSE, "A5", "rnn_lstm_captioning.py")) as handle:
        text = handle.read()
    for old, new in dict.fromkeys((old, new) for old, new, _, _ in AUTOGRAD_MUTANTS[group]):
        assert old in text, old
        text = text.replace(old, new)
    (folder / "rnn_lstm_captioning.py").write_text(text)
    # Only the planted functions and one their mistakes must not touch (the rest is graded elsewhere).
    functions = (*dict.fromkeys(function for _, _, function, _ in AUTOGRAD_MUTANTS[group]), "rnn_backward")
    options = dataclasses.replace(_with_spec("eecs498-rnn"), only=functions)
    return {r["name"]: r for r in grade_file(str(folder), options)["results"]}


@pytest.mark.parametrize(
    "group, function, failing",
    [
        (group, function, failing)
        for group, mutants in enumerate(AUTOGRAD_MUTANTS)
        for _, _, function, failing in mutants
    ],
)
def test_the_captioning_parts_built_on_autograd_are_judged_by_their_forward(tmp_path_factory, group, function, failing):
    verdicts = once_per_session(
        tmp_path_factory, f"autograd-mutants-{group}", lambda folder: _grade_autograd_mutants(folder, group)
    )
    verdict = verdicts[function]
    assert verdict["status"] == "fail", verdict["message"]
    assert any(not c["passed"] and c["name"].startswith(failing + " [") for c in verdict["checks"]), verdict["checks"]
    assert verdicts["rnn_backward"]["status"] == "pass"


@pytest.mark.parametrize(
    "function, mistake",
    [
        ("svm_loss_naive", "tensor_dtype"),  # torch.zeros(W.shape): float32
        ("svm_loss_vectorized", "loss_not_averaged"),  # the loss is wrong while its gradient is right
        ("softmax_loss_naive", "autograd"),  # loss.backward() in a function to derive by hand
        ("softmax_loss_vectorized", "cuda_call"),  # .cuda() on a machine without a GPU
        ("nn_forward_backward", "biases_regularised"),
    ],
)
def test_each_planted_a2_mistake_fails_and_is_named(a2_bugs, function, mistake):
    verdict = a2_bugs[1][function]
    assert verdict["status"] in ("fail", "error") and mistake in verdict["mistakes"], verdict["message"]


def test_autograd_is_named_with_its_line(a2_bugs):
    message = a2_bugs[1]["softmax_loss_naive"]["message"]
    assert "autograd (line" in message and "requires_grad_()" in message, message


@pytest.mark.parametrize(
    "function, mistake",
    [
        ("Linear.backward", "dx_not_reshaped"),
        ("ReLU.backward", "tensor_dtype"),  # torch.zeros(dout.shape), then float64 values put into it
        ("MaxPool.backward", "argmax_assigned"),  # = where windows overlap: the notebook's 2x2/2 misses it
        ("SpatialBatchNorm.forward", "reshaped_without_transpose"),  # NCHW reshaped without a permute
        ("TwoLayerNet", "biases_regularised"),
    ],
)
def test_each_planted_a3_mistake_fails_and_is_named(a3_bugs, function, mistake):
    verdict = a3_bugs[1][function]
    assert verdict["status"] in ("fail", "error") and mistake in verdict["mistakes"], verdict["message"]
    assert a3_bugs[1]["Linear.forward"]["status"] == "pass"


def test_a_layers_own_backward_called_inside_another_is_not_autograd(tmp_path):
    """Linear.backward(dout, cache) inside a composite is the student's own layer, not autograd's."""
    (tmp_path / "layers.py").write_text(
        textwrap.dedent(
            """
            import torch

            class Linear(object):
                @staticmethod
                def forward(x, w, b):
                    return x.reshape(x.shape[0], -1).mm(w) + b, (x, w, b)

                @staticmethod
                def backward(dout, cache):
                    x, w, b = cache
                    return dout.mm(w.t()).reshape(x.shape), x.reshape(x.shape[0], -1).t().mm(dout), dout.sum(dim=0)

            class ReLU(object):
                @staticmethod
                def forward(x):
                    return x.clamp(min=0), x

                @staticmethod
                def backward(dout, cache):
                    return dout * (cache > 0)
            """
        )
    )
    verdicts = {r["name"]: r for r in grade_file(str(tmp_path), OPTIONS)["results"]}
    assert verdicts["ReLU.backward"]["status"] == "pass" and verdicts["Linear.backward"]["status"] == "pass"
    assert "autograd" not in verdicts["Linear.backward"]["mistakes"]


def test_attacks_through_torch_are_contained(tmp_path):
    """A pickle run by torch.load, the answer key looked for through torch's own files, threads past
    the limit: nothing reaches the grader, and the wrong answer fails."""
    marker = tmp_path / "pwned"
    (tmp_path / "linear_classifier.py").write_text(
        textwrap.dedent(
            f"""
            import io, os
            import torch

            class Payload:
                def __reduce__(self):
                    return (os.system, ("touch {marker}",))

            def svm_loss_naive(W, X, y, reg):
                buffer = io.BytesIO()
                torch.save(Payload(), buffer)
                buffer.seek(0)
                try:
                    torch.load(buffer, weights_only=False)
                except Exception:
                    pass
                site = os.path.dirname(os.path.dirname(torch.__file__))
                for name in ("jax", "gradref", "manual_grads"):
                    if os.path.exists(os.path.join(site, name)):
                        raise SystemExit("the answer key is here")
                torch.set_num_threads(64)
                scores = X.mm(W) @ torch.ones(W.shape[1], W.shape[1], dtype=W.dtype)
                return scores.sum() * 0, torch.zeros_like(W)
            """
        )
    )
    verdict = {r["name"]: r for r in grade_file(str(tmp_path), OPTIONS)["results"]}["svm_loss_naive"]
    assert not marker.exists(), "torch.load ran a program outside the sandbox"
    assert verdict["status"] in ("fail", "error") and "answer key" not in verdict["message"], verdict["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="process mode's worker root is made only as root")
def test_in_process_mode_torch_runs_in_a_worker_root_of_its_own(tmp_path):
    if not confine.uses_worker_root():
        pytest.skip(f"no worker root here: {confine.worker_root_check()[0]}")
    with open(os.path.join(COURSE, "A2", "linear_classifier.py")) as handle:
        source = handle.read()
    vectorized = source[source.index("def svm_loss_vectorized") : source.index("def sample_batch")]
    (tmp_path / "linear_classifier.py").write_text("import torch\n\n\n" + vectorized)
    report = grade_file(
        str(tmp_path / "linear_classifier.py"), Options(timeout=20.0, memory_mb=2048, sandbox="process")
    )
    assert report["isolation_note"].startswith("process isolation in a worker root of its own")
    verdicts = {r["name"]: r for r in report["results"]}
    assert verdicts["svm_loss_vectorized"]["status"] == "pass", verdicts["svm_loss_vectorized"]["message"]


def test_without_the_torch_extra_a_torch_submission_gets_one_sentence(monkeypatch):
    real = grader_module.importlib.util.find_spec
    monkeypatch.setattr(
        grader_module.importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(CannotGrade, match=r"gradref\[torch\]"):
        grade_file(os.path.join(COURSE, "A2"), OPTIONS)


SUPPORTED = """
import torch
from a3_helper import softmax_loss, svm_loss
from eecs598 import Solver
import eecs598
from eecs598.grad import compute_numeric_gradient, rel_error

eecs598.reset_seed(0)
x = torch.randn(4, 5, dtype=torch.float64)
y = torch.tensor([0, 1, 2, 3])
ERRORS = [
    rel_error(compute_numeric_gradient(lambda t: loss(t, y)[0], x), loss(x, y)[1]) for loss in (softmax_loss, svm_loss)
]


class Tiny:
    def __init__(self):
        self.params = {"W": torch.zeros(5, 4, dtype=torch.float64)}

    def loss(self, X, y=None):
        scores = X.mm(self.params["W"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        return loss, {"W": X.t().mm(dscores)}


data = {"X_train": x, "y_train": y, "X_val": x, "y_val": y}
solver = Solver(Tiny(), data, batch_size=4, num_epochs=20, optim_config={"learning_rate": 1.0}, verbose=False)
solver.train()
assert max(ERRORS) < 1e-6 and solver.best_val_acc == 1.0, (ERRORS, solver.best_val_acc)  # else no import


class ReLU(object):
    @staticmethod
    def forward(x):
        return x.clamp(min=0), x

    @staticmethod
    def backward(dout, cache):
        return dout * (cache > OWN)
"""


@pytest.mark.parametrize("own_helper", [False, True])
def test_the_courses_helpers_are_served_and_a_students_own_copy_wins(tmp_path, own_helper):
    """eecs598 (reset_seed, the gradient checks, Solver) and a3_helper's losses work inside the
    sandbox for a submission that brings none; a student's own a3_helper.py is the one imported."""
    (tmp_path / "fully_connected_networks.py").write_text(
        SUPPORTED.replace(
            "from a3_helper import softmax_loss, svm_loss", "from a3_helper import softmax_loss, svm_loss, OWN"
        )
        if own_helper
        else SUPPORTED.replace("cache > OWN", "cache > 0")
    )
    if own_helper:  # the student's copy: right losses, and a constant that makes ReLU.backward wrong
        helper = os.path.join(os.path.dirname(grader_module.__file__), "..", "course", "support", "a3_helper.py")
        with open(helper) as handle:
            (tmp_path / "a3_helper.py").write_text(handle.read() + "\nOWN = 1.0\n")
    report = grade_file(str(tmp_path), OPTIONS)
    verdicts = {r["name"]: r for r in report["results"]}
    assert verdicts["ReLU.forward"]["status"] == "pass", verdicts["ReLU.forward"]["message"]
    assert verdicts["ReLU.backward"]["status"] == ("fail" if own_helper else "pass"), verdicts["ReLU.backward"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA build of torch and a GPU")
@pytest.mark.parametrize("folder", ["A2", "A3", "A2_bugs", "A3_bugs"])
def test_the_same_verdicts_on_cuda_as_on_the_cpu(folder):
    """--device cuda: every function's verdict and named mistakes as on the CPU (float64 on both)."""
    options = _with_spec("eecs498-a3") if folder.startswith("A3") else OPTIONS
    on_cpu = _grade(folder, options)[1]
    on_gpu = _grade(folder, dataclasses.replace(options, device="cuda"))[1]
    expected = {n: (r["status"], r["mistakes"]) for n, r in on_cpu.items() if n != "softmax_loss_vectorized"}
    got = {n: (r["status"], r["mistakes"]) for n, r in on_gpu.items() if n != "softmax_loss_vectorized"}
    assert got == expected  # .cuda() is a mistake on the CPU only


def test_gradescope_bundle_for_a_pytorch_course_installs_torch_and_grades_a2(tmp_path):
    """The eecs498-a2 bundle's setup installs torch's CPU build (a NumPy course's does not), and its
    run grades the course's two files in the container's layout."""
    import shutil
    import zipfile

    from gradref.grade.front import platforms

    wheel = tmp_path / "gradref-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel's place")  # the bundle only packs it
    for name, wants_torch in (("eecs498-a2", True), ("cs231n-a1", False)):
        out = tmp_path / f"{name}.zip"
        platforms.gradescope_bundle(assignments.load(name), str(out), wheel=str(wheel))
        with zipfile.ZipFile(out) as archive:
            setup = archive.read("setup.sh").decode()
        assert ("download.pytorch.org/whl/cpu torch" in setup) == wants_torch, setup
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "assignment.toml").write_bytes(platforms._spec_text(assignments.load("eecs498-a2")))
    shutil.copytree(os.path.join(COURSE, "A2"), root / "submission")
    assert platforms.run_gradescope(str(root), OPTIONS) == 0
    with open(root / "results" / "results.json") as handle:
        data = __import__("json").load(handle)
    assert data["score"] == data["max_score"] == 26, data["output"]
    assert {t["name"] for t in data["tests"]} >= {"nn_forward_backward", "svm_loss_naive"}


def test_which_submissions_are_read_as_pytorch_ones(tmp_path):
    """EECS 498's folders are; a CS231n layers.py that imports torch beside its NumPy layers is not,
    nor one with an IDE's stray `from torch._C import ...`."""
    from gradref.grade.course.submission import written_in_torch

    assert all(written_in_torch(os.path.join(COURSE, f)) for f in ("A2", "A3", "A5", "A2_bugs", "A3_bugs"))
    numpy_layers = "import numpy as np\n\ndef affine_forward(x, w, b):\n    return x @ w + b, (x, w, b)\n\n"
    numpy_layers += (
        "def affine_backward(dout, cache):\n    return dout, dout, dout\n\ndef relu_forward(x):\n    return x, x\n"
    )
    for header in ("import torch\n", "from torch._C import default_generator\n"):
        (tmp_path / "layers.py").write_text(header + numpy_layers)
        assert not written_in_torch(str(tmp_path / "layers.py")), header


def test_the_look_at_lines_are_in_torchs_words(a3_bugs):
    """The catalogue's formulas are NumPy's; a torch student reads them as torch: permute, dim=."""
    message = a3_bugs[1]["SpatialBatchNorm.forward"]["message"]
    assert "x.permute(0, 2, 3, 1).reshape(-1, C)" in message and "transpose(0, 2, 3, 1)" not in message, message


def test_nn_forward_pass_is_judged_on_its_scores(tmp_path):
    """nn_forward_pass(params, X) -> (scores, hidden): scores passed through the ReLU fail on them."""
    with open(os.path.join(COURSE, "A2", "two_layer_net.py")) as handle:
        source = handle.read()
    source = source[: source.index("def nn_forward_backward")].replace(
        "from linear_classifier import sample_batch  # noqa: F401 - the course's file imports it\n", ""
    )
    assert "    scores = hidden.mm(W2) + b2\n" in source
    (tmp_path / "two_layer_net.py").write_text(
        source.replace("    scores = hidden.mm(W2) + b2\n", "    scores = (hidden.mm(W2) + b2).clamp(min=0)\n")
    )
    verdict = {r["name"]: r for r in grade_file(str(tmp_path), OPTIONS)["results"]}["nn_forward_pass"]
    assert verdict["status"] == "fail" and verdict["checks"][0]["name"].startswith("scores"), verdict["message"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with a GPU grades on it")
def test_device_cuda_without_a_gpu_is_one_sentence_and_exit_2(capsys):
    from gradref.cli import main

    assert main(["grade", os.path.join(COURSE, "A2"), "--device", "cuda"]) == 2
    error = capsys.readouterr().err
    assert "--device cuda needs a GPU and a CUDA build of torch" in error and "Traceback" not in error


def test_a_model_whose_loss_calls_autograd_fails_with_its_line(tmp_path):
    """TwoLayerNet.loss handing its gradients to loss.backward() fails, though its values are right."""
    source = """
import torch


class TwoLayerNet(object):
    def __init__(self, input_dim=3072, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=torch.float32, device="cpu"):
        self.reg = reg
        self.params = {
            "W1": weight_scale * torch.randn(input_dim, hidden_dim, dtype=dtype, device=device),
            "b1": torch.zeros(hidden_dim, dtype=dtype, device=device),
            "W2": weight_scale * torch.randn(hidden_dim, num_classes, dtype=dtype, device=device),
            "b2": torch.zeros(num_classes, dtype=dtype, device=device),
        }

    def loss(self, X, y=None):
        params = {k: v.detach().clone().requires_grad_() for k, v in self.params.items()}
        scores = (X.mm(params["W1"]) + params["b1"]).clamp(min=0).mm(params["W2"]) + params["b2"]
        if y is None:
            return scores.detach()
        loss = torch.nn.functional.cross_entropy(scores, y)
        loss = loss + self.reg * (torch.sum(params["W1"] ** 2) + torch.sum(params["W2"] ** 2))
        loss.backward()
        return loss.detach(), {k: v.grad for k, v in params.items()}
"""
    (tmp_path / "fully_connected_networks.py").write_text(source)
    verdict = {r["name"]: r for r in grade_file(str(tmp_path), OPTIONS)["results"]}["TwoLayerNet"]
    assert verdict["status"] == "fail" and "autograd" in verdict["mistakes"], verdict["message"]
    assert "TwoLayerNet.loss uses autograd (line" in verdict["message"], verdict["message"]
