"""gradref.testing and the pytest plugin, on right and wrong backward passes of both conventions."""

import importlib.metadata
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import manual_grads as mg
from gradref.testing import NO_REFERENCE, FiniteDifferencesOnly, assert_backward_matches, check_backward, make_op

rng = np.random.default_rng(7)
X, W, B = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
AFFINE_INPUTS = {"x": X, "w": W, "b": B}


def affine_ref(x, w, b):
    return x @ w + b[None, :]


def test_a_correct_function_pair_passes_and_reports_each_check():
    results = assert_backward_matches(mg.affine_forward, mg.affine_backward, affine_ref, inputs=AFFINE_INPUTS)
    assert {r.check for r in results} == {
        "forward",
        "vjp",
        "finite_differences",
        "directional",
        "shapes_dtypes",
        "no_mutation",
        "linear_in_dout",
        "deterministic",
    }
    assert all(r.passed for r in results)
    assert max(r.worst.ratio for r in results if r.worst is not None) < 1


def test_a_wrong_function_pair_fails_with_the_likely_mistake():
    def transposed(dout, cache):
        x, w, _ = cache
        dx, dw, db = mg.affine_backward(dout, cache)
        return dx, dw.T, db

    square = {"x": rng.standard_normal((6, 6)), "w": rng.standard_normal((6, 6)), "b": rng.standard_normal(6)}
    with pytest.raises(AssertionError) as error:
        assert_backward_matches(mg.affine_forward, transposed, affine_ref, inputs=square)
    message = str(error.value)
    assert "dw: worst element [" in message and "got " in message and "want " in message
    assert "tolerance" in message and "likely mistake: dw: dw is transposed" in message


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class WrongSigmoid(Sigmoid):
    def backward(self, dout):
        return dout * self.out


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


def test_layer_objects_pass_and_fail():
    x = {"x": rng.standard_normal((3, 4))}
    assert_backward_matches(Sigmoid(), reference=jax.nn.sigmoid, inputs=x)
    with pytest.raises(AssertionError, match="dx: worst element"):
        assert_backward_matches(WrongSigmoid(), reference=jax.nn.sigmoid, inputs=x)


def test_layer_factories_check_the_parameter_gradients():
    inputs = {"x": X, "W": W, "b": B}
    results = assert_backward_matches(
        Affine, reference=affine_ref, inputs=inputs, init=("W", "b"), grad_attrs=("dW", "db")
    )
    assert results[0].case.op.wrt == ("x", "W", "b")

    class NoMean(Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.db = self.db * 2
            return dx

    with pytest.raises(AssertionError, match="db"):
        assert_backward_matches(NoMean, reference=affine_ref, inputs=inputs, init=("W", "b"), grad_attrs=("dW", "db"))


def test_losses():
    scores, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    reference = lambda x, y: -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x), y[:, None], axis=1))
    assert_backward_matches(mg.softmax_loss, reference=reference, inputs={"x": scores, "y": labels}, loss=True)
    with pytest.raises(AssertionError, match="the loss is a mean, so its gradient is divided by N too"):
        assert_backward_matches(
            lambda x, y: (mg.softmax_loss(x, y)[0], mg.softmax_loss(x, y)[1] * len(y)),
            reference=reference,
            inputs={"x": scores, "y": labels},
            loss=True,
            name="softmax_loss",
        )


def test_without_a_reference_finite_differences_decide_and_it_says_so():
    x = {"x": rng.standard_normal((3, 4))}
    with pytest.warns(FiniteDifferencesOnly, match="finite differences only"):
        results = assert_backward_matches(mg.tanh_forward, mg.tanh_backward, inputs=x)
    assert "forward" not in {r.check for r in results} and "finite_differences" in {r.check for r in results}

    def wrong(dout, cache):
        return dout * (1 - cache)

    with pytest.raises(AssertionError) as error:
        assert_backward_matches(mg.tanh_forward, wrong, inputs=x)
    message = str(error.value)
    assert NO_REFERENCE in message and "[finite_differences, directional; samples small float64" not in message
    assert message.count("\n  - dx:") == 1 and "finite_differences" in message.split("\n  - dx:")[1]


