"""The similarity benchmark's class is what it says it is (bench/similarity.py): every style of an op
computes the same thing, k-dimensional inputs included, and every mistake made in a student's own
style changes what it computes. A style that is itself wrong, or a mistake that changes nothing, would
plant shared wrong results among "independent" students, or none in a copy. (Our own corpus, run
in this process: nothing here is a submission.)"""

import random

import numpy as np
import pytest

from bench import obfuscate
from bench.similarity import OPS, drawn_class, originals_of, pools, with_mistake
from bench.similarity_corpus import BUGS, CONSTANTS

STYLES = pools()


def _inputs(op, rng):
    """(forward's arguments, a dout maker) for one op, or the arguments of an update rule."""
    if op == "affine":
        return (rng.standard_normal((4, 3, 2)), rng.standard_normal((6, 5)), rng.standard_normal(5))
    if op == "relu":
        return (rng.standard_normal((4, 5)),)
    if op in ("softmax_loss", "svm_loss"):
        return (rng.standard_normal((5, 4)), rng.integers(0, 4, 5))
    if op == "batchnorm":
        return (rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4), {"mode": "train"})
    if op == "dropout":
        return (rng.standard_normal((5, 4)), {"mode": "train", "p": 0.7, "seed": 3})
    if op == "conv":
        conv = {"stride": 2, "pad": 1}
        return (rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), conv)
    if op == "max_pool":
        return (rng.standard_normal((2, 3, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2})
    return (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))


def _run(source, op, seed=0):
    """Everything the op's functions give on the same inputs: outputs, gradients, a second update."""
    namespace = {"np": np}
    exec(compile(source, f"<{op}>", "exec"), namespace)
    rng = np.random.default_rng(seed)
    arguments = _inputs(op, rng)
    names = OPS[op]
    if len(names) == 1 and op in ("sgd_momentum", "adam"):
        w, dw = arguments
        first, config = namespace[names[0]](w, dw, None)
        second, _ = namespace[names[0]](first, dw, config)
        return [first, second]
    if len(names) == 1:
        return list(namespace[names[0]](*arguments))
    out, cache = namespace[names[0]](*arguments)
    grads = namespace[names[1]](rng.standard_normal(np.shape(out)), cache)
    grads = list(grads) if isinstance(grads, tuple) else [grads]
    if op == "dropout":  # each style may draw its own mask: what holds is out = x * mask, dx = dout * mask
        kept = out != 0
        return [np.where(kept, out / arguments[0], 1 / 0.7), kept.mean() > 0.3]
    return [out] + grads


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_style_of_an_op_computes_the_same(op):
    styles = STYLES[op]
    assert len(styles) >= 3, f"{op} has {len(styles)} styles: a class would share them by construction"
    reference_style = sorted(styles)[0]
    reference = _run(styles[reference_style], op)
    for style, source in sorted(styles.items()):
        got = _run(source, op)
        assert len(got) == len(reference), (op, style)
        for a, b in zip(got, reference):
            np.testing.assert_allclose(
                np.asarray(a, float).reshape(np.shape(b)), b, rtol=1e-9, atol=1e-12, err_msg=f"{op} {style}"
            )


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_mistake_made_in_a_students_own_style_changes_what_it_computes(bug):
    op = BUGS[bug][0]
    made = 0
    for style, source in sorted(STYLES[op].items()):
        mistaken = with_mistake(source, bug, "2.5")
        if mistaken is None:
            continue
        made += 1
        right, wrong = _run(source, op), _run(mistaken, op)
        assert any(np.shape(a) != np.shape(b) or not np.allclose(a, b) for a, b in zip(right, wrong)), (
            f"{bug} in the {style} style changes nothing"
        )
    assert made >= len(STYLES[op]) - 1, f"{bug} is made in only {made} of {len(STYLES[op])} styles"


@pytest.mark.parametrize("kind", sorted(obfuscate.OBFUSCATIONS) + ["all of them"])
def test_an_obfuscated_copy_computes_what_its_original_does(kind):
    """A copy hides its source, never changes its results (a builtin renamed would make it fail)."""
    hide = obfuscate.OBFUSCATIONS.get(kind, obfuscate.all_of_them)
    for op, styles in sorted(STYLES.items()):
        for style, source in sorted(styles.items()):
            original, copy = _run(source, op), _run(hide(source, 3), op)
            for a, b in zip(copy, original):
                np.testing.assert_array_equal(a, b, err_msg=f"{kind} {op} {style}")


@pytest.mark.parametrize("seed", range(14))
def test_each_planted_copy_copies_another_student(seed):
    """Two copies of one student would be a related pair scored as an independent one, and would make
    the copied mistake look twice as common as it is."""
    choices, _ = drawn_class(random.Random(seed), STYLES, 36)  # as the benchmark's accuracy() draws it
    originals = originals_of([f"student_{i:02d}.py" for i in range(len(choices))], choices)
    names = [name for name, _ in originals]
    assert len(names) == 7 and len(set(names)) == len(names), names
    copied_mistake = originals[-1][1]
    assert copied_mistake["c"] not in CONSTANTS, "the copied mistake should be one only its original makes"
