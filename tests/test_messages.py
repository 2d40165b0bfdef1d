"""Messages a student reads (issue 38): untouched starter code is unfinished work, not broken code; a
backward kept from every call says why; quantities that are None get one sentence together."""

import os

from gradref.grade import Options
from gradref.grade.judging.grader import grade_file

HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = os.path.join(HERE, "course", "starter_stubs.py")


def _results(path, **options):
    return {r["name"]: r for r in grade_file(str(path), Options(timeout=20.0, **options))["results"]}


def test_an_untouched_starter_pair_is_not_implemented_yet_even_with_a_cache_of_its_own():
    results = _results(STUBS)
    assert results["spatial_groupnorm_forward"]["status"] == "missing"
    backward = results["spatial_groupnorm_backward"]
    assert backward["status"] == "missing" and backward["message"].startswith("not implemented yet"), backward
    assert results["relu_backward"]["status"] == "missing" and results["relu_forward"]["status"] == "pass"


def test_a_written_backward_whose_forward_is_a_stub_could_not_be_checked(tmp_path):
    path = tmp_path / "own_cache.py"
    path.write_text(
        "import numpy as np\n\n\n"
        "def batchnorm_forward(x, gamma, beta, bn_param):\n    out, cache = None, None\n    return out, cache\n\n\n"
        "def batchnorm_backward(dout, cache):\n"
        "    xhat, gamma, mu, xmu, ivar, sqrtvar, var, eps = cache\n"
        "    dbeta = dout.sum(axis=0)\n    dgamma = (dout * xhat).sum(axis=0)\n    dxhat = dout * gamma\n"
        "    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) * ivar\n"
        "    return dx, dgamma, dbeta\n"
    )
    backward = _results(path)["batchnorm_backward"]
    assert backward["status"] == "error", backward
    assert backward["message"].startswith("it could not be checked: batchnorm_forward"), backward["message"]
    assert "unpack" not in backward["message"]


def test_a_backward_whose_cache_is_its_own_is_not_an_error_where_its_forward_fails(tmp_path):
    path = tmp_path / "forward_raises.py"
    path.write_text(
        "import numpy as np\n\n\n"
        "def batchnorm_forward(x, gamma, beta, bn_param):\n    raise ValueError('not yet right')\n\n\n"
        "def batchnorm_backward(dout, cache):\n"
        "    xhat, gamma, mu, xmu, ivar, sqrtvar, var, eps = cache\n"
        "    return dout * ivar, (dout * xhat).sum(axis=0), dout.sum(axis=0)\n"
    )
    backward = _results(path)["batchnorm_backward"]
    assert backward["status"] == "error" and "could not be checked" in backward["message"], backward["message"]
    assert "unpack" not in backward["message"]


def test_quantities_that_are_none_get_one_sentence_together(tmp_path):
    path = tmp_path / "nones.py"
    path.write_text(
        "import numpy as np\n\n\n"
        "def affine_forward(x, w, b):\n    out = x.reshape(x.shape[0], -1).dot(w) + b\n    return out, (x, w, b)\n\n\n"
        "def affine_backward(dout, cache):\n    x, w, b = cache\n"
        "    dx = dout.dot(w.T).reshape(x.shape)\n    dw, db = None, None\n    return dx, dw, db\n"
    )
    backward = _results(path)["affine_backward"]
    assert backward["status"] == "fail"
    together = [d for d in backward["diagnosis"] if "are None" in d]
    assert together == ["dw, db are None: they are not computed (or not returned)."], backward["diagnosis"]
    assert all(d.endswith(".") for d in backward["diagnosis"])


GROUPNORM_C_ONLY = '''
import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    Inputs:
    - x: Input data of shape (N, C, H, W)
    - gamma: Scale parameter, of shape {shape}
    - beta: Shift parameter, of shape {shape}
    """
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    xhat = ((xg - xg.mean(axis=2, keepdims=True)) / np.sqrt(xg.var(axis=2, keepdims=True) + eps)).reshape(x.shape)
    out = gamma[None, :, None, None] * xhat + beta[None, :, None, None]
    return out, (xhat, gamma, xg.var(axis=2, keepdims=True), eps, G)
'''


def test_a_convention_is_the_files_own_where_its_docstring_states_it(tmp_path):
    """A group norm that works only with gamma of shape (C,) passes where its own docstring says (C,)
    (the 2018-20 starter) or says nothing, and fails where it says (1, C, 1, 1) (the 2021 starter)."""
    verdicts = {}
    for name, shape in (("2021", "(1, C, 1, 1)"), ("2018", "(C,)"), ("silent", "unknown")):
        path = tmp_path / f"gn_{name}.py"
        path.write_text(GROUPNORM_C_ONLY.replace("{shape}", shape))
        verdicts[name] = _results(path)["spatial_groupnorm_forward"]
    assert verdicts["2021"]["status"] in ("fail", "error"), verdicts["2021"]["message"][:300]
    assert verdicts["2018"]["status"] == "pass", verdicts["2018"]["message"][:300]
    assert "as its own docstring states" in verdicts["2018"]["message"]
    assert verdicts["silent"]["status"] == "pass", verdicts["silent"]["message"][:300]


def test_a_softmax_that_never_subtracts_the_maximum_is_told_so_whatever_its_form(tmp_path):
    path = tmp_path / "logsumexp.py"
    path.write_text(
        "import numpy as np\n\n\ndef softmax_loss(x, y):\n    shifted = x\n"
        "    log_z = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n    log_probs = shifted - log_z\n"
        "    N = x.shape[0]\n    loss = -np.sum(log_probs[np.arange(N), y]) / N\n"
        "    dx = np.exp(log_probs)\n    dx[np.arange(N), y] -= 1\n    return loss, dx / N\n"
    )
    for strict in (False, True):
        entry = _results(path, strict=strict)["softmax_loss"]
        assert entry["mistakes"][0] == "no_max_shift" and "log_of_probability" not in entry["mistakes"], entry
        assert "without subtracting each row's maximum first" in entry["diagnosis"][0]
    assert entry["status"] == "fail" and entry["where"]["line"] == 6


def test_no_catalogue_sentence_a_hint_shows_holds_a_formula():
    """The hint level shows each mistake's sentence and strips its `Look at:` formula: the sentence
    itself says what is wrong in words (an operator named, `written with =`, is words too)."""
    import re

    from gradref.grade.explain.mistakes import CATALOGUE

    formulas = {
        (op, m.key, m.says)
        for op, mistakes in CATALOGUE.items()
        for m in mistakes
        if any(name != "with" for name in re.findall(r"([\w\]\['\"]+) = ", m.says))
    }
    assert formulas == set(), sorted(formulas)[:5]