def test_samples_from_a_generator_and_float32():
    op = make_op(
        mg.relu_forward,
        mg.relu_backward,
        jax.nn.relu,
        samples=lambda r: {"x": (np.sign(r.standard_normal((5, 5))) * (0.1 + r.random((5, 5)))).astype(np.float32)},
    )
    results = check_backward(op)
    assert results and all(r.passed for r in results) and {r.case.dtype for r in results} == {"float32"}


def test_a_mutating_backward_fails_no_mutation():
    def mutating(dout, cache):
        dout[cache <= 0] = 0
        return dout

    with pytest.raises(AssertionError, match="changed dout"):
        assert_backward_matches(
            mg.relu_forward, mutating, jax.nn.relu, inputs={"x": np.array([[-1.0, 2.0], [3.0, -4.0]])}
        )


# ----- the pytest plugin -----

PLUGIN_REGISTERED = any(ep.value == "gradref.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
PLUGIN_ARGS = [] if PLUGIN_REGISTERED else ["-p", "gradref.pytest_plugin"]

USER_TESTS = """
import numpy as np
import jax
import manual_grads as mg

X = np.array([[-1.5, 2.0, 0.5], [3.0, -4.0, 1.0]])

def test_relu(gradref_check):
    gradref_check(mg.relu_forward, mg.relu_backward, reference=jax.nn.relu, inputs={"x": X})

def test_wrong_relu(gradref_check):
    gradref_check(mg.relu_forward, lambda dout, cache: dout, reference=jax.nn.relu, inputs={"x": X})
"""


def test_the_plugin_gives_a_two_line_test_per_op(pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*PLUGIN_ARGS, "--gradref-device", "cpu", "-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*relu_backward: 1 problem(s), from 7 of 22 checks*",
            "*dx: worst element*",
            "*likely mistake: dx: dout passes through unmasked*",
        ]
    )


def test_the_plugin_skips_gpu_runs_without_a_gpu(pytester):
    from reference.oracle import gpu_available

    if gpu_available():
        pytest.skip("this machine has a GPU")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*PLUGIN_ARGS, "--gradref-device", "gpu", "-q", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*asks for a GPU, and jax.devices('gpu') found none*"])


def test_the_plugin_adds_its_option_to_help(pytester):
    result = pytester.runpytest(*PLUGIN_ARGS, "--help")
    result.stdout.fnmatch_lines(["*--gradref-device*"])


# ----- without a reference: no input size or dtype turns a value check into no check -----


def _x_sin_x(x):
    return x * np.sin(x), x


def _x_sin_x_backward(dout, x):
    return dout * (np.sin(x) + x * np.cos(x))


def _x_sin_x_backward_wrong(dout, x):
    return dout * (np.sin(x) + np.cos(x))  # the product rule's x is missing


