"""Array-namespace helpers: the same code runs on NumPy, CuPy and jax.numpy arrays."""

import sys

import numpy


def namespace(*arrays):
    """The array namespace (numpy, cupy, jax.numpy) of the first array among `arrays`."""
    for a in arrays:
        get = getattr(a, "__array_namespace__", None)
        if get is not None:  # NumPy 2 and jax.Array (tracers under jit included) have it
            return get()
        if type(a).__module__.startswith("cupy"):  # CuPy arrays without the array API method
            return sys.modules["cupy"]
    return numpy


def concat(xp, arrays, axis=0):
    fn = getattr(xp, "concat", None) or xp.concatenate
    return fn(arrays, axis=axis)


def one_hot(y, num_classes, like):
    """(N, C) array in `like`'s dtype with ones at (i, y[i])."""
    xp = namespace(like)
    classes = xp.arange(num_classes, dtype=y.dtype)
    return (y[:, None] == classes[None, :]).astype(like.dtype)


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    xp = namespace(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def permute(x, axes):
    """Transpose by `axes` (array API permute_dims where the namespace has it)."""
    xp = namespace(x)
    return (getattr(xp, "permute_dims", None) or xp.transpose)(x, axes)


def scatter_add(target, indices, values):
    """target with values added at target[indices] (repeats accumulate, as np.add.at)."""
    xp = namespace(target)
    if xp.__name__.startswith("jax"):  # jax arrays are immutable
        return target.at[indices].add(values)
    xp.add.at(target, indices, values)
    return target
