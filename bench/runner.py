"""`gradref bench`: sweep sizes per op and impl, time medians, rate each row against the machine's peak."""

import ctypes
import os
import platform
import time

import numpy as np

from conformance.benchspec import label
from conformance.samples import cast
from gradref import output

from . import impls

QUICK_BUDGET_S, FULL_BUDGET_S = 0.05, 1.0  # seconds of timing per row


def time_call(fn, budget=FULL_BUDGET_S, min_repeats=5, max_repeats=2000):
    """(median, iqr) seconds of fn() after a warm-up, repeating until `budget` seconds are spent.

    Each result stays alive until the next call returns, as gradients do in a training loop; freeing
    it first would make glibc hand multi-MB blocks back to the OS and page-fault them in again on
    every call (measured: softmax_loss 1024x1000 in NumPy 9.3 ms that way, 2.2 ms this way).
    """
    last = fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - start
        if len(times) >= min_repeats and spent > budget:
            break
        if len(times) >= 3 and spent > 4 * budget:  # a single call near the budget: 3 will do
            break
    del last
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return float(median), float(q3 - q1)


def sizes_of(op, quick, device):
    spec = op.bench
    return spec.quick if quick and device == "cpu" else spec.sizes


def twin_of(op, names):
    """The op that `op` is the regularisation twin of (fc_net_full of fc_net, linear_svm_half of
    linear_svm: the same computation with reg doubled or halved), where it is among `names`."""
    for suffix in ("_full", "_half"):
        if op.name.endswith(suffix) and op.name[: -len(suffix)] in names:
            return op.name[: -len(suffix)]
    return None


def plan(ops, impl_names, devices, dtypes, quick):
    """Every (op, size, impl, device, dtype) to time, smallest sizes first; --quick times one op of
    each pair of regularisation twins."""
    names = {op.name for op in ops}
    if quick:
        ops = [op for op in ops if twin_of(op, names) is None]
    rows = []
    for device in devices:
        for dtype in dtypes:
            for op in ops:
                for size in sizes_of(op, quick, device):
                    rows += [
                        (op, size, impl, device, dtype) for impl in impl_names if impls.available(impl, device, op)
                    ]
    return rows


def cast_args(op, size, dtype):
    args = cast(op.bench.draw(size, np.random.default_rng(0)), dtype)
    return [args[name] for name in op.signature]


def inputs(op, size, dtype):
    """(args, dout) of one row: the same for every impl that times this op, size and dtype."""
    args = cast_args(op, size, dtype)
    return args, make_dout(op, args, dtype)


def make_dout(op, args, dtype):
    if op.kind == "loss":
        return np.ones((), dtype)
    out, _ = op.forward(*args)
    return np.random.default_rng(1).standard_normal(np.shape(out)).astype(dtype)


class Peaks:
    """The machine's own limits, measured once per library, shape and dtype within the run."""

    def __init__(self, budget):
        self.budget, self.cache = budget, {}

    def rate(self, op, size, impl, device, dtype):
        spec, library = op.bench, impls.library_of(impl)
        itemsize = np.dtype(dtype).itemsize
        if spec.bound == "gemm":
            shape = spec.peak_shape(size)
            key = ("gemm", library, shape, dtype, device)
            if key not in self.cache:
                median, _ = time_call(impls.peak_matmul(library, shape, dtype, device), self.budget)
                self.cache[key] = 2 * shape[0] * shape[1] * shape[2] / median
            return self.cache[key], "flop/s"
        nbytes = spec.bytes(size, itemsize)
        library = impls.copy_library(device)  # copy bandwidth is the machine's, whoever asks
        key = ("copy", library, nbytes, dtype, device)
        if key not in self.cache:
            median, _ = time_call(impls.peak_copy(library, nbytes, dtype, device), self.budget)
            self.cache[key] = (nbytes // itemsize // 2) * itemsize * 2 / median
        return self.cache[key], "B/s"


BUSY_SPREAD = 0.25  # an IQR above this fraction of the median: something else was using the machine


def measure(op, size, impl, device, dtype, peaks, budget, drawn=None):
    """One row; `drawn`: the (args, dout) of this op, size and dtype where another impl's row drew them."""
    args, dout = drawn or inputs(op, size, dtype)
    # Timing, not numerics (gradref check judges those): a BLAS can leave a floating-point flag behind
    # on a tiny product of finite numbers, which NumPy then reports as "invalid value encountered".
    with np.errstate(all="ignore"):
        prepared = impls.prepare(impl, op, args, dout, device)
        median, iqr = time_call(prepared.run, budget)
    spec = op.bench
    flops, nbytes = spec.flops(size), spec.bytes(size, np.dtype(dtype).itemsize)
    peak, unit = peaks.rate(op, size, impl, device, dtype)
    achieved = (flops if spec.bound == "gemm" else nbytes) / median
    return {
        "op": op.name,
        "impl": impl,
        "device": device,
        "dtype": dtype,
        "size": label(size),
        "flops": flops,
        "bytes": nbytes,
        "median_s": median,
        "iqr_s": iqr,
        "compile_s": prepared.compile_s,
        "bound": spec.bound,
        "rate": achieved,
        "rate_unit": unit,
        "peak": peak,
        "fraction_of_peak": achieved / peak,
        "busy": iqr > BUSY_SPREAD * median,
    }


def machine(devices):
    """What the numbers were measured on."""
    import jax

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax_devices": [str(d) for d in jax.devices()],
        "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision),
        "versions": output.versions(),
        "load_average": list(os.getloadavg()),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")} for p in threadpool_info()
        ]
    except ImportError:
        pass
    if "gpu" in devices:
        import jax

        info["gpu"] = str(jax.devices("gpu")[0].device_kind)
    return info


def release_memory():
    """Hand what the last op's rows freed back to the system (glibc keeps freed heap for reuse, so
    without it the next op's peak comes on top of the last one's). A gc.collect() here would cost
    0.14 s an op with JAX loaded and freed nothing more (measured)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def run(ops, impl_names, devices, dtypes, quick, advance=None, budget=None):
    """All rows of the sweep; `budget` is the seconds spent timing each row (default by --quick)."""
    budget = budget if budget is not None else (QUICK_BUDGET_S if quick else FULL_BUDGET_S)
    peaks = Peaks(budget)
    todo = plan(ops, impl_names, devices, dtypes, quick)
    results, drawn_key, drawn = [], None, None
    for done, (op, size, impl, device, dtype) in enumerate(todo, 1):
        key = (op.name, label(size), dtype)
        if key != drawn_key:  # the impls of a row follow each other: keep only the latest draw
            drawn = None  # first: the last row's arrays would otherwise be held beside the new ones
            if drawn_key is None or op.name != drawn_key[0]:
                release_memory()
            drawn_key, drawn = key, inputs(op, size, dtype)
        results.append(measure(op, size, impl, device, dtype, peaks, budget, drawn))
        if advance:
            advance(done, len(todo), f"{op.name} {label(size)} {impl}")
    return {"machine": machine(devices), "results": results}