@pytest.mark.parametrize(
    "shape,dtype",
    # small (finite differences), just past SMALL, and a hundred times SMALL (directions only)
    [((8, 6), np.float32), ((45, 45), np.float64), ((400, 500), np.float64), ((400, 500), np.float32)],
)
def test_a_wrong_backward_fails_without_a_reference_at_any_size_and_dtype(shape, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    with pytest.raises(AssertionError, match=r"dx at 20 sampled entries: .* \[directional; samples inputs"):
        assert_backward_matches(_x_sin_x, _x_sin_x_backward_wrong, inputs=(x,))
    with pytest.warns(FiniteDifferencesOnly, match="directional derivatives"):
        results = assert_backward_matches(_x_sin_x, _x_sin_x_backward, inputs=(x,))
    assert "directional" in {r.check for r in results}


def _square(x):
    return x * x, x


def _square_backward_wrong_column(dout, x):
    dx = 2 * x * dout
    dx[:, 3] *= 3
    return dx


def test_a_sampled_entry_is_named_by_its_place_in_the_input():
    x = np.random.default_rng(2).standard_normal((100, 50)).astype(np.float32)
    with pytest.raises(AssertionError, match=r"dx at 20 sampled entries: worst element \[\d+, 3\]"):
        assert_backward_matches(_square, _square_backward_wrong_column, inputs=(x,))


# ----- one failure, one line: grouped, attributed, in the user's names -----

SQUARE = {"x": rng.standard_normal((6, 6)), "w": rng.standard_normal((6, 6)), "b": rng.standard_normal(6)}


def affine_backward_no_transpose(dout, cache):
    dx, dw, db = mg.affine_backward(dout, cache)
    return dx, dw.T, db


def test_a_wrong_gradient_is_one_line_listing_its_checks_and_samples_in_the_users_names():
    with pytest.raises(AssertionError) as error:
        assert_backward_matches(mg.affine_forward, affine_backward_no_transpose, affine_ref, inputs=SQUARE)
    message = str(error.value)
    assert message.startswith("affine_backward_no_transpose: 1 problem(s)")
    assert message.count("\n  - ") == 1 and message.count("likely mistake: dw: dw is transposed") == 1
    problem = message.split("\n  - ")[1]
    assert problem.startswith("dw: worst element") and "(within)" not in message
    assert "vjp, finite_differences, directional" in problem and "inputs/fortran" in problem


def test_an_exception_in_the_backward_is_one_line_with_the_users_file_and_line():
    def crashing_backward(dout, cache):
        x, w, _ = cache
        return dout @ w.T, x.T @ dout[:, :2], dout.sum(0).reshape(2, 3, 1)[9]

    with pytest.raises(AssertionError) as error:
        assert_backward_matches(mg.affine_forward, crashing_backward, affine_ref, inputs=SQUARE)
    message = str(error.value)
    assert message.count("\n  - ") == 1 and "crashing_backward (or its forward) raised IndexError" in message
    assert "test_testing_api.py:" in message


@pytest.mark.parametrize(
    "reference,blamed,fix",
    [
        (lambda x, w, b: x @ w + b, "rank_promotion='raise'", "b[None, :]"),
        (lambda x, w, b: np.sin(x) @ w + b[None, :], "TracerArrayConversionError", "jnp.sin, not np.sin"),
    ],
)
def test_an_error_in_the_reference_is_blamed_on_the_reference_with_the_fix(reference, blamed, fix):
    with pytest.raises(AssertionError) as error:
        assert_backward_matches(mg.affine_forward, mg.affine_backward, reference, inputs=SQUARE)
    message = str(error.value)
    assert message.startswith("affine_backward was not checked: the reference <lambda> raised")
    assert blamed in message and fix in message and message.count("\n") == 0


def test_a_forward_without_a_cache_is_blamed_on_the_forward():
    def double_forward(x):
        return 2 * x

    with pytest.raises(AssertionError, match=r"the forward double_forward must return \(out, cache\)"):
        assert_backward_matches(double_forward, lambda dout, cache: 2 * dout, lambda x: 2 * x, inputs=(X,))


def test_integer_inputs_to_differentiate_are_blamed_on_the_inputs():
    with pytest.raises(AssertionError, match="input x is differentiated but is int64"):
        assert_backward_matches(
            mg.relu_forward, mg.relu_backward, jax.nn.relu, inputs={"x": np.arange(6).reshape(2, 3)}, wrt=("x",)
        )


def test_the_warning_points_at_the_users_test_even_through_the_plugin_fixture(recwarn):
    from gradref.pytest_plugin import gradref_check

    check = gradref_check.__wrapped__(("cpu",))
    check(mg.tanh_forward, mg.tanh_backward, inputs={"x": X})
    warning = next(w for w in recwarn if issubclass(w.category, FiniteDifferencesOnly))
    assert warning.filename == __file__ and "checks run: " in str(warning.message)


# ----- second order -----


def sigmoid_ref(x):
    return jax.nn.sigmoid(x)


def sigmoid_backward_opaque(dout, cache):
    """Right in value, but on JAX arrays the local gradient is hidden from autodiff (as a NumPy round
    trip or a non-differentiable kernel would hide it): its second derivative is wrong."""
    s = cache
    local = s * (1 - s)
    return dout * (local if isinstance(local, np.ndarray) else jax.lax.stop_gradient(local))


@pytest.mark.parametrize("reference", [sigmoid_ref, None], ids=["reference", "finite-differences"])
def test_order_2_fails_a_backward_right_in_value_with_the_wrong_second_derivative(reference):
    x = {"x": rng.standard_normal((4, 5))}
    assert_backward_matches(mg.sigmoid_forward, sigmoid_backward_opaque, sigmoid_ref, inputs=x)  # order 1 passes
    with pytest.raises(AssertionError) as error:
        assert_backward_matches(mg.sigmoid_forward, sigmoid_backward_opaque, reference, inputs=x, order=2)
    assert "second_order" in str(error.value) and "second order" in str(error.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FiniteDifferencesOnly)
        results = assert_backward_matches(mg.sigmoid_forward, mg.sigmoid_backward, reference, inputs=x, order=2)
    assert "second_order" in {r.check for r in results}


def test_order_2_says_when_the_backward_does_not_run_on_jax_arrays():
    with pytest.raises(AssertionError, match="does not run on jax.numpy arrays, which the second-order check needs"):
        assert_backward_matches(
            _x_sin_x,
            _x_sin_x_backward,
            lambda x: x * jnp.sin(x),
            inputs=(np.linspace(-1, 1, 12).reshape(3, 4),),
            order=2,
        )


def test_one_wrong_element_in_a_million_is_caught_by_the_projection_when_it_is_large():
    x = np.random.default_rng(2).standard_normal((1000, 1000))

    def one_off(dout, x):
        dx = _x_sin_x_backward(dout, x)
        dx[0, 0] += 1e3 * np.abs(dx).max()
        return dx

    with pytest.raises(AssertionError, match=r"along random directions u, <grads, u\d>: .* \[directional;"):
        assert_backward_matches(_x_sin_x, one_off, inputs=(x,))


# ----- the same derived tolerance for a user's op: no condition term to write -----


def my_layernorm_forward(x, gamma, beta):
    mean = x.mean(axis=1, keepdims=True)
    std = np.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    xhat = (x - mean) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def my_layernorm_backward(dout, cache):
    xhat, gamma, std = cache
    g = dout * gamma
    dx = (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def layernorm_ref(x, gamma, beta):
    mean = x.mean(axis=1, keepdims=True)
    xhat = (x - mean) / jnp.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    return gamma[None, :] * xhat + beta[None, :]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_users_layernorm_far_from_zero_passes_without_a_tolerance_factor(dtype):
    r = np.random.default_rng(3)
    inputs = {
        "x": (1000 + r.standard_normal((8, 64))).astype(dtype),
        "gamma": (1 + 0.2 * r.standard_normal(64)).astype(dtype),
        "beta": (0.2 * r.standard_normal(64)).astype(dtype),
    }
    assert_backward_matches(my_layernorm_forward, my_layernorm_backward, layernorm_ref, inputs=inputs)

    def one_pass_forward(x, gamma, beta):  # E[x^2] - E[x]^2: cancels catastrophically at 1000 in float32
        mean = x.mean(axis=1, keepdims=True)
        std = np.sqrt(np.maximum((x * x).mean(axis=1, keepdims=True) - mean * mean, 0) + 1e-5)
        xhat = (x - mean) / std
        return gamma * xhat + beta, (xhat, gamma, std)

    if dtype == np.float32:
        with pytest.raises(AssertionError):
            assert_backward_matches(one_pass_forward, my_layernorm_backward, layernorm_ref, inputs=inputs)
