"""pytest-benchmark benchmarks generated from the registry: `pytest bench/ --benchmark-only`.

GRADREF_BENCH=smallest (default) | quick | full picks the sizes; GRADREF_BENCH_DEVICE=cpu|gpu|all.
Each benchmark times one impl of one op at one size (see bench/impls.py for what is timed); JIT
compile time goes to extra_info, apart from the steady-state rounds. No correctness asserts here:
tests/ has those.
"""

import os

import numpy as np
import pytest

from conformance.benchspec import label
from conformance.registry import REGISTRY
from reference.oracle import gpu_available

from . import impls, runner

SWEEP = os.environ.get("GRADREF_BENCH", "smallest")
DEVICES = {"cpu": ["cpu"], "gpu": ["gpu"], "all": ["cpu", "gpu"]}[os.environ.get("GRADREF_BENCH_DEVICE", "cpu")]


def _sizes(op):
    if SWEEP == "smallest":
        return op.bench.sizes[:1]
    return op.bench.quick if SWEEP == "quick" else op.bench.sizes


PARAMS = [
    pytest.param(
        op,
        size,
        impl,
        device,
        id=f"{op.name}-{label(size)}-{impl}-{device}",
        marks=[pytest.mark.gpu] if device == "gpu" else [],
    )
    for device in DEVICES
    for op in REGISTRY.values()
    for size in _sizes(op)
    for impl in impls.IMPLS
    if impl != "cupy" or device == "gpu"
]


@pytest.mark.parametrize("op,size,impl,device", PARAMS)
def test_benchmark(benchmark, op, size, impl, device):
    if device == "gpu" and not gpu_available():
        pytest.skip("needs a GPU: jax.devices('gpu') found none on this machine")
    if not impls.available(impl, device, op):
        pytest.skip(f"{impl} does not run on {device} here")
    dtype = "float32"
    args = runner.cast_args(op, size, dtype)
    prepared = impls.prepare(impl, op, args, runner.make_dout(op, args, dtype), device)
    spec = op.bench
    benchmark.group = f"{op.name} {label(size)} {device}"
    benchmark.extra_info.update(
        op=op.name,
        impl=impl,
        device=device,
        size=label(size),
        dtype=dtype,
        flops=spec.flops(size),
        bytes=spec.bytes(size, np.dtype(dtype).itemsize),
        compile_s=prepared.compile_s,
    )
    benchmark(prepared.run)
