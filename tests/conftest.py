"""Strict JAX promotion everywhere in the tests, and GPU tests skipped with a reason where there is none."""

import os

import jax
import pytest

from conformance import cache, pools
from reference.oracle import gpu_available

# The xdist workers fill every core between them: one BLAS thread each (conformance/pools.py says why).
# This conftest is read by the controller before it starts them, and they inherit the environment.
for _name in pools.BLAS_THREADS:
    os.environ.setdefault(_name, "1")

pytest_plugins = ["pytester"]

# A silent broadcast or dtype promotion in reference or manual code fails loudly.
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

# One compilation cache for the session, shared by the xdist workers: a case's checks land on both,
# and each would compile the same reference programs (set before any in-process CLI run points it
# at a test's own folder, which is gone by the next test).
cache.use_compilation_cache()


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs a GPU: jax.devices('gpu') found none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def once_per_session(tmp_path_factory, name, compute):
    """compute(folder) -> JSON-serialisable value, run by one xdist worker for the whole session; the
    others wait on a lock and read the stored value (pytest-xdist's pattern for session fixtures)."""
    import fcntl
    import json

    # Under xdist each worker's basetemp sits in the session's own folder; without it, basetemp is it.
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session = session.parent
    shared = session / f"once-{name}"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = shared / "result.json"
        if not result.exists():
            value = compute(shared)
            result.write_text(json.dumps(value))
        return json.loads(result.read_text())
