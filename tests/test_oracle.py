"""The oracle: x64 and 'highest' are read back and probed, not assumed; other JAX code is left alone."""

import jax.numpy as jnp
import numpy as np
import pytest

from reference import functions, oracle


def test_precision_in_force_reads_back_x64_and_highest():
    settings = oracle.precision_in_force("cpu")
    assert settings["x64"] is True and settings["matmul_precision"] == "highest"


def test_oracle_settings_do_not_leak_into_the_caller():
    oracle.vjp(functions.affine, [np.ones((2, 3)), np.ones((3, 4)), np.ones(4)], [0, 1, 2], np.ones((2, 4)))
    assert jnp.ones(2).dtype == jnp.float32


def test_oracle_returns_float64_for_float32_inputs():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    out, (dx,), _ = oracle.vjp(functions.tanh, [x], [0], np.ones(5))
    assert out.dtype == np.float64 and dx.dtype == np.float64
    assert np.allclose(dx, 1 - np.tanh(x.astype(np.float64)) ** 2, rtol=1e-14)


def test_probe_passes_on_this_machine():
    assert oracle.verify_precision("cpu")["x64"]


def test_probe_catches_a_tf32_matmul():
    tf32 = {"float32_matmul": (16.0, 16 * (1 + 2.0**-12)), "float64_matmul": (8.0, 8.0)}
    with pytest.raises(oracle.PrecisionError, match="float32_matmul probe on cpu returned 16.0"):
        oracle.verify_precision("cpu", probes=tf32)


def test_the_probe_value_is_lost_in_tf32_and_kept_in_float32():
    a = np.array([1 + 2.0**-12], dtype=np.float32)
    tf32 = (a.view(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32)  # sign, exponent, 10 mantissa bits
    assert a[0] != 1.0 and tf32[0] == 1.0


def test_no_gpu_is_a_clear_error_when_there_is_none():
    if oracle.gpu_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(oracle.NoDevice, match="no GPU is visible to JAX"):
        oracle.jax_device("gpu")
