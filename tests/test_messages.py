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
