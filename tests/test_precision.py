"""`gradref precision` on the CPU: every mode is reported with the setting read back from JAX."""

import json

from conformance import precision
from gradref.cli import main


def test_measure_reports_each_mode_with_its_setting_read_back():
    rows = precision.measure("affine", (8, 16, 8), "cpu")
    assert [r["impl"] for r in rows] == ["jax default", "jax high", "jax highest", "manual numpy"]
    assert [r["matmul_precision"] for r in rows[:3]] == ["default", "high", "highest"]
    for row in rows:
        assert set(row["errors"]) == {"dx", "dw", "db"}
        assert 0 < row["normwise_rel_error"] < 1e-5 and row["passes_policy"]


def test_two_layer_net_rows_name_the_worst_gradient():
    rows = precision.measure("two_layer_net", (16, 20, 12, 5), "cpu")
    assert {r["worst_grad"] for r in rows} <= {"dW1", "db1", "dW2", "db2"}


def test_normwise_is_zero_for_equal_and_catches_a_difference():
    import numpy as np

    a = np.arange(1.0, 5.0)
    assert precision.normwise(a, a) == 0.0
    assert abs(precision.normwise(a * (1 + 1e-3), a) - 1e-3) < 1e-12


def test_precision_command_writes_json(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "SIZES", {"matmul": [(8, 8, 8), (16, 16, 16)]})
    path = tmp_path / "p.json"
    assert main(["precision", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert {r["size"] for r in report["results"]} == {"8x8x8"}  # the largest size needs --full on cpu
    assert report["oracle_precision"]["cpu"]["matmul_precision"] == "highest"
