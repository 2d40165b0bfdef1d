"""GPU conformance and precision (marker `gpu`; skipped with the reason where JAX sees no GPU)."""

import json

import numpy as np
import pytest

from conformance import checks, precision, registry
from conformance.backends import backend_for, cupy_available
from gradref.cli import main
from gradref.testing import assert_case
from reference import oracle

pytestmark = pytest.mark.gpu

# Without a GPU, one case of each stands for all (skipped with the reason; thousands of skips cost
# the CPU suite seconds of bookkeeping and say nothing more).
GPU_PAIRS = checks.cases(registry.ops(), devices=("gpu",))[: None if oracle.gpu_available() else 1]
AGREEMENT_PAIRS = checks.cases(registry.ops(), devices=(checks.AGREEMENT,))[: None if oracle.gpu_available() else 1]


@pytest.mark.parametrize("check,case", GPU_PAIRS, ids=[f"{c}-{check}" for check, c in GPU_PAIRS])
def test_conformance_on_gpu(check, case):
    assert_case(check, case)


@pytest.mark.parametrize("check,case", AGREEMENT_PAIRS, ids=[str(c) for _, c in AGREEMENT_PAIRS])
def test_gpu_agrees_with_cpu(check, case):
    result = checks.run_check(check, case)
    assert result.passed, result.message


def test_oracle_precision_holds_on_gpu():
    settings = oracle.verify_precision("gpu")
    assert settings["x64"] and settings["matmul_precision"] == "highest"
    assert "cuda" in settings["device"].lower() or "gpu" in settings["device"].lower()


def test_probe_catches_the_default_tf32_matmul_on_gpu():
    probes = oracle.probe_matmuls("gpu", precision="default")
    got, want = probes["float32_matmul"]
    assert got != want, "default float32 matmul was full precision: no TF32 on this GPU?"
    with pytest.raises(oracle.PrecisionError, match="float32_matmul probe on gpu"):
        oracle.verify_precision("gpu", probes=probes)


def test_precision_report_shows_the_tf32_gap_on_affine():
    rows = {r["impl"]: r for r in precision.measure("affine", (1024, 1024, 1024), "gpu")}
    assert rows["jax default"]["normwise_rel_error"] > 1e-4  # TF32: measured 3e-4 on an H100
    assert rows["jax highest"]["normwise_rel_error"] < 1e-5
    assert not rows["jax default"]["passes_policy"] and rows["jax highest"]["passes_policy"]


def test_precision_report_shows_tf32_flipping_relu_masks():
    rows = {r["impl"]: r for r in precision.measure("two_layer_net", (256, 1024, 1024, 100), "gpu")}
    assert rows["jax default"]["errors"]["dW1"] > 10 * rows["jax highest"]["errors"]["dW1"]


def test_check_on_torch_cuda_passes_every_op(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is an optional extra (pip install 'gradref[torch]')")
    if not torch.cuda.is_available():
        pytest.skip("this torch sees no CUDA GPU: the manual code would run on torch's CPU tensors")
    path = tmp_path / "check.json"
    code = main(["check", "--backend", "torch", "--device", "gpu", "--json", str(path)])
    rows = json.loads(path.read_text())["results"]
    assert code == 0, [(r["op"], r["failures"][:1]) for r in rows if r["status"] != "pass"]
    assert {r["manual_backend"] for r in rows} == {"torch-cuda"}


def test_manual_passes_run_on_cupy():
    if not cupy_available():
        pytest.skip("CuPy is not installed: the manual passes run on NumPy against the GPU oracle")
    assert backend_for("gpu").name == "cupy"
    import cupy

    case = checks.Case(registry.REGISTRY["affine"], "wide", "float32", "gpu")
    out, _ = case.op.forward(*[cupy.asarray(a) for a in checks.sample_args(case)])
    assert isinstance(out, cupy.ndarray)
    assert checks.run_check("vjp", case).passed


def test_check_device_all_passes_with_agreement_rows(tmp_path):
    path = tmp_path / "all.json"
    assert main(["check", "--device", "all", "--op", "affine", "--op", "two_layer_net", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert {r["device"] for r in report["results"]} == {"cpu", "gpu", checks.AGREEMENT}
    assert set(report["precision"]) == {"cpu", "gpu"}
    assert all(np.isfinite(r["ratio"]) for r in report["results"])
