"""`gradref check` and `gradref example`: exit codes, JSON fields, one-sentence errors."""

import concurrent.futures
import json
import multiprocessing
import os
import subprocess
import sys

import pytest
from processes import AS_IN_A_TERMINAL, descendants, still_alive

from conformance import pools
from gradref.cli import main
from reference import oracle


def run_cli(*args):
    """The CLI as a user runs it: a separate process, its exit code and its output."""
    proc = subprocess.run([sys.executable, "-m", "gradref", *args], capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def test_check_json_lists_ops_in_both_dtypes(tmp_path):
    path = tmp_path / "check.json"
    code = main(["check", "--op", "sigmoid", "--op", "relu", "--json", str(path)])
    assert code == 0
    report = json.loads(path.read_text())
    assert report["passed"] is True
    assert {(r["op"], r["dtype"]) for r in report["results"]} == {
        ("sigmoid", "float64"),
        ("sigmoid", "float32"),
        ("relu", "float64"),
        ("relu", "float32"),
    }
    for row in report["results"]:
        assert row["status"] == "pass" and row["device"] == "cpu"
        assert 0 <= row["max_rel_error"] <= row["tolerance"]
        assert {"max_abs_error", "max_rel_error", "tolerance"} <= row.keys()
    assert report["versions"]["jax"] and report["versions"]["numpy"]
    assert report["precision"]["cpu"]["matmul_precision"] == "highest"


def test_check_prints_a_table(capsys):
    assert main(["check", "--op", "tanh", "--dtype", "float32"]) == 0
    printed = capsys.readouterr().out
    assert "tanh" in printed and "float32" in printed and "1 passed, 0 failed" in printed


def test_check_exits_1_when_an_op_fails(tmp_path, monkeypatch):
    import manual_grads as mg
    from conformance import checks, registry

    def wrong(dout, cache):
        return mg.tanh_backward(dout, cache) * 1.01

    monkeypatch.setitem(registry.REGISTRY, "tanh", checks.with_backward(registry.REGISTRY["tanh"], wrong))
    path = tmp_path / "r.json"
    assert main(["check", "--op", "tanh", "--json", str(path)]) == 1
    rows = json.loads(path.read_text())["results"]
    assert all(r["status"] == "fail" for r in rows) and "dx: worst element" in rows[0]["failures"][0]


@pytest.mark.parametrize(
    "args,sentence",
    [
        (["check", "--op", "nope"], "unknown op 'nope'"),
        (["check", "--json", "/no/such/folder/r.json"], "the folder /no/such/folder does not exist"),
        (["example", "nope"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(args, sentence):
    code, stdout, stderr = run_cli(*args)
    assert code == 2
    assert sentence in stderr
    assert "Traceback" not in stderr + stdout


def test_check_on_gpu_without_one_exits_2():
    if oracle.gpu_available():
        pytest.skip("this machine has a GPU")
    code, stdout, stderr = run_cli("check", "--device", "gpu")
    assert code == 2 and "no GPU is visible to JAX" in stderr and "Traceback" not in stderr


def test_every_command_has_help():
    for command in ([], ["check"], ["example"]):
        code, stdout, _ = run_cli(*command, "--help")
        assert code == 0 and "usage: gradref" in stdout


def test_example_add_mul_circuit(tmp_path):
    path = tmp_path / "e.json"
    assert main(["example", "add_mul_circuit", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["value"] == -12.0
    assert result["grads"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_example_sigmoid_neuron(tmp_path):
    path = tmp_path / "e.json"
    assert main(["example", "sigmoid_neuron", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    s = 1 / (1 + 2.718281828459045**-1)
    assert result["value"] == pytest.approx(s)
    ddot = s * (1 - s)
    assert result["grads"]["w"] == pytest.approx([-1 * ddot, -2 * ddot, ddot])
    assert result["grads"]["x"] == pytest.approx([2 * ddot, -3 * ddot])


def test_example_staged_expression_and_max_gate_print_stages(capsys):
    assert main(["example", "staged_expression"]) == 0
    printed = capsys.readouterr().out
    for stage in ("sigy", "num", "sigx", "xpy", "xpysqr", "den", "invden", "f"):
        assert f"  {stage} " in printed
    assert "jax.vjp in float64 agrees" in printed
    assert main(["example", "max_gate", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["grads"] == {"x": [1.0, 0.0, 0.0], "y": [0.0, 1.0, 1.0]}


def test_json_report_is_written_atomically(tmp_path):
    from gradref import output

    path = tmp_path / "r.json"
    output.write_json(str(path), {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_check_in_parallel_gives_the_same_rows_in_the_same_order(tmp_path, monkeypatch):
    serial, parallel = tmp_path / "s.json", tmp_path / "p.json"
    names = ("relu", "max_gate", "sigmoid", "add_mul_circuit")  # two ops a worker at least: both workers start
    ops = [arg for name in names for arg in ("--op", name)]
    assert main(["check", *ops, "--jobs", "1", "--json", str(serial)]) == 0
    entered = blocks_entered(monkeypatch)
    assert main(["check", *ops, "--jobs", "2", "--json", str(parallel)]) == 0
    assert entered == [1], "the pool's processes start with one BLAS thread each"
    rows = lambda path: json.loads(path.read_text())["results"]
    assert [(r["op"], r["dtype"]) for r in rows(serial)] == [(op, dt) for op in names for dt in ("float64", "float32")]
    assert rows(serial) == rows(parallel)


def blocks_entered(monkeypatch):
    """A list that grows by one each time a pool is started inside pools.one_blas_thread_each()."""
    entered, real = [], pools.one_blas_thread_each
    monkeypatch.setattr(pools, "one_blas_thread_each", lambda: entered.append(1) or real())
    return entered


def test_pool_processes_take_one_blas_thread_each_and_a_number_the_user_set_is_kept(monkeypatch):
    for name in pools.BLAS_THREADS:
        monkeypatch.delenv(name, raising=False)  # the test session itself sets them (conftest.py)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    before = {name: os.environ.get(name) for name in pools.BLAS_THREADS}
    with pools.one_blas_thread_each():
        pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        first = pool.submit(os.getenv, "OPENBLAS_NUM_THREADS")
    with pool:
        seen = {name: pool.submit(os.getenv, name).result() for name in pools.BLAS_THREADS}
    assert first.result() == "1"
    assert seen == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "3"}
    assert {name: os.environ.get(name) for name in pools.BLAS_THREADS} == before


def test_a_batch_starts_its_pool_with_one_blas_thread_each(tmp_path, monkeypatch):
    from gradref.grade import Options
    from gradref.grade.front.batch import grade_folder

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n")
    entered = blocks_entered(monkeypatch)
    grade_folder(str(tmp_path), Options(timeout=10.0), jobs=2, out=str(tmp_path / "reports"))
    assert entered == [1]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir() if p.suffix == ".json") == ["a.py.json", "b.py.json"]


def test_check_uses_every_core_unless_told(monkeypatch, tmp_path):
    from conformance import runner

    used = []
    monkeypatch.setattr(runner, "default_jobs", lambda: 2)
    monkeypatch.setattr(runner, "run_parallel", lambda ops, *a, **k: used.append(a[2]) or runner.run(ops, *a[:2]))
    four = ["--op", "relu", "--op", "tanh", "--op", "sigmoid", "--op", "matmul", "--dtype", "float64"]
    assert main(["check", *four, "--json", str(tmp_path / "a")]) == 0
    assert used == [2]
    assert main(["check", "--op", "relu", "--op", "tanh", "--dtype", "float64", "--json", str(tmp_path / "b")]) == 0
    assert used == [2], "two ops: not worth a second process's start-up"
    assert main(["check", *four, "--jobs", "1", "--json", str(tmp_path / "c")]) == 0
    assert used == [2]
    assert main(["check", "--op", "relu", "--jobs", "0"]) == 2


def test_ops_lists_the_registry_and_version_prints(capsys):
    from conformance.registry import REGISTRY

    assert main(["ops", "--json", "-"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed] == list(REGISTRY)
    conv = next(row for row in listed if row["name"] == "conv")
    assert conv["traceable"] is False and "pad0_rect_filter" in conv["samples"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("gradref ")


def test_an_unknown_op_gets_a_did_you_mean(capsys):
    assert main(["check", "--op", "affine_relux"]) == 2
    assert "did you mean affine_relu?" in capsys.readouterr().err


def test_grade_batch_json_to_stdout_is_valid_json_with_the_table_on_stderr(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "a.py").write_text("import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gradref", "grade", str(batch), "--batch", "--json", "-", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(proc.stdout)
    assert [row["submission"] for row in data["submissions"]] == ["a.py"]
    assert "gradref grade: 1 submissions" in proc.stderr


# ----- Ctrl-C, output paths, --json -, --seed, --order, bench refusals -----


def test_ctrl_c_stops_check_with_jobs_and_its_workers_within_seconds():
    import os
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-c", AS_IN_A_TERMINAL, "check", "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, workers = time.monotonic() + 120, []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            workers = descendants(proc.pid)
        assert len(workers) >= 2, "the two workers started"
        time.sleep(3.0)  # they are inside their units now
        workers = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        stopped_at = time.monotonic()
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and took < 5, (proc.returncode, took)
    assert "Traceback" not in stderr + stdout and "interrupted" in stderr
    assert still_alive(workers) == [], "no worker outlives gradref check"


def test_unwritable_output_paths_are_refused_before_any_work(tmp_path):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "student.py").write_text("def relu_forward(x):\n    return x, x\n")
    for args, sentence in (
        (["check", "--op", "relu", "--json", "/proc/x.json"], "cannot write /proc/x.json"),
        (["grade", str(tmp_path), "--batch", "--out", str(tmp_path / "a_file")], "it is a file"),
        (["bench", "--op", "relu", "--quick", "--json", "/no/such/dir/b.json"], "does not exist"),
    ):
        code, stdout, stderr = run_cli(*args)
        assert code == 2 and sentence in stderr and "Traceback" not in stderr, (args, stderr)


def test_a_batchs_page_and_json_may_go_into_the_out_folder_it_makes(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ann.py").write_text(
        "import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
        "def relu_backward(dout, x):\n    return dout * (x > 0)\n"
    )
    out = tmp_path / "new"
    code, stdout, stderr = run_cli(
        "grade", str(tmp_path / "class"), "--batch", "--out", str(out), "--html", str(out / "class.html"),
        "--json", str(out / "class.json"), "--timeout", "5",
    )  # fmt: skip
    assert code in (0, 1) and "Traceback" not in stderr, stderr
    assert {"ann.py.json", "class.html", "class.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "class.json").read_text())
    deeper = tmp_path / "other" / "sub" / "class.html"  # only --out itself is made, not a folder below it
    code, _, stderr = run_cli(
        "grade", str(tmp_path / "class"), "--batch", "--out", str(tmp_path / "other"), "--html", str(deeper)
    )
    assert code == 2 and f"the folder {deeper.parent} does not exist" in stderr and not (tmp_path / "other").exists()


def test_json_to_stdout_is_json_even_for_an_error():
    code, stdout, stderr = run_cli("check", "--op", "nope", "--json", "-")
    assert code == 2 and "unknown op 'nope'" in json.loads(stdout)["error"]


def test_bench_refuses_an_impl_that_cannot_run_on_the_device():
    code, stdout, stderr = run_cli("bench", "--impl", "cupy", "--op", "relu", "--quick")
    assert code == 2 and "--impl cupy runs on the GPU only" in stderr and stdout.strip() == ""


def test_a_busy_machine_is_flagged(monkeypatch, capsys):
    from bench import runner as bench_runner

    monkeypatch.setattr(bench_runner, "time_call", lambda fn, budget: (1e-3, 5e-4))
    assert main(["bench", "--op", "relu", "--impl", "numpy", "--quick", "--json", "-"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)["results"]
    assert rows and all(row["busy"] for row in rows) and "marked busy" in captured.err


def test_seed_draws_other_samples_and_the_same_seed_the_same(tmp_path):
    from conformance import checks

    reports = []
    for seed in (0, 7, 7):
        path = tmp_path / f"{len(reports)}.json"
        assert main(["check", "--op", "tanh", "--dtype", "float64", "--seed", str(seed), "--json", str(path)]) == 0
        reports.append(json.loads(path.read_text()))
    checks.clear_caches()
    errors = [r["results"][0]["max_rel_error"] for r in reports]
    assert errors[1] == errors[2] != errors[0] and reports[1]["seed"] == 7


def test_order_2_checks_second_derivatives_and_says_what_is_not_traceable(capsys):
    assert (
        main(["check", "--op", "sigmoid", "--op", "max_pool", "--dtype", "float32", "--order", "2", "--json", "-"]) == 0
    )
    rows = {row["op"]: row for row in json.loads(capsys.readouterr().out)["results"]}
    assert "second_order" in rows["sigmoid"]["checks_run"] and "jax_arrays" in rows["sigmoid"]["checks_run"]
    assert "second_order" not in rows["max_pool"]["checks_run"]
    assert any(note.startswith("second_order: not traceable") for note in rows["max_pool"]["skipped"])
