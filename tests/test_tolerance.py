"""The tolerance policy: passes correct float32 at 4096-wide layers, catches one wrong element, fails NaN."""

import numpy as np
import pytest

from conformance import checks, registry, tolerance


def wide_affine_case(dtype="float32"):
    return checks.Case(registry.REGISTRY["affine"], "wide", dtype)


def test_correct_float32_gradients_pass_at_4096_wide_layers():
    case = wide_affine_case()
    assert checks.sample_args(case)[1].shape == (4096, 1024)  # reductions of 4096 in out and of 1024 in dx
    result = checks.run_check("vjp", case)
    assert result.passed, result.message
    assert result.worst.ratio < 0.5, "too little headroom for correct float32 results"


def test_one_wrong_element_in_a_large_gradient_is_caught():
    case = wide_affine_case()
    run = checks.manual_run(case)
    want = checks.oracle_run(case)[1][1]
    dw = run.grads[1].copy()
    dw[1234, 567] += 1e-4 * np.max(np.abs(want))  # one entry of 4.2 million, off by 1e-4 of the scale
    comparison = tolerance.compare("dw", dw, want, checks.case_tolerance(case), "float32")
    assert not comparison.passed
    assert comparison.worst_index == (1234, 567)


def test_the_notebook_metric_would_fail_correct_float32_gradients():
    # Why the policy exists: max|a-b| / max(1e-8, |a|+|b|) elementwise is ~1 where entries cancel.
    case = wide_affine_case()
    got = checks.manual_run(case).grads[1].astype(np.float64)
    want = checks.oracle_run(case)[1][1]
    notebook = np.max(np.abs(got - want) / np.maximum(1e-8, np.abs(got) + np.abs(want)))
    assert notebook > 1e-3
    assert tolerance.compare("dw", got, want, checks.case_tolerance(case), "float32").passed


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_nonfinite_result_fails(bad):
    want = np.ones((3, 3))
    got = want.copy()
    got[1, 2] = bad
    comparison = tolerance.compare("dx", got, want, 1.0, "float64")
    assert not comparison.passed
    assert comparison.worst_index == (1, 2)


def test_nan_in_both_fails_unless_identical():
    want = np.array([1.0, np.nan])
    assert not tolerance.compare("dx", np.array([1.0, 2.0]), want, 1.0, "float64").passed


def test_error_is_reported_relative_to_the_tolerance():
    want = np.array([1.0, -2.0, 4.0])
    got = want + np.array([0.0, 2e-7, 0.0])
    comparison = tolerance.compare("dx", got, want, 1e-7, "float32")
    assert comparison.max_rel_error == pytest.approx(5e-8)
    assert comparison.ratio == pytest.approx(0.5)
    assert "0.5x the tolerance" in comparison.describe()


def test_shape_mismatch_fails_and_says_so():
    comparison = tolerance.compare("db", np.ones((1, 5)), np.ones(5), 1.0, "float64")
    assert not comparison.passed
    assert comparison.describe().startswith("db.shape=(1, 5), want (5,)")


def test_tolerance_grows_with_sqrt_of_the_reduction_and_with_dtype():
    assert tolerance.tolerance("float32", 4096) == pytest.approx(8 * tolerance.tolerance("float32", 64))
    assert tolerance.tolerance("float32") / tolerance.tolerance("float64") == pytest.approx(2.0**29)


def test_correct_float32_two_layer_net_passes_at_4096_hidden_units():
    case = checks.Case(registry.REGISTRY["two_layer_net"], "wide", "float32")
    result = checks.run_check("vjp", case)
    assert result.passed, result.message
