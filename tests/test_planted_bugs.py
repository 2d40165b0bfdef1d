"""Planted bugs: each common mistake must fail, with a message naming op, gradient, element and values."""

import re

import numpy as np
import pytest

import manual_grads as mg
from conformance import checks, registry


def transpose_missing(dout, cache):  # dw = dout^T x instead of x^T dout
    x, w, b = cache
    dx, _, db = mg.affine_backward(dout, cache)
    return dx, dout.T @ x.reshape(x.shape[0], -1), db


def bias_kept_2d(dout, cache):  # db of shape (1, M)
    dx, dw, _ = mg.affine_backward(dout, cache)
    return dx, dw, np.sum(dout, axis=0, keepdims=True)


def sigmoid_without_one_minus(dout, cache):
    return dout * cache


def mask_on_wrong_side(dout, cache):  # gradient where x < 0
    return np.where(cache < 0, dout, 0).astype(dout.dtype)


def softmax_without_mean(x, y):  # the 1/N is missing from dx
    loss, dx = mg.softmax_loss(x, y)
    return loss, dx * x.shape[0]


BUGS = [
    # (op, sample, replacement, attribute, gradient the message must name)
    ("affine", "square", transpose_missing, "backward", "dw"),
    ("affine", "small", transpose_missing, "backward", "dw"),
    ("affine", "small", bias_kept_2d, "backward", "db"),
    ("sigmoid", "small", sigmoid_without_one_minus, "backward", "dx"),
    ("relu", "small", mask_on_wrong_side, "backward", "dx"),
    ("softmax_loss", "course", softmax_without_mean, "loss", "dx"),
]


def planted(op_name, replacement, attribute):
    op = registry.REGISTRY[op_name]
    if attribute == "loss":
        return registry.SPECS[op_name].bind(type("Buggy", (), {"softmax_loss": staticmethod(replacement)}))
    return checks.with_backward(op, replacement)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "op_name,sample,replacement,attribute,grad", BUGS, ids=[f"{b[0]}-{b[1]}-{b[2].__name__}" for b in BUGS]
)
def test_planted_bug_fails_with_a_useful_message(op_name, sample, replacement, attribute, grad, dtype):
    case = checks.Case(planted(op_name, replacement, attribute), sample, dtype)
    results = [checks.run_check(name, case) for name in ("vjp", "shapes_dtypes")]
    failed = [r for r in results if not r.passed]
    assert failed, f"{replacement.__name__} passed every check"
    message = " ".join(r.message for r in failed)
    assert op_name in message
    assert re.search(rf"\b{grad}\b", message), message
    value_failure = next(r for r in failed if r.check == "vjp")
    if "the values are right, the shape is wrong" in value_failure.message:
        return  # the shape alone is wrong: there is no worst element to show
    assert re.search(r"worst element (\[[\d, ]+\]|\(scalar\))", value_failure.message), value_failure.message
    assert re.search(r"got -?[\d.]+(e[-+]\d+)?, want -?[\d.]+", value_failure.message), value_failure.message


def test_bias_kept_2d_reports_that_only_the_shape_is_wrong():
    case = checks.Case(planted("affine", bias_kept_2d, "backward"), "small", "float64")
    result = checks.run_check("vjp", case)
    assert "db.shape=(1, 3), want (3,): the values are right, the shape is wrong" in result.message


def test_a_backward_that_raises_fails_its_checks_without_crashing():
    def broken(dout, cache):
        raise ZeroDivisionError("boom")

    case = checks.Case(checks.with_backward(registry.REGISTRY["tanh"], broken), "small", "float32")
    result = checks.run_check("vjp", case)
    assert not result.passed and "ZeroDivisionError: boom" in result.message


def test_a_backward_that_mutates_dout_fails_no_mutation():
    def mutating(dout, cache):
        dout *= 2
        return mg.tanh_backward(dout, cache)

    case = checks.Case(checks.with_backward(registry.REGISTRY["tanh"], mutating), "small", "float64")
    result = checks.run_check("no_mutation", case)
    assert not result.passed and "changed dout" in result.message


def test_a_nondeterministic_backward_fails():
    rng = np.random.default_rng()

    def noisy(dout, cache):
        return mg.relu_backward(dout, cache) + rng.standard_normal() * 1e-12

    case = checks.Case(checks.with_backward(registry.REGISTRY["relu"], noisy), "small", "float64")
    assert not checks.run_check("deterministic", case).passed


def test_a_nonlinear_backward_fails_linearity():
    def squared(dout, cache):
        return mg.tanh_backward(dout * dout, cache)

    case = checks.Case(checks.with_backward(registry.REGISTRY["tanh"], squared), "small", "float64")
    assert not checks.run_check("linear_in_dout", case).passed


