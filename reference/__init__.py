"""jax.numpy reference functions (forward only) and the float64 JAX oracle."""
from . import functions
from .oracle import (NoDevice, PrecisionError, exact_mode, gpu_available, jax_device,
                     precision_in_force, probe_matmuls, verify_precision, vjp)

__all__ = ["functions", "NoDevice", "PrecisionError", "exact_mode", "gpu_available", "jax_device",
           "precision_in_force", "probe_matmuls", "verify_precision", "vjp"]
