"""The conformance suite, generated from the registry: every op x sample x dtype x check on the CPU."""

import numpy as np
import pytest

from conformance import checks, registry
from gradref.testing import assert_case

PAIRS = checks.cases(registry.ops(), dtypes=("float64", "float32"), devices=("cpu",))


@pytest.mark.parametrize("check,case", PAIRS, ids=[f"{c}-{check}" for check, c in PAIRS])
def test_conformance(check, case):
    assert_case(check, case)  # the public API users call: the two can never disagree


def test_every_op_of_the_core_issue_is_registered():
    wanted = {
        "affine",
        "linear",
        "relu",
        "sigmoid",
        "tanh",
        "softmax_loss",
        "svm_loss",
        "affine_relu",
        "two_layer_net",
        "add_mul_circuit",
        "sigmoid_neuron",
        "staged_expression",
        "max_gate",
        "matmul",
    }
    assert wanted <= set(registry.REGISTRY)


def test_every_op_has_checks_in_both_dtypes():
    covered = {(case.op.name, case.dtype) for _, case in PAIRS}
    assert covered == {(name, dtype) for name in registry.REGISTRY for dtype in ("float64", "float32")}


def test_samples_include_n1_kdim_and_memory_layouts():
    affine = registry.REGISTRY["affine"]
    assert affine.draw_sample("n1", "float32").args["x"].shape[0] == 1
    assert affine.draw_sample("kdim", "float32").args["x"].ndim == 4
    fortran = affine.draw_sample("small/fortran", "float32").args
    strided = affine.draw_sample("small/strided", "float32").args
    assert fortran["x"].flags.f_contiguous and not fortran["x"].flags.c_contiguous
    assert not strided["x"].flags.c_contiguous and not strided["b"].flags.c_contiguous
    assert (strided["x"] == affine.draw_sample("small", "float32").args["x"]).all()


@pytest.mark.parametrize(
    "op_name", ["rnn_step", "rnn", "lstm_step", "lstm", "word_embedding", "temporal_affine", "temporal_softmax_loss"]
)
def test_the_sequence_ops_are_graded_on_a_batch_of_one(op_name):
    """A np.squeeze per time step passes every batch but one of a single sequence: that one is sampled."""
    from gradref.grade.judging.grader import graded_samples

    op = registry.REGISTRY[op_name]
    first = op.signature[0]
    sizes = [np.shape(op.draw_sample(name, "float64").args[first])[0] for name in graded_samples(op)]
    assert 1 in sizes, sizes


def test_a_models_loss_alone_is_the_same_to_the_bit_and_skips_its_gradients():
    """Finite differences ask a model for its loss alone (manual_grads' value_only): the value must be
    the one the full call gives, bit for bit, and no gradients come back."""
    from manual_grads._mode import value_only

    models = [op for op in registry.ops() if op.kind == registry.LOSS and len(op.wrt) > 2]
    skipped = []
    for op in models:
        case = checks.Case(op, op.samples[0].name, "float64")
        args = checks.sample_args(case)
        loss, grads = op.forward(*args)
        with value_only():
            alone, none = op.forward(*args)
        assert np.asarray(alone).tobytes() == np.asarray(loss).tobytes(), op.name
        assert grads is not None, op.name
        skipped += [op.name] if none is None else []
    assert len(skipped) >= 18 and {"three_layer_convnet", "fc_net_batchnorm", "captioning_lstm"} <= set(skipped)
