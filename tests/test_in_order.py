"""reference.in_order: a JAX function re-run the way NumPy computes (its sums, its elementary functions)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conformance import checks, registry
from reference import oracle
from reference.in_order import as_numpy_computes


def float32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def in_order(fn, *args):
    with oracle.exact_mode():
        return np.asarray(as_numpy_computes(fn)(*args))


def test_a_column_sum_is_numpys_to_the_bit_where_xlas_is_not():
    x = float32(200, 10)
    assert np.array_equal(in_order(lambda a: jnp.sum(a, axis=0), x), x.sum(axis=0))
    with oracle.exact_mode():
        assert not np.array_equal(np.asarray(jnp.sum(x, axis=0)), x.sum(axis=0))


def test_a_sum_over_batch_and_space_is_a_channels_last_column_sum():
    x = float32(8, 3, 5, 6)
    got = in_order(lambda a: jnp.sum(a, axis=(0, 2, 3)), x)
    assert np.array_equal(got, x.transpose(0, 2, 3, 1).reshape(-1, 3).sum(axis=0))


@pytest.mark.parametrize("length", [1, 7, 8, 13, 128, 129, 300, 1000])
def test_a_row_sum_is_numpys_pairwise_sum_to_the_bit(length):
    x = float32(6, length) * np.logspace(-3, 3, length, dtype=np.float32)  # magnitudes apart: the order shows
    assert np.array_equal(in_order(lambda a: jnp.sum(a, axis=-1), x), x.sum(axis=-1))


def test_a_long_row_is_numpys_pairwise_sum_too():
    x = float32(3, 5000) * np.logspace(-3, 3, 5000, dtype=np.float32)
    assert np.array_equal(in_order(lambda a: jnp.sum(a, axis=-1), x), x.sum(axis=-1))


def test_an_empty_sum_is_zero():
    assert np.array_equal(in_order(lambda a: jnp.sum(a, axis=0), np.zeros((0, 3), np.float32)), np.zeros(3))


def test_in_order_column_sums_carry_more_rounding_than_xlas():
    def errors(fn):
        out = []
        for seed in range(10):
            x = float32(1000, 8, seed=seed)
            out.append(np.max(np.abs(np.asarray(fn(x), np.float64) - x.astype(np.float64).sum(axis=0))))
        return np.median(out)

    with oracle.exact_mode():
        xla = errors(jax.jit(lambda a: jnp.sum(a, axis=0)))
    assert errors(lambda a: in_order(lambda b: jnp.sum(b, axis=0), a)) > 2 * xla


@pytest.mark.parametrize("name", ["batchnorm", "spatial_batchnorm", "layernorm", "softmax_loss", "lstm"])
def test_a_reference_run_in_order_computes_the_same_function(name):
    # jit, custom_jvp rules (jax.nn) and scans inside the reference: every sum is still a sum.
    op = registry.REGISTRY[name]
    case = checks.Case(op, op.samples[0].name, "float64")
    args, wrt = checks.sample_args(case), checks.wrt_positions(op)
    out, grads, dout = oracle.vjp(op.reference, args, wrt, lambda shape: checks.cotangent(case, shape))
    out2, grads2, _ = oracle.vjp(op.reference, args, wrt, dout, in_order=True)
    scale = max(np.max(np.abs(out)), 1.0)
    assert np.max(np.abs(out - out2)) < 1e-12 * scale
    for g, g2 in zip(grads, grads2):
        assert np.max(np.abs(g - g2)) < 1e-12 * max(np.max(np.abs(g)), 1.0)


def test_a_sum_over_the_whole_array_is_numpys_pairwise_sum():
    # NumPy sums a contiguous block pairwise: the sum of squares in an L2 penalty is no column sum.
    x = float32(20, 50) * np.logspace(-3, 3, 50, dtype=np.float32)
    assert np.array_equal(in_order(lambda a: jnp.sum(a * a), x), (x * x).sum())
    with oracle.exact_mode():
        assert not np.array_equal(np.asarray(jnp.sum(x * x)), (x * x).sum())  # XLA's order is not NumPy's


@pytest.mark.parametrize("name", ["tanh", "exp", "log1p"])
def test_an_elementary_function_is_rounded_once(name):
    x = np.abs(float32(4000)) * 4  # tanh near 1, where XLA's float32 tanh is 3-4 roundings off
    fn = getattr(jnp, name)
    with oracle.exact_mode():
        want = np.asarray(fn(x.astype(np.float64))).astype(np.float32)
        xla = np.asarray(jax.jit(fn)(x))
    assert np.array_equal(in_order(fn, x), want)
    if name == "tanh":
        assert not np.array_equal(xla, want)


def test_a_sigmoid_is_computed_as_numpy_code_writes_it():
    x = float32(1000) * 6
    with oracle.exact_mode():
        exp = np.asarray(jnp.exp(-x.astype(np.float64))).astype(np.float32)
    assert np.array_equal(in_order(jax.nn.sigmoid, x), np.float32(1) / (np.float32(1) + exp))


def test_in_float64_an_elementary_function_is_numpys_own():
    x = np.abs(np.random.default_rng(0).standard_normal(1000)) * 4
    assert np.array_equal(in_order(jnp.tanh, x), np.tanh(x))
    with oracle.exact_mode():
        assert not np.array_equal(np.asarray(jnp.tanh(x)), np.tanh(x))  # XLA's float64 tanh is not libm's


@jax.custom_vjp
def _squares_by_column(a):
    return jnp.sum(a * a, axis=0)


_squares_by_column.defvjp(lambda a: (_squares_by_column(a), a), lambda a, g: (2 * a * g[None, :],))


@pytest.mark.parametrize(
    "fn",
    [
        _squares_by_column,  # a user's custom_vjp rule
        jax.checkpoint(lambda a: jnp.sum(jnp.tanh(a), axis=0)),
        lambda a: jax.lax.cond(True, lambda b: jnp.sum(b, axis=0), lambda b: 2 * jnp.sum(b, axis=0), a),
        lambda a: jnp.linalg.norm(a, axis=0),
    ],
    ids=["custom_vjp", "checkpoint", "cond", "norm"],
)
def test_a_users_reference_runs_in_order_whatever_it_is_built_of(fn):
    x = np.random.default_rng(0).standard_normal((6, 4))
    out, (grad,), _ = oracle.vjp(fn, [x], [0], lambda shape: np.ones(shape), in_order=True)
    out2, (grad2,), _ = oracle.vjp(fn, [x], [0], lambda shape: np.ones(shape))
    assert np.allclose(out, out2, rtol=1e-14) and np.allclose(grad, grad2, rtol=1e-14)


def test_a_primitive_the_interpreter_cannot_rebind_leaves_xlas_sums(monkeypatch):
    from reference import in_order

    @jax.custom_vjp
    def squares(a):  # a function of its own: the oracle keeps compiled programs per function
        return jnp.sum(a * a, axis=0)

    squares.defvjp(lambda a: (squares(a), a), lambda a, g: (2 * a * g[None, :],))
    monkeypatch.setattr(in_order, "_CALLS", {})  # custom_vjp_call is then bound from its params: it fails
    x = np.random.default_rng(1).standard_normal((6, 4))
    with pytest.raises(Exception):  # noqa: B017 - whatever JAX raises for it
        as_numpy_computes(squares)(x)
    got = oracle.vjp(squares, [x], [0], np.ones(4), in_order=True)
    want = oracle.vjp(squares, [x], [0], np.ones(4))
    assert all(np.array_equal(a, b) for a, b in zip([got[0], *got[1]], [want[0], *want[1]]))


def _rng_array(*shape):
    return np.random.default_rng(sum(shape)).standard_normal(shape)


@pytest.mark.parametrize(
    "fn, args",
    [
        (lambda a: jax.lax.pad(a, 0.5, [(1, -1, 0), (-2, 3, 2)]), [_rng_array(4, 5)]),
        (lambda a, b: jnp.einsum("bij,bkj->bik", a, b), [_rng_array(2, 3, 4), _rng_array(2, 5, 4)]),
        (
            lambda a, b: jax.lax.dot_general(a, b, (((0, 2), (1, 0)), ((), ()))),
            [_rng_array(3, 4, 2), _rng_array(2, 3, 5)],
        ),
        (lambda a: jnp.broadcast_to(a[:, None, :], (3, 4, 5)) * 2.0, [_rng_array(3, 5)]),
        (lambda a: (a**3, a**-2, a**0), [_rng_array(6)]),
        (lambda a: jnp.where(a > 0, a, -3 * a), [_rng_array(7)]),
        (lambda a: jax.lax.select_n(jnp.arange(6) % 3, a, 2 * a, 3 * a), [_rng_array(6)]),
        (lambda a: jnp.split(a, [1, 3], axis=1), [_rng_array(2, 5)]),
        (lambda a: (jnp.flip(a, 0), a.T, a.reshape(5, 2), jnp.squeeze(a[None]), a[1:, ::2]), [_rng_array(2, 5)]),
        (lambda a: (jnp.max(a, axis=1), jnp.min(a, axis=0), jnp.stack([a, a], 1)), [_rng_array(3, 4)]),
        (lambda a: jnp.concatenate([a, jnp.sqrt(jnp.abs(a)), jnp.sign(a)], axis=0), [_rng_array(2, 3)]),
        (lambda a: jnp.arange(12).reshape(3, 4) // 5 + a.astype(jnp.int64), [np.arange(12).reshape(3, 4) - 6]),
        (lambda a: jax.lax.cond(a.sum() > 0, lambda b: b * 2, lambda b: b - 1, a), [_rng_array(3)]),
    ],
    ids=[
        "pad",
        "batched dot",
        "dot over two axes",
        "broadcast",
        "integer_pow",
        "where",
        "select_n",
        "split",
        "layout",
        "max min stack",
        "concatenate",
        "integers",
        "cond",
    ],
)
def test_each_primitive_in_numpy_computes_what_jax_computes(fn, args):
    with oracle.exact_mode():
        want = jax.tree_util.tree_leaves(jax.jit(fn)(*args))
        got = jax.tree_util.tree_leaves(as_numpy_computes(fn)(*args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=1e-13, atol=1e-13)


def _compiles(fn, *args):
    """How many XLA programs running fn(*args) compiles."""
    events = []

    def listen(event, duration, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        with oracle.exact_mode():
            fn(*args)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return len(events)


def test_nothing_is_compiled_for_a_reference_built_of_numpys_twins():
    x, w = float32(50, 7, seed=3), float32(7, 7, seed=4)
    assert _compiles(as_numpy_computes(lambda a, b: jnp.sum(jnp.tanh(a @ b) * a, axis=0)), x, w) == 0
    assert _compiles(jax.jit(lambda a, b: jnp.sum(jnp.tanh(a @ b) * a, axis=0)), x, w) > 0  # the count can bite
