"""Benchmark sizes and cost models, one BenchSpec per registry entry.

`flops` and `bytes` count the work of what is timed (the backward pass; forward + backward for losses
and the two-layer net). `bound` says which limit rates it: "gemm" rows against a plain matmul of
`peak_shape` in the same library, "memory" rows against a plain copy of `bytes` bytes.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class BenchSpec:
    sizes: tuple  # full sweep, smallest first
    quick: tuple  # the --quick sweep
    draw: Callable  # draw(size, rng) -> {arg name: float64 value}
    flops: Callable  # flops(size) -> int
    bytes: Callable  # bytes(size, itemsize) -> int
    bound: str = "memory"
    peak_shape: Callable = None  # gemm: size -> (n, k, m) of the reference matmul


def label(size):
    return "x".join(s if isinstance(s, str) else str(int(s)) for s in size)


def _normal(rng, *shape):
    return rng.standard_normal(shape)


# ----- GEMM-bound: affine, linear, matmul, affine_relu (backward: two products of N x D x M) -----

GEMM_SIZES = ((8, 16, 8), (64, 256, 128), (256, 1024, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096))


def gemm_spec(draw, sizes=GEMM_SIZES, quick=GEMM_SIZES[:-1]):
    """Backward of an N x D x M product: dx and dw are each 2NDM flops; db (if any) NM adds."""
    return BenchSpec(
        sizes,
        quick,
        draw,
        flops=lambda s: 4 * s[0] * s[1] * s[2] + s[0] * s[2],
        bytes=lambda s, b: b * (2 * s[0] * s[2] + 2 * s[0] * s[1] + 2 * s[1] * s[2]),
        bound="gemm",
        peak_shape=lambda s: s,
    )


def affine_draw(size, rng):
    n, d, m = size
    return {"x": _normal(rng, n, d), "w": _normal(rng, d, m) / np.sqrt(d), "b": _normal(rng, m)}


def linear_draw(size, rng):
    n, d, m = size
    return {"X": _normal(rng, n, d), "W": _normal(rng, m, d) / np.sqrt(d), "B": _normal(rng, m)}


def matmul_draw(size, rng):
    n, d, m = size
    return {"W": _normal(rng, n, d), "X": _normal(rng, d, m) / np.sqrt(d)}


# ----- memory-bound elementwise ops (backward reads dout and the cache, writes dx) -----

ELEMENTWISE_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)


def _shape(n):
    return (n // 100, 100)


def elementwise_spec(names=("x",), n_read=2, n_write=1, sizes=ELEMENTWISE_SIZES, extra=None):
    def draw(size, rng):
        return {**{name: _normal(rng, *_shape(size[0])) for name in names}, **(extra or {})}

    return BenchSpec(
        tuple((s,) for s in sizes),
        tuple((s,) for s in sizes),
        draw,
        flops=lambda s: 0,
        bytes=lambda s, b: (n_read + n_write) * s[0] * b,
    )


# ----- losses (forward + backward: read x, write dx) -----

LOSS_SIZES = ((64, 10), (1024, 1000), (8192, 1000))


def loss_spec():
    def draw(size, rng):
        n, c = size
        return {"x": _normal(rng, n, c), "y": rng.integers(0, c, n)}

    return BenchSpec(LOSS_SIZES, LOSS_SIZES, draw, flops=lambda s: 0, bytes=lambda s, b: 2 * s[0] * s[1] * b)


# ----- the two-layer net (forward + backward of N x D x H x C) -----

NET_SIZES = ((32, 100, 50, 10), (256, 1024, 1024, 100), (1024, 3072, 1024, 1000), (4096, 3072, 4096, 1000))


def net_spec():
    def draw(size, rng):
        n, d, h, c = size
        return {
            "X": _normal(rng, n, d),
            "y": rng.integers(0, c, n),
            "W1": _normal(rng, d, h) / np.sqrt(d),
            "b1": _normal(rng, h) * 0.1,
            "W2": _normal(rng, h, c) / np.sqrt(h),
            "b2": _normal(rng, c) * 0.1,
            "reg": 1e-3,
        }

    def flops(s):
        n, d, h, c = s
        return 4 * n * d * h + 6 * n * h * c  # forward N.D.H + N.H.C; backward dW1, dW2, dhidden

    def nbytes(s, b):
        n, d, h, c = s
        return b * (n * d + 2 * (d * h + h * c) + 3 * n * h + 3 * n * c)

    return BenchSpec(
        NET_SIZES, NET_SIZES[:-1], draw, flops, nbytes, bound="gemm", peak_shape=lambda s: (s[0], s[1], s[2])
    )


def neuron_spec():
    def draw(size, rng):
        return {"w": _normal(rng, size[0] + 1), "x": _normal(rng, size[0])}

    sizes = ((100,), (1_000_000,))
    return BenchSpec(sizes, sizes, draw, flops=lambda s: 0, bytes=lambda s, b: 3 * s[0] * b)


def norm_spec(param="bn_param"):
    """Normalisation of x (N, D): forward reads x, backward reads dout and the cache, writes dx."""
    sizes = ((64, 128), (1024, 1024), (4096, 1024))

    def draw(size, rng):
        n, d = size
        extra = {"mode": "train", "momentum": 0.9, "running_mean": np.zeros(d), "running_var": np.ones(d)}
        return {
            "x": _normal(rng, n, d),
            "gamma": np.ones(d),
            "beta": np.zeros(d),
            param: {"eps": 1e-5, **(extra if param == "bn_param" else {})},
        }

    return BenchSpec(sizes, sizes, draw, flops=lambda s: 0, bytes=lambda s, b: 4 * s[0] * s[1] * b)


def conv_spec():
    """Backward of a 3x3 convolution, stride 1, pad 1: N x C x H x W inputs, F filters."""
    sizes = ((8, 3, 32, 32, 16), (32, 64, 32, 32, 64))

    def draw(size, rng):
        n, c, h, w, f = size
        return {
            "x": _normal(rng, n, c, h, w),
            "w": _normal(rng, f, c, 3, 3) / np.sqrt(9 * c),
            "b": _normal(rng, f),
            "conv_param": {"stride": 1, "pad": 1},
        }

    def flops(s):
        n, c, h, w, f = s
        return 2 * 2 * n * f * h * w * c * 9  # dw and dx, each one product of this size

    return BenchSpec(
        sizes,
        sizes,
        draw,
        flops,
        bytes=lambda s, b: b * 3 * s[0] * s[1] * s[2] * s[3],
        bound="gemm",
        peak_shape=lambda s: (s[4], s[1] * 9, s[0] * s[2] * s[3]),
    )


def from_samples(op):
    """For ops without a sweep of their own: time the op's largest conformance sample."""
    name = op.samples[-1].name

    def draw(size, rng):
        return dict(op.draw_sample(size[0], "float64").args)

    def nbytes(size, itemsize):
        args = draw(size, None)
        return 3 * itemsize * sum(v.size for v in args.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f")

    return BenchSpec(((name,),), ((name,),), draw, flops=lambda s: 0, bytes=nbytes)
