"""Run the registry's checks and fold them into one row per op x dtype x device."""

import ctypes
import os

from reference import oracle

from . import backends, checks, pools
from .backends import backend_for
from .checks import AGREEMENT, cases, run_check, worst_of

VALUE_CHECKS = ("forward", "vjp", "finite_differences", "linear_in_dout", "devices_agree", "second_order")


def prepare_devices(devices):
    """Make sure each device exists and the oracle's precision holds there; returns its settings.

    Raises oracle.NoDevice or oracle.PrecisionError with a sentence that names the problem.
    """
    return {device: oracle.verify_precision(device) for device in devices if device != AGREEMENT}


def expand_devices(devices):
    """ "all" means the CPU, the GPU, and a row per op that compares the two."""
    return list(devices) + [AGREEMENT] if {"cpu", "gpu"} <= set(devices) else list(devices)


def summarize(results, op, dtype, device):
    """One row: pass only if every check passed; the worst comparison of the value checks."""
    comparisons = [c for r in results if r.check in VALUE_CHECKS for c in r.comparisons]
    worst = worst_of(comparisons)
    failures = [r.message for r in results if not r.passed]
    ran = [r for r in results if not r.skipped]
    return {
        "op": op.name,
        "dtype": dtype,
        "device": device,
        "status": "pass" if not failures else "fail",
        "max_abs_error": worst.max_abs_error if worst else None,
        "max_rel_error": worst.max_rel_error if worst else None,
        "tolerance": worst.tolerance if worst else None,
        "ratio": worst.ratio if worst else None,
        "worst": f"{worst.name} [{worst_check(results, worst)}]" if worst else "",
        "manual_backend": (
            f"{backend_for('gpu').name} vs {backend_for('cpu').name}"
            if device == AGREEMENT
            else backend_for(device).name
        ),
        "checks_passed": sum(r.passed for r in ran),
        "checks": len(ran),
        "checks_run": sorted({r.check for r in ran}),
        "skipped": sorted({f"{r.check}: {r.detail}" for r in results if r.skipped}),
        "failures": failures,
    }


def worst_check(results, comparison):
    for r in results:
        if comparison in r.comparisons:
            return f"{r.check}, sample {r.case.sample}"
    return ""


def default_jobs():
    """How many processes a check uses unless told: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_unit(op_name, dtypes, devices, order=1, seed=0, library="numpy"):
    """The rows of one registered op (every dtype and device, so that they share its compiled
    programs) with the manual code on `library`: what each worker of a parallel run computes.
    Memory goes back between units."""
    from . import backends, cache
    from .registry import REGISTRY

    cache.use_compilation_cache()
    if backends.selected() != library:
        backends.select(library)
        checks.clear_caches()
    rows = run([REGISTRY[op_name]], dtypes, devices, order=order, seed=seed)
    if resident_bytes() > RELEASE_ABOVE:
        release_memory()
    return rows


def unit_cost(op):
    """A rough size of an op's work, to start the largest first (a pool that ends on a large op
    leaves the other core idle): its samples, and their entries by the hundred thousand."""
    import numpy as np

    entries = 0
    for sample in op.samples:
        drawn = sample.draw(np.random.default_rng(0))
        entries += sum(np.size(v) for v in drawn.values() if isinstance(v, np.ndarray))
    return len(op.samples) + entries / 1e5


def run_parallel(ops, dtypes, devices, jobs, advance=None, order=1, seed=0):
    """The rows of run(), one op per task in `jobs` processes (spawned: JAX and CUDA do not survive a
    fork), the largest ops first; rows come back in run()'s order."""
    import concurrent.futures
    import multiprocessing

    names = [op.name for op in sorted(ops, key=unit_cost, reverse=True)]
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=pools.quiet_worker)
    try:
        library = backends.selected()
        with pools.one_blas_thread_each():  # the workers start on the first submits
            futures = {
                pool.submit(run_unit, name, list(dtypes), list(devices), order, seed, library): name for name in names
            }
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            if advance:
                advance(done, len(names), futures[future])
        rows = {futures[f]: f.result() for f in futures}
    except BaseException:  # Ctrl-C: end the workers now rather than wait for their units
        pools.stop_pool(pool)
        raise
    pool.shutdown()
    return [row for op in ops for row in rows[op.name]]


RELEASE_ABOVE = 384 << 20  # resident bytes past which compiled programs are dropped between ops


def resident_bytes():
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_memory():
    """Between ops: drop JAX's compiled programs and our cached runs. Eager JAX compiles one program
    per primitive and shape, and keeping them all took 2.6 GB over a full check; recompiling what
    the next op needs costs a little time (none with the persistent compilation cache)."""
    import jax

    jax.clear_caches()
    checks.clear_caches()
    _return_freed_heap()


def _return_freed_heap():
    """glibc keeps freed memory in its per-thread arenas; hand it back, so that the peak is what is in
    use, not what XLA's threads once used (a full check from an empty cache: 1.03 GB before, 0.85 GB after)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass


def run(ops, dtypes, devices, advance=None, order=1, seed=0):
    """Run every applicable check (order=2 adds the second-order one) on the samples drawn from
    `seed`; `advance(n_done, n_total, label)` reports progress."""
    pairs = cases(ops, dtypes, devices, order, seed)
    grouped = {}
    for done, (check, case) in enumerate(pairs, 1):
        key = (case.op.name, case.dtype, case.device)
        if key not in grouped and grouped and resident_bytes() > RELEASE_ABOVE:
            release_memory()
        grouped.setdefault(key, (case.op, []))[1].append(run_check(check, case))
        if advance:
            advance(done, len(pairs), f"{case.op.name} {case.dtype} {case.device}")
    return [summarize(results, op, dtype, device) for (_, dtype, device), (op, results) in grouped.items()]
