"""Strict JAX promotion everywhere in the tests, and GPU tests skipped with a reason where there is none."""
import jax
import pytest

from reference.oracle import gpu_available

pytest_plugins = ["pytester"]

# A silent broadcast or dtype promotion in reference or manual code fails loudly.
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs a GPU: jax.devices('gpu') found none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
