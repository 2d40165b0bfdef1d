"""Kink conventions are pinned; samples keep a margin from kinks and ties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import manual_grads as mg
from conformance import checks, registry
from reference import functions, oracle


def test_relu_gradient_at_zero_is_zero_in_manual_and_oracle():
    x = np.array([-1.0, 0.0, 2.0])
    _, cache = mg.relu_forward(x)
    assert mg.relu_backward(np.ones(3), cache).tolist() == [0.0, 0.0, 1.0]
    _, (grad,), _ = oracle.vjp(functions.relu, [x], [0], np.ones(3))
    assert grad.tolist() == [0.0, 0.0, 1.0]


def test_jnp_maximum_would_give_one_half_at_zero():
    # The reason the reference uses jax.nn.relu and not jnp.maximum(x, 0).
    assert float(jax.grad(lambda x: jnp.maximum(x, 0.0))(0.0)) == 0.5


def test_max_gate_sends_the_gradient_to_y_at_a_tie_in_manual_and_oracle():
    x, y = np.array([1.0, 3.0, 2.0]), np.array([1.0, 2.0, 5.0])
    _, cache = mg.max_gate_forward(x, y)
    dx, dy = mg.max_gate_backward(np.ones(3), cache)
    assert dx.tolist() == [0.0, 1.0, 0.0] and dy.tolist() == [1.0, 0.0, 1.0]
    _, (jdx, jdy), _ = oracle.vjp(functions.max_gate, [x, y], [0, 1], np.ones(3))
    assert jdx.tolist() == dx.tolist() and jdy.tolist() == dy.tolist()


def test_max_gate_with_zero_agrees_with_relu():
    x = np.array([-1.0, 0.0, 2.0])
    dx, _ = mg.max_gate_backward(np.ones(3), mg.max_gate_forward(x, np.zeros(3))[1])
    assert dx.tolist() == mg.relu_backward(np.ones(3), x).tolist()


def test_svm_margin_at_exactly_zero_contributes_no_gradient():
    x = np.array([[1.0, 0.0, -5.0]])  # class 1 sits exactly at margin 0 from class 0
    loss, dx = mg.svm_loss(x, np.array([0]))
    assert loss == 0.0 and dx.tolist() == [[0.0, 0.0, 0.0]]
    _, (jdx,), _ = oracle.vjp(functions.svm_loss, [x, np.array([0])], [0], 1.0)
    assert jdx.tolist() == dx.tolist()


KINKED = [op for op in registry.REGISTRY.values() if op.kinks is not None]


@pytest.mark.parametrize("op", KINKED, ids=[op.name for op in KINKED])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_samples_keep_a_margin_from_kinks(op, dtype):
    for name in op.sample_names():
        spec = next(s for s in op.samples if s.name == name.split("/")[0])
        if spec.at_kinks:
            continue  # placed on the kinks on purpose: the conventions test below
        sample = op.draw_sample(name, dtype)
        args = {
            k: v.astype(np.float64) if getattr(v, "dtype", None) is not None and v.dtype.kind == "f" else v
            for k, v in sample.args.items()
        }
        kinks = np.asarray(op.kinks(**args))
        assert np.min(np.abs(kinks)) > spec.margin * np.sqrt(np.mean(kinks**2)), (op.name, name)


AT_KINKS = [(op, spec) for op in registry.REGISTRY.values() for spec in op.samples if spec.at_kinks]


@pytest.mark.parametrize("op,spec", AT_KINKS, ids=[f"{op.name}-{spec.name}" for op, spec in AT_KINKS])
def test_samples_on_the_kinks_hit_them_and_the_conventions_are_checked_there(op, spec):
    sample = op.draw_sample(spec.name, "float64")
    kinks = np.asarray(op.kinks(**sample.args))
    assert np.sum(kinks == 0) >= 2, "several kink quantities exactly 0"
    case = checks.Case(op, spec.name, "float64")
    assert checks.applicable("vjp", case) and not checks.applicable("directional", case)
    assert not checks.applicable("finite_differences", case) and not spec.graded
