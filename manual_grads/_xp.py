"""Array-namespace helpers: the same code runs on NumPy, CuPy, torch and jax.numpy arrays."""

import sys

import numpy


def namespace(*arrays):
    """The array namespace (numpy, cupy, jax.numpy, torch) of the first array among `arrays`."""
    for a in arrays:
        if _is_torch(a):  # torch has no array API of its own: array-api-compat's wrapper gives it one
            return _torch_namespace()
        get = getattr(a, "__array_namespace__", None)
        if get is not None:  # NumPy 2 and jax.Array (tracers under jit included) have it
            return get()
        if type(a).__module__.startswith("cupy"):  # CuPy arrays without the array API method
            return sys.modules["cupy"]
    return numpy


def _is_torch(a):
    return type(a).__module__.startswith("torch")


def _torch_namespace():
    from array_api_compat import torch as xp

    return xp


def concat(xp, arrays, axis=0):
    fn = getattr(xp, "concat", None) or xp.concatenate
    return fn(arrays, axis=axis)


def astype(x, dtype):
    """x converted to `dtype` (the array API function where the namespace has it; CuPy's method)."""
    fn = getattr(namespace(x), "astype", None)
    return fn(x, dtype) if fn is not None else x.astype(dtype)


def like(values, x):
    """NumPy `values` as an array of x's namespace, dtype and device."""
    xp = namespace(x)
    if _is_torch(x):  # a NumPy array cannot be cast to a torch dtype, and the tensor may be on CUDA
        return xp.asarray(values, dtype=x.dtype, device=x.device)
    return xp.asarray(values.astype(x.dtype))


def pad_spatial(x, pad):
    """x (N, C, H, W) with `pad` zeros on each side of H and W."""
    xp = namespace(x)
    if not hasattr(xp, "pad"):  # torch: its functional pad takes (left, right, top, bottom)
        import torch.nn.functional

        return torch.nn.functional.pad(x, (pad, pad, pad, pad))
    return xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def one_hot(y, num_classes, like):
    """(N, C) array in `like`'s dtype with ones at (i, y[i])."""
    xp = namespace(like)
    classes = xp.arange(num_classes, dtype=y.dtype)
    return astype(y[:, None] == classes[None, :], like.dtype)


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
