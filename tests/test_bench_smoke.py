"""The benchmarks run once at tiny sizes (a smoke test: no timing assertions)."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from bench import impls, runner
from conformance import backends, registry
from gradref.cli import main
from reference import oracle

FIELDS = {
    "op",
    "impl",
    "device",
    "dtype",
    "size",
    "flops",
    "bytes",
    "median_s",
    "iqr_s",
    "compile_s",
    "fraction_of_peak",
}


def tiny(op):
    spec = op.bench
    return dataclasses.replace(op, bench=dataclasses.replace(spec, sizes=spec.sizes[:1], quick=spec.quick[:1]))


# Every impl on ops of each kind (a layer, a loss, a model, an update rule, one without a reference);
# every op on numpy, and the jit-compiled reference on one op of each way its arguments are laid out
# (what prepare_jax_jit tells apart: the kind, and which arguments stay static), so that compiling
# sixty references does not take a minute of the suite to say nothing more of the runner.
EVERY_IMPL_ON = ("affine", "softmax_loss", "two_layer_net", "adam", "staged_expression")


def _argument_layout(op):
    """How the benchmark hands the op its arguments: its kind, and per argument whether it is
    differentiated, an array held static, or a plain value (and of which type)."""
    spec = tiny(op).bench
    args = spec.draw(spec.sizes[0], np.random.default_rng(0))
    return op.kind, tuple(
        "wrt" if name in op.wrt else "array" if isinstance(args[name], np.ndarray) else type(args[name]).__name__
        for name in op.signature
    )


def one_op_per_argument_layout(ops):
    layouts = {}
    for op in ops:
        layouts.setdefault(_argument_layout(op), op)
    return list(layouts.values())


def test_every_op_and_cpu_impl_yields_a_complete_row():
    ops = [tiny(op) for op in registry.ops()]
    jitted = one_op_per_argument_layout(ops)
    others = [op for op in ops if op.name in EVERY_IMPL_ON]
    rows = []
    for chosen, which in ((ops, ("numpy",)), (jitted, ("jax_jit",)), (others, impls.IMPLS)):
        result = runner.run(chosen, which, ["cpu"], ["float32"], quick=False, budget=0.0)
        rows += result["results"]
    jitted_names = {op.name for op in jitted}
    assert {(r["op"], r["impl"]) for r in rows} == {
        (name, impl)
        for name, op in registry.REGISTRY.items()
        for impl in ("numpy", "jax_eager", "jax_jit", "numpy_jit", "torch")
        if impl == "numpy" or name in EVERY_IMPL_ON or (impl == "jax_jit" and name in jitted_names)
        if (impl != "numpy_jit" or op.traceable) and (impl != "torch" or backends.torch_available())
    }
    for row in rows:
        assert FIELDS <= row.keys()
        assert row["median_s"] > 0 and row["fraction_of_peak"] > 0
        assert (row["compile_s"] is not None) == row["impl"].endswith("jit")
    assert result["machine"]["cpu_count"] >= 1


def test_the_jitted_ops_cover_every_argument_layout_with_fewer_ops():
    ops = [tiny(op) for op in registry.ops()]
    chosen = one_op_per_argument_layout(ops)
    assert {_argument_layout(op) for op in chosen} == {_argument_layout(op) for op in ops}
    assert {"loss", "update"} <= {op.kind for op in chosen} and len(chosen) < len(ops)


def test_bench_command_writes_json_and_plot(tmp_path, monkeypatch):
    for name in ("affine", "relu"):
        monkeypatch.setitem(registry.REGISTRY, name, tiny(registry.REGISTRY[name]))
    monkeypatch.setattr(runner, "QUICK_BUDGET_S", 0.0)
    path, png = tmp_path / "b.json", tmp_path / "b.png"
    assert main(["bench", "--quick", "--op", "affine", "--op", "relu", "--json", str(path), "--plot", str(png)]) == 0
    report = json.loads(path.read_text())
    assert {r["op"] for r in report["results"]} == {"affine", "relu"}
    assert {r["impl"] for r in report["results"]} == {"numpy", "jax_jit"}  # what --quick compares
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    eager = tmp_path / "e.json"
    assert main(["bench", "--quick", "--op", "relu", "--impl", "jax_eager", "--json", str(eager)]) == 0
    assert {r["impl"] for r in json.loads(eager.read_text())["results"]} == {"jax_eager"}  # unless asked for


def test_gemm_rows_are_rated_against_a_matmul_and_memory_rows_against_a_copy():
    peaks = runner.Peaks(0.0)
    affine, relu = tiny(registry.REGISTRY["affine"]), tiny(registry.REGISTRY["relu"])
    assert peaks.rate(affine, affine.bench.sizes[0], "numpy", "cpu", "float32")[1] == "flop/s"
    assert peaks.rate(relu, relu.bench.sizes[0], "jax_jit", "cpu", "float32")[1] == "B/s"


def test_bench_rejects_an_unknown_impl_with_exit_2():
    proc = subprocess.run([sys.executable, "-m", "gradref", "bench", "--impl", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown impl 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_on_gpu_without_one_exits_2():
    if oracle.gpu_available():
        pytest.skip("this machine has a GPU")
    proc = subprocess.run([sys.executable, "-m", "gradref", "bench", "--device", "gpu"], capture_output=True, text=True)
    assert proc.returncode == 2 and "no GPU is visible to JAX" in proc.stderr


def test_pytest_benchmark_suite_runs_once():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "bench/",
            "--benchmark-disable",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "relu-1000 or two_layer_net-32x100x50x10",  # a layer and a model at their smallest, every impl
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_quick_times_one_op_of_each_pair_of_regularisation_twins():
    ops = [
        registry.REGISTRY[n] for n in ("fc_net", "fc_net_full", "linear_svm", "linear_svm_half", "two_layer_net_full")
    ]
    planned = {row[0].name for row in runner.plan(ops, ["numpy"], ["cpu"], ["float32"], quick=True)}
    assert planned == {"fc_net", "linear_svm", "two_layer_net_full"}  # a twin alone is still timed
    assert {row[0].name for row in runner.plan(ops, ["numpy"], ["cpu"], ["float32"], quick=False)} == {
        o.name for o in ops
    }


def test_a_sweep_holds_one_draw_at_a_time_and_hands_memory_back_between_ops(monkeypatch):
    """The last row's arrays are let go before the next row's are drawn (two of the largest would
    otherwise be held at once), and what an op freed is handed back before the next op starts."""
    import weakref

    class Draw:  # stands for (args, dout); weakref-able, so the test sees when it is let go
        def __iter__(self):
            return iter(((), None))

    alive, events = [], []

    def drawing(op, size, dtype):
        events.append(("draw", op.name, sum(ref() is not None for ref in alive)))
        draw = Draw()
        alive.append(weakref.ref(draw))
        return draw

    monkeypatch.setattr(runner, "inputs", drawing)
    monkeypatch.setattr(runner, "measure", lambda op, *rest: {"op": op.name})
    monkeypatch.setattr(runner, "release_memory", lambda: events.append(("release",)))
    ops = [registry.REGISTRY["affine"], registry.REGISTRY["relu"]]
    rows = runner.run(ops, ["numpy", "jax_jit"], ["cpu"], ["float32"], quick=True)["results"]
    assert len(rows) == 2 * len(runner.plan(ops, ["numpy"], ["cpu"], ["float32"], quick=True))
    draws = [e for e in events if e[0] == "draw"]
    assert len(draws) == len(rows) // 2 and all(held == 0 for _, _, held in draws), events
    ops_in_order = [name for _, name, _ in draws]
    starts = [i for i, name in enumerate(ops_in_order) if i == 0 or name != ops_in_order[i - 1]]
    assert [e for e in events if e[0] == "release"] == [("release",)] * len(starts), events
    assert all(events[events.index(d) - 1] == ("release",) for d in (draws[i] for i in starts)), events
