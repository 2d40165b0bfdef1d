"""Inverted dropout. `p` is the probability of KEEPING a unit (this course year's convention; older
years used p as the probability of dropping one). A seed in dropout_param makes the mask reproducible:
the mask is numpy.random.RandomState(seed).rand(*x.shape) < p, exactly what np.random.seed(seed)
followed by np.random.rand(*x.shape) draws."""

import numpy

from ._xp import like


def dropout_mask(shape, p, seed=None):
    """The 0/(1/p) mask as a NumPy float64 array."""
    rng = numpy.random.RandomState(seed) if seed is not None else numpy.random
    return (rng.rand(*shape) < p) / p


def dropout_forward(x, dropout_param):
    """Train: x * mask, mask = (U < p) / p. Test: the identity."""
    mode, p = dropout_param["mode"], dropout_param["p"]
    if mode == "test":
        return x * 1, (mode, None)
    if mode != "train":
        raise ValueError(f"invalid dropout mode {mode!r}")
    mask = like(dropout_mask(x.shape, p, dropout_param.get("seed")), x)
    return x * mask, (mode, mask)


def dropout_backward(dout, cache):
    """dout through the same mask (train), or unchanged (test)."""
    mode, mask = cache
    return dout * mask if mode == "train" else dout * 1
