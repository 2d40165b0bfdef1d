"""Where the manual passes run: NumPy on the CPU, CuPy on the GPU when CuPy is installed; or, chosen
with `select("torch")`, torch tensors on the CPU and on CUDA (EECS 498's library)."""

import contextlib
import importlib.util
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Backend:
    """How to move NumPy arrays to the arrays the manual code runs on, and back."""

    name: str
    asarray: Callable
    to_numpy: Callable


NUMPY = Backend("numpy", lambda a: a, lambda a: a)


def cupy_available():
    return importlib.util.find_spec("cupy") is not None


def cupy_backend():
    import cupy

    return Backend(
        "cupy",
        lambda a: cupy.asarray(a) if isinstance(a, np.ndarray) else a,
        lambda a: cupy.asnumpy(a) if isinstance(a, cupy.ndarray) else a,
    )


LIBRARIES = ("numpy", "torch")  # what the manual code can run on; numpy means CuPy on a GPU
_selected = ["numpy"]


def torch_available():
    return importlib.util.find_spec("torch") is not None


def problem_with(library):
    """A sentence saying why the manual code cannot run on `library` here ("" when it can)."""
    if library not in LIBRARIES:
        return f"unknown backend {library!r}; choose from: {', '.join(LIBRARIES)}"
    if library == "torch" and not torch_available():
        return "--backend torch needs PyTorch, which is not installed: pip install 'gradref[torch]'"
    return ""


def select(library):
    """Run the manual code on `library`'s arrays from now on, in this process (a check's workers are
    told too). Raises ValueError with problem_with's sentence when it cannot."""
    problem = problem_with(library)
    if problem:
        raise ValueError(problem)
    _selected[0] = library


def selected():
    return _selected[0]


@contextlib.contextmanager
def using(library):
    """select(library) for the block, then the library chosen before."""
    before = selected()
    select(library)
    try:
        yield
    finally:
        _selected[0] = before


def torch_backend(device):
    import torch

    where = torch.device("cuda" if device == "gpu" and torch.cuda.is_available() else "cpu")
    return Backend(
        "torch" if where.type == "cpu" else "torch-cuda",
        lambda a: torch.from_numpy(a).to(where) if isinstance(a, np.ndarray) else a,
        lambda a: a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a,
    )


def backend_for(device):
    """NumPy for "cpu"; CuPy for "gpu" where it is installed, else NumPy (the oracle still runs on the GPU).
    With torch selected: torch on the CPU, and on CUDA for "gpu" where torch sees a GPU."""
    if _selected[0] == "torch":
        return torch_backend(device)
    if device == "gpu" and cupy_available():
        try:
            return cupy_backend()
        except Exception:  # noqa: BLE001 - a CuPy that cannot find CUDA falls back to NumPy
            return NUMPY
    return NUMPY


def to_numpy_tree(value, backend):
    """`value` with every array in nested tuples/lists/dicts moved to NumPy (copied)."""
    if isinstance(value, dict):
        return {k: to_numpy_tree(v, backend) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy_tree(v, backend) for v in value)
    converted = backend.to_numpy(value)
    return np.array(converted, copy=True) if isinstance(converted, np.ndarray) else converted


def _same_bits(a, b):
    """Every entry bit for bit: compared as unsigned integers of the same width, ten times faster
    than np.array_equal(..., equal_nan=True) on float64 (which tests each side for NaN first)."""
    width = a.dtype.itemsize
    if a.dtype.kind in "fc" and width in (2, 4, 8) and a.dtype == b.dtype:
        unsigned = np.dtype(f"u{width}")
        return bool(np.all(a.view(unsigned) == b.view(unsigned)))
    return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def trees_identical(a, b):
    """Bitwise equality of two snapshots (NaN equals NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(trees_identical(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(trees_identical, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and _same_bits(a, b)
        )
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # noqa: BLE001 - opaque objects: identity is all we can ask
        return a is b
