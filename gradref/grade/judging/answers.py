"""The oracle's answers for the samples a student's function meets, the unseen one included.

They depend only on the op, the sample's name and the seed, so they are drawn and answered once per
process and shared, read-only, by every submission of a batch.
"""

import dataclasses
import functools

import numpy as np

from conformance import cache
from conformance.checks import Case, cotangent, cotangent_label
from conformance.registry import REGISTRY

from .verdict import UNSEEN


@functools.lru_cache(maxsize=256)
def oracle_answers(op_name, sample_name, seed=0):
    """(sample, want_out, want_grads, dout): drawn and answered once per process, then read-only.
    They depend only on the op, the sample's name and the seed, so every submission of a batch shares
    them. A seed other than 0 draws the sample's unseen twin (see unseen.py)."""
    op = REGISTRY[op_name]
    sample = op.draw_sample(sample_name, "float64", seed)
    want_out, want_grads, dout = _answered(op, sample, seed)
    if seed:
        sample = dataclasses.replace(sample, name=sample_label(sample.name, seed))
    for array in _arrays((sample.args, want_out, want_grads, dout)):
        array.setflags(write=False)
    return sample, want_out, want_grads, dout


def answers_with(op_name, sample_name, replaced):
    """oracle_answers for the sample with some arguments replaced (a model's dropout masks, as the
    student's own dropout draws them), through the disk cache: keyed by the arguments, so the masks
    every student's seeded dropout draws alike are answered once."""
    drawn = oracle_answers(op_name, sample_name)[0]
    sample = dataclasses.replace(drawn, args={**drawn.args, **replaced})
    return (sample, *_answered(REGISTRY[op_name], sample))


def _answered(op, sample, seed=0):
    """(want_out, want_grads, dout) of the op's reference on the sample, through the disk cache."""
    args = [sample.args[n] for n in op.signature]
    positions = [op.signature.index(n) for n in op.wrt]
    case = Case(op, sample.name, "float64", seed=seed)
    return cache.vjp(op.reference, args, positions, lambda shape: cotangent(case, shape), cotangent_label(case))


def forward_answer(reference, args, label):
    """A reference's output alone (no gradient) on `args`, through the disk cache under `label`."""
    return cache.vjp(reference, args, [], None, label)[0]


def sample_label(name, seed):
    """How reports name a sample: its unseen twin says so."""
    return f"{name}, {UNSEEN}" if seed else name


@functools.lru_cache(maxsize=None)
def unseen_twin(op_name, names):
    """The first of the samples `names` whose values come from the seed (the course notes' own
    numbers are the same under every seed): the one drawn again from the secret seed."""
    op = REGISTRY[op_name]
    for name in names:
        public = list(_arrays(op.draw_sample(name, "float64").args))
        other = list(_arrays(op.draw_sample(name, "float64", seed=1).args))
        if any(not np.array_equal(a, b) for a, b in zip(public, other)):
            return name
    return names[0]


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item)
