"""`gradref bench`: manual NumPy against JAX eager and JIT, timed and rated against this machine's peak."""

import os

from rich.table import Table

from conformance import registry
from reference import oracle

from . import output
from .console import DTYPES, advancer, choices, err, out, progress_bar
from .output import UsageError


def _rate(row):
    unit = "GFLOP/s" if row["rate_unit"] == "flop/s" else "GB/s"
    return f"{row['rate'] / 1e9:.3g} {unit}"


def _seconds(value):
    if value is None:
        return "-"
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def bench_table(results):
    table = Table(title="gradref bench: median time, rated against this machine's own peak")
    for column in ("op", "size", "device", "dtype", "impl", "median", "IQR", "compile", "rate", "of peak"):
        table.add_column(column, justify="left" if column in ("op", "size", "device", "dtype", "impl") else "right")
    for r in results:
        table.add_row(
            r["op"],
            r["size"],
            r["device"],
            r["dtype"],
            r["impl"],
            _seconds(r["median_s"]),
            _seconds(r["iqr_s"]) + (" [yellow]busy[/]" if r.get("busy") else ""),
            _seconds(r["compile_s"]),
            _rate(r),
            f"{100 * r['fraction_of_peak']:.0f}%",
        )
    return table


def cmd_bench(args):
    from bench import impls as bench_impls
    from bench import runner as bench_runner

    ops = registry.ops(args.op)
    for path in (args.json, args.plot):
        output.check_writable(path)
    if args.plot == "-":
        raise UsageError("--plot needs a file name, not '-'")
    unknown = [i for i in args.impl or () if i not in bench_impls.IMPLS]
    if unknown:
        raise UsageError(f"unknown impl {unknown[0]!r}; choose from: {', '.join(bench_impls.IMPLS)}")
    if args.device == "gpu":
        oracle.jax_device("gpu")
    for impl in args.impl or ():
        problem = bench_impls.why_unavailable(impl, args.device, ops)
        if problem:
            raise UsageError(problem)
    with progress_bar() as bar:
        task = bar.add_task("timing", total=None)
        result = bench_runner.run(
            ops,
            args.impl or (bench_impls.QUICK_IMPLS if args.quick else bench_impls.IMPLS),
            [args.device],
            choices(args.dtype, DTYPES),
            args.quick,
            advance=advancer(bar, task),
        )
    busy = [r for r in result["results"] if r["busy"]]
    screen = err if args.json == "-" else out
    if args.json != "-":
        out.print(bench_table(result["results"]))
    if busy:
        screen.print(
            f"[yellow]warning:[/] {len(busy)} of {len(result['results'])} rows (marked busy) spread more "
            f"than {bench_runner.BUSY_SPREAD:.0%} of their median (load average "
            f"{result['machine']['load_average'][0]:.1f} on {os.cpu_count()} CPUs): something else "
            "was using the machine; time again on an idle one",
            soft_wrap=True,
        )
    if args.json:
        output.write_json(args.json, result)
    if args.plot:
        from bench.plot import plot

        plot(result["results"], args.plot)
        if args.json != "-":
            out.print(f"plot written to {args.plot}")
    return 0


def register(sub):
    """Add `bench` to the subcommands."""
    bench = sub.add_parser(
        "bench",
        help="time manual NumPy (or torch) against JAX eager and JIT",
        description="Sweep sizes for each op and impl (numpy, jax_eager, jax_jit, "
        "numpy_jit, cupy, torch), print medians with a progress bar, and rate "
        "each row against a plain matmul or copy measured in the same run.",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="a shorter sweep: fewer sizes, 0.05 s of timing a row, one of each pair of regularisation twins, numpy against jax_jit (and cupy on a "
        "GPU) unless --impl names others (under a minute on 2 CPU cores)",
    )
    bench.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where to run (default cpu)")
    bench.add_argument(
        "--dtype", choices=("float32", "float64", "all"), default="float32", help="dtype (default float32)"
    )
    bench.add_argument("--op", action="append", metavar="NAME", help="only this op (repeatable)")
    bench.add_argument(
        "--impl",
        action="append",
        metavar="NAME",
        help="only this impl (repeatable): numpy, jax_eager, jax_jit, numpy_jit, cupy, torch",
    )
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    bench.add_argument("--plot", metavar="PATH.png", help="write a log-log plot of time against size")
    bench.set_defaults(run=cmd_bench)
