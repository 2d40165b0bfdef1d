"""jax.numpy reference functions (forward only) and the float64 JAX oracle."""

import os

# JAX would otherwise take 75% of GPU memory at start and starve CuPy, which runs the manual passes.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from . import functions  # noqa: E402
from .oracle import (  # noqa: E402
    NoDevice,
    PrecisionError,
    exact_mode,
    gpu_available,
    jax_device,
    precision_in_force,
    probe_matmuls,
    verify_precision,
    vjp,
)

__all__ = [
    "functions",
    "NoDevice",
    "PrecisionError",
    "exact_mode",
    "gpu_available",
    "jax_device",
    "precision_in_force",
    "probe_matmuls",
    "verify_precision",
    "vjp",
]