def test_finite_differences_catch_a_wrong_backward():
    case = checks.Case(
        checks.with_backward(registry.REGISTRY["sigmoid"], sigmoid_without_one_minus), "small", "float64"
    )
    result = checks.run_check("finite_differences", case)
    assert not result.passed and "dx:" in result.message and "dx (jax)" not in result.detail.split(";")[0]


# ----- mutants of manual_grads/ that once passed gradref check (the classes mutation testing found) -----

import inspect  # noqa: E402 - this part's own imports
import types  # noqa: E402

from manual_grads import circuits, layers, losses, nets, norms, optim, sequence  # noqa: E402
from manual_grads import dropout as dropout_module  # noqa: E402


def mutated(module, old, new):
    """`module` with one source edit, as a mutation tool makes it: a namespace of manual functions."""
    source = inspect.getsource(module)
    assert source.count(old) == 1, f"{old!r} is not in {module.__name__} exactly once"
    namespace = {"__name__": module.__name__, "__file__": module.__file__, "__package__": "manual_grads"}
    exec(compile(source.replace(old, new), module.__file__, "exec"), namespace)
    return types.SimpleNamespace(**{**vars(mg), **{k: v for k, v in namespace.items() if callable(v)}})


MUTANTS = [
    # (op, module, original, mutant, the check that must catch it)
    ("relu", layers, "astype(cache > 0,", "astype(cache >= 0,", "vjp"),  # relu'(0) = 1
    ("max_gate", circuits, "astype(x > y,", "astype(x >= y,", "vjp"),  # a tie to x
    ("svm_loss", losses, "(raw > 0)", "(raw >= 0)", "vjp"),  # margin 0 counted
    ("batchnorm", norms, 'bn_param.get("eps", 1e-5)', "1e-5", "forward"),  # eps ignored
    ("batchnorm", norms, 'bn_param.get("momentum", 0.9)', "0.9", "state"),  # momentum ignored
    ("batchnorm", norms, 'bn_param.get("momentum", 0.9)', 'bn_param.get("momentum", 0.8)', "defaults"),
    ("layernorm", norms, 'ln_param.get("eps", 1e-5)', 'ln_param.get("eps", 1e-6)', "defaults"),
    (
        "layernorm",
        norms,
        "centred = x - mean\n    std = xp.sqrt(xp.mean(centred * centred, axis=-1, keepdims=True) + eps)",
        "centred = x - mean\n    std = xp.sqrt(xp.mean(x * x, axis=-1, keepdims=True) - mean * mean + eps)",
        "forward",
    ),
    ("sgd", optim, "learning_rate=1e-2)", "learning_rate=1e-3)", "defaults"),
    ("adam", optim, "beta2=0.999", "beta2=0.99", "defaults"),
    (
        "rmsprop",
        optim,
        '(xp.sqrt(config["cache"]) + config["epsilon"])',
        'xp.sqrt(config["cache"] + config["epsilon"])',
        "forward",
    ),
    (
        "two_layer_net",
        nets,
        "def two_layer_net_loss(X, y, W1, b1, W2, b2, reg=0.0):",
        "def two_layer_net_loss(X, y, W1, b1, W2, b2, reg=1.0):",
        "defaults",
    ),
    ("temporal_softmax_loss", sequence, "xp.max(scores, axis=1, keepdims=True)", "xp.max(scores)", "forward"),
    ("dropout", dropout_module, 'if mode != "train":', 'if mode > "train":', "refuses_invalid"),
    ("batchnorm", norms, 'elif mode == "test":', 'elif mode <= "test":', "refuses_invalid"),
    (
        "relu",
        layers,
        "    dx *= dout\n    return dx",
        "    dx *= dout\n    return dx if hasattr(dx, 'flags') else dout",
        "jax_arrays",
    ),  # a branch only jax.numpy takes
]


@pytest.mark.parametrize(
    "op_name,module,old,new,check", MUTANTS, ids=[f"{m[0]}-{m[4]}-{i}" for i, m in enumerate(MUTANTS)]
)
def test_a_mutant_of_the_class_mutation_testing_found_is_killed(op_name, module, old, new, check):
    op = registry.SPECS[op_name].bind(mutated(module, old, new))
    results = [
        checks.run_check(name, case) for name, case in checks.cases([op], ("float64", "float32")) if name == check
    ]
    assert results and not all(r.passed for r in results), f"{op_name}: {new!r} was not caught by {check}"
    original = registry.SPECS[op_name].bind(mg)
    assert all(
        checks.run_check(name, case).passed
        for name, case in checks.cases([original], ("float64", "float32"))
        if name == check
    )
