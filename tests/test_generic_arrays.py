"""The manual passes are array-API generic: the same code runs on jax.numpy arrays and under jax.jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import manual_grads as mg
from conformance import checks, registry, tolerance
from reference import oracle

JIT_OPS = [
    "affine",
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "affine_relu",
    "softmax_loss",
    "svm_loss",
    "two_layer_net",
    "staged_expression",
    "max_gate",
    "matmul",
    "add_mul_circuit",
    "sigmoid_neuron",
]


@pytest.mark.parametrize("name", JIT_OPS)
def test_manual_code_under_jit_matches_numpy(name):
    op = registry.REGISTRY[name]
    case = checks.Case(op, op.samples[0].name, "float32")
    args, dout = checks.sample_args(case), checks.case_dout(case)
    numpy_grads = checks.manual_run(case).grads

    @jax.jit
    def backward_of(*jargs):
        out, cache = op.forward(*jargs)
        return op.backward(jnp.asarray(dout), cache)

    traced = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    jit_grads = checks.as_tuple(backward_of(*traced))
    for got, want in zip(jit_grads, numpy_grads):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=2e-6)


def test_no_input_is_written_in_place_under_jax():
    x = jnp.arange(6.0).reshape(2, 3)
    out, cache = mg.sigmoid_forward(x)
    assert isinstance(mg.sigmoid_backward(jnp.ones_like(out), cache), jax.Array)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 9),
    d=st.integers(1, 9),
    m=st.integers(1, 9),
    dtype=st.sampled_from(["float64", "float32"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_affine_backward_matches_the_oracle_for_any_shape(n, d, m, dtype, seed):
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((n, d), (d, m), (m,)))
    dout = rng.standard_normal((n, m)).astype(dtype)
    grads = mg.affine_backward(dout, mg.affine_forward(x, w, b)[1])
    _, want, _ = oracle.vjp(registry.REGISTRY["affine"].reference, [x, w, b], [0, 1, 2], dout)
    tol = tolerance.tolerance(dtype, max(n, d, m))
    # Each gradient is a sum of products: where its terms cancel (db of one output column summed over
    # a few rows), it is measured on the scale of its terms, not on its own (possibly tiny) value.
    a, b_, c = (np.abs(v).astype(np.float64) for v in (x, w, dout))
    terms = {"dx": (c @ b_.T).max(), "dw": (a.T @ c).max(), "db": c.sum(axis=0).max()}
    for name, got, ref in zip(("dx", "dw", "db"), grads, want):
        comparison = tolerance.compare(name, got, ref, tol, dtype, floor=float(terms[name]))
        assert comparison.passed, comparison.describe()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 12),
    c=st.integers(2, 12),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 500.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_softmax_loss_is_finite_and_matches_for_any_scale(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)
    loss, dx = mg.softmax_loss(x, y)
    assert np.isfinite(loss) and np.isfinite(dx).all()
    want_loss, (want_dx,), _ = oracle.vjp(registry.REGISTRY["softmax_loss"].reference, [x, y], [0], 1.0)
    tol = tolerance.tolerance("float64", n * c, max(1.0, scale * 5))
    assert tolerance.compare("loss", loss, want_loss, tol, "float64").passed
    # dx = (p - onehot) / N: where a class takes nearly all the mass, p - 1 cancels, so each entry is
    # measured on the scale of its terms (1 / N), not on the largest (possibly tiny) entry.
    assert tolerance.compare("dx", dx, want_dx, tol, "float64", floor=1.0 / n).passed
