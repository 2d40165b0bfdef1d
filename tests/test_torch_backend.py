"""`gradref check --backend torch` and `gradref bench --impl torch`: the manual code on torch tensors."""

import json

import numpy as np
import pytest

from conformance import backends, checks, registry, runner
from gradref.cli import main

torch = pytest.importorskip("torch", reason="torch is an optional extra (pip install 'gradref[torch]')")

# One op of each family: a layer, a loss, a normalisation with running state, a loop that writes into
# its own arrays, an update rule with a config of zeros, a recurrent step.
FAMILIES = ["relu", "softmax_loss", "batchnorm", "max_pool", "adam", "lstm_step", "dropout", "word_embedding"]


@pytest.mark.parametrize("name", FAMILIES)
def test_the_manual_code_runs_on_torch_and_agrees_with_numpy(name):
    op = registry.REGISTRY[name]
    case = checks.Case(op, op.samples[0].name, "float64")
    args, dout = checks.sample_args(case), checks.case_dout(case)
    on_numpy = checks.run_manual(op, args, dout, backends.NUMPY)
    torch_backend = backends.torch_backend("cpu")
    on_torch = checks.run_manual(op, args, dout, torch_backend)
    for grad in on_torch.grads:
        assert grad is None or isinstance(grad, (torch.Tensor, float, int, dict)), type(grad)
    expected = backends.to_numpy_tree((on_numpy.out, on_numpy.grads), backends.NUMPY)
    got = backends.to_numpy_tree((on_torch.out, on_torch.grads), torch_backend)
    np.testing.assert_allclose(_flat(got), _flat(expected), rtol=1e-12, atol=1e-14)


def _flat(tree):
    if isinstance(tree, dict):
        return np.concatenate([_flat(tree[k]) for k in sorted(tree)] or [np.zeros(0)])
    if isinstance(tree, (tuple, list)):
        return np.concatenate([_flat(v) for v in tree] or [np.zeros(0)])
    return np.ravel(np.asarray(tree, dtype=float)) if tree is not None else np.zeros(0)


def test_check_on_torch_passes_and_says_where_the_manual_code_ran(tmp_path):
    path = tmp_path / "check.json"
    code = main(["check", "--backend", "torch", "--op", "conv", "--op", "rmsprop", "--jobs", "1", "--json", str(path)])
    report = json.loads(path.read_text())
    assert code == 0, [row["failures"] for row in report["results"]]
    assert {row["manual_backend"] for row in report["results"]} == {"torch"}
    assert backends.selected() == "numpy"  # the choice ends with the command


def test_a_planted_bug_fails_on_torch_as_on_numpy():
    relu = registry.REGISTRY["relu"]
    wrong_at_zero_and_sign = checks.with_backward(relu, lambda dout, cache: dout * (cache >= 0) * -1)
    with backends.using("torch"):
        try:
            rows = runner.run([wrong_at_zero_and_sign], ("float64",), ("cpu",))
        finally:
            checks.clear_caches()
    assert rows[0]["status"] == "fail" and rows[0]["manual_backend"] == "torch"
    assert any("vjp" in failure for failure in rows[0]["failures"])


def test_check_on_torch_in_a_pool_of_workers(tmp_path):
    path = tmp_path / "check.json"
    code = main(["check", "--backend", "torch", "--op", "relu", "--op", "tanh", "--jobs", "2", "--json", str(path)])
    assert code == 0
    assert {row["manual_backend"] for row in json.loads(path.read_text())["results"]} == {"torch"}


def test_without_torch_the_backend_is_one_sentence_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(backends, "torch_available", lambda: False)
    assert main(["check", "--backend", "torch", "--op", "relu"]) == 2
    err = capsys.readouterr().err
    assert "needs PyTorch" in err and "gradref[torch]" in err and "Traceback" not in err


def test_bench_times_the_manual_code_on_torch(tmp_path, monkeypatch):
    from test_bench_smoke import tiny

    from bench import runner as bench_runner

    monkeypatch.setitem(registry.REGISTRY, "affine", tiny(registry.REGISTRY["affine"]))
    monkeypatch.setattr(bench_runner, "QUICK_BUDGET_S", 0.0)
    path = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--impl", "torch", "--impl", "numpy", "--op", "affine", "--json", str(path)])
    assert code == 0
    rows = json.loads(path.read_text())["results"]
    torch_rows = [r for r in rows if r["impl"] == "torch"]
    assert torch_rows and len(torch_rows) == len([r for r in rows if r["impl"] == "numpy"])
    assert all(r["median_s"] > 0 and r["rate"] > 0 for r in torch_rows)
