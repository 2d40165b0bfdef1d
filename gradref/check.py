"""`gradref check`, `gradref precision` and `gradref ops`: the conformance suite on the terminal."""

import os

from rich.markup import escape
from rich.table import Table

from conformance import backends, cache, checks, precision, registry, runner

from . import junit, output
from .console import DEVICES, DTYPES, advancer, choices, out, progress_bar
from .output import UsageError


def check_table(rows):
    libraries = sorted({row["manual_backend"] for row in rows} - {"numpy"})
    on = f", manual code on {', '.join(libraries)}" if libraries else ""
    table = Table(title=f"gradref check: manual backward passes against jax.vjp (float64, 'highest'){on}")
    for column in ("op", "dtype", "device", "status", "worst error", "tolerance", "err/tol", "checks"):
        table.add_column(column, justify="right" if column in ("worst error", "tolerance", "err/tol") else "left")
    for row in rows:
        status = "[green]pass[/]" if row["status"] == "pass" else "[red bold]FAIL[/]"
        fmt = lambda v: "-" if v is None else f"{v:.2e}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        table.add_row(
            row["op"],
            row["dtype"],
            row["device"],
            status,
            fmt(row["max_rel_error"]),
            fmt(row["tolerance"]),
            ratio,
            f"{row['checks_passed']}/{row['checks']}",
        )
    return table


def cmd_check(args):
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    ops = registry.ops(args.op)
    dtypes, devices = choices(args.dtype, DTYPES), runner.expand_devices(choices(args.device, DEVICES))
    problem = backends.problem_with(args.backend)
    if problem:
        raise UsageError(problem)
    with backends.using(args.backend):
        try:
            return _check(args, ops, dtypes, devices)
        finally:
            checks.clear_caches()  # this process's manual runs were on args.backend's arrays


def _check(args, ops, dtypes, devices):
    output.check_writable(args.json)
    output.check_writable(args.junit)
    precision = runner.prepare_devices(devices)
    with progress_bar() as bar:
        task = bar.add_task("checking", total=None)
        advance = advancer(bar, task)
        # Unless told, a second process only where it has two ops at least to pay for its start-up (JAX).
        jobs = min(runner.default_jobs(), len(ops) // 2) if args.jobs is None else min(args.jobs, len(ops))
        if jobs > 1 and all(op is registry.REGISTRY.get(op.name) for op in ops):
            rows = runner.run_parallel(ops, dtypes, devices, jobs, advance, args.order, args.seed)
        else:
            rows = runner.run(ops, dtypes, devices, advance, args.order, args.seed)
    passed = all(row["status"] == "pass" for row in rows)
    if args.json != "-":
        out.print(check_table(rows))
        for row in rows:
            for failure in row["failures"][: args.show_failures]:
                out.print(f"[red]{row['op']} {row['dtype']} {row['device']}:[/] {escape(failure)}", soft_wrap=True)
        n_pass = sum(row["status"] == "pass" for row in rows)
        if any(row["skipped"] for row in rows):
            out.print(
                f"not traceable (writes into its own arrays), so not checked on jax.numpy arrays"
                f"{' or to second order' if args.order > 1 else ''}: "
                f"{', '.join(sorted({row['op'] for row in rows if row['skipped']}))}"
            )
        out.print(f"{n_pass} passed, {len(rows) - n_pass} failed")
    if args.json:
        output.write_json(
            args.json,
            {
                "passed": passed,
                "order": args.order,
                "seed": args.seed,
                "results": rows,
                "precision": precision,
                "versions": output.versions(),
            },
        )
    if args.junit:
        output.write_atomic(args.junit, junit.from_check(rows))
    return 0 if passed else 1


def precision_table(rows):
    table = Table(title="gradref precision: float32 gradients against float64 (norm-wise relative error)")
    for column in ("op", "size", "device", "impl", "precision read back", "worst grad", "rel. error", "policy err/tol"):
        table.add_column(column, justify="right" if column in ("rel. error", "policy err/tol") else "left")
    for row in rows:
        ratio = f"{row['policy_ratio']:.3g}"
        table.add_row(
            row["op"],
            row["size"],
            row["device"],
            row["impl"],
            row["matmul_precision"],
            row["worst_grad"],
            f"{row['normwise_rel_error']:.1e}",
            ratio if row["passes_policy"] else f"[red]{ratio}[/]",
        )
    return table


def cmd_precision(args):
    devices = choices(args.device, DEVICES)
    # Eager JAX compiles every dot of every precision mode on its own, and XLA's GEMM autotuning made
    # that take minutes on an H100; autotuning picks among algorithms of the same precision (measured:
    # the same errors with it off), so it is off here unless the user set XLA_FLAGS.
    os.environ.setdefault("XLA_FLAGS", "--xla_gpu_autotune_level=0")
    output.check_writable(args.json)
    settings = runner.prepare_devices(devices)
    with progress_bar() as bar:
        task = bar.add_task("measuring", total=None)
        rows = precision.run(devices, ops=args.op, full=args.full, advance=advancer(bar, task))
    if args.json != "-":
        out.print(precision_table(rows))
        out.print("policy err/tol above 1 (red): the policy would reject these float32 gradients.")
    if args.json:
        output.write_json(args.json, {"results": rows, "oracle_precision": settings, "versions": output.versions()})
    return 0


def cmd_ops(args):
    rows = [
        {
            "name": op.name,
            "signature": list(op.signature),
            "wrt": list(op.wrt),
            "kind": op.kind,
            "samples": op.sample_names(),
            "traceable": op.traceable,
            "gpu": "oracle on the GPU, manual code on CuPy (--device gpu)",
            "description": op.description,
        }
        for op in registry.ops()
    ]
    if args.json:
        output.write_json(args.json, rows)
    if args.json != "-":
        table = Table(title=f"gradref ops: {len(rows)} registry ops")
        for column in ("op", "signature", "kind", "samples", "traceable", "description"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                row["name"],
                f"({', '.join(row['signature'])})",
                row["kind"],
                str(len(row["samples"])),
                "yes" if row["traceable"] else "no",
                escape(row["description"]),
            )
        out.print(table)
    return 0


def cmd_cache(args):
    result = {"action": args.action, **cache.info()}
    if args.action == "clear":
        result["removed"] = cache.clear()
    if args.json:
        output.write_json(args.json, result)
    if args.json != "-":
        size = f"{result['bytes'] / 1e6:.1f} MB"
        out.print(
            f"removed {result['removed']} oracle answers from {escape(result['folder'])}"
            if args.action == "clear"
            else f"{result['entries']} oracle answers ({size}) in {escape(result['folder'])}"
        )
    return 0


def register(sub):
    """Add `check`, `precision`, `ops` and `cache` to the subcommands."""
    check = sub.add_parser(
        "check",
        help="check every op's manual backward pass against jax.vjp",
        description="Run the conformance suite: forward, VJP, finite differences "
        "and contracts for every op, dtype and device. Exit 0 when all "
        "pass, 1 when any fails, 2 when it cannot run.",
    )
    check.add_argument(
        "--device",
        choices=("cpu", "gpu", "all"),
        default="cpu",
        help="where the oracle (and, with CuPy, the manual code) runs (default cpu)",
    )
    check.add_argument(
        "--dtype",
        choices=("float32", "float64", "all"),
        default="all",
        help="dtype of the inputs under test (default all)",
    )
    check.add_argument(
        "--backend",
        choices=backends.LIBRARIES,
        default="numpy",
        help="the arrays the manual code runs on: numpy (CuPy on --device gpu, where installed) or torch "
        "(CPU tensors, CUDA on --device gpu; needs gradref[torch]) (default numpy)",
    )
    check.add_argument(
        "--op",
        action="append",
        metavar="NAME",
        help=f"only this op (repeatable); one of: {', '.join(registry.REGISTRY)}",
    )
    check.add_argument("--json", metavar="PATH", help="write the results as JSON ('-' for stdout)")
    check.add_argument("--junit", metavar="PATH", help="also write JUnit XML (one test case per op, dtype and device)")
    check.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="run the ops in N processes (default: one per core; 1 runs them in this process)",
    )
    check.add_argument(
        "--order",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: also check second derivatives, JAX differentiating each manual backward "
        "(gradgradcheck) against the reference's, for every traceable op (default 1)",
    )
    check.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="draw the samples, cotangents and random directions from this seed (default 0: "
        "the registry's fixed draws)",
    )
    check.add_argument(
        "--show-failures", type=int, default=3, metavar="N", help="print up to N failure messages per row (default 3)"
    )
    check.set_defaults(run=cmd_check)

    prec = sub.add_parser(
        "precision",
        help="how far float32 gradients sit from float64, by precision",
        description="Compare JAX float32 gradients at matmul precision default, high "
        "and highest, and the manual code in float32, with the float64 "
        "oracle, for affine, two_layer_net and matmul at a few sizes.",
    )
    prec.add_argument("--device", choices=("cpu", "gpu", "all"), default="cpu", help="where to run (default cpu)")
    prec.add_argument(
        "--op",
        action="append",
        choices=sorted(precision.SIZES),
        metavar="NAME",
        help=f"only this op (repeatable): {', '.join(precision.SIZES)}",
    )
    prec.add_argument(
        "--full", action="store_true", help="include the 4096-wide sizes on the CPU too (minutes on 2 cores)"
    )
    prec.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    prec.set_defaults(run=cmd_precision)

    ops = sub.add_parser(
        "ops",
        help="list the registry's ops",
        description="List every registry op: its signature, kind, samples, whether its "
        "manual code runs under jax.jit, and what it computes.",
    )
    ops.add_argument("--json", metavar="PATH", help="write the list as JSON ('-' for stdout)")
    ops.set_defaults(run=cmd_ops)

    caching = sub.add_parser(
        "cache",
        help="show or clear the oracle's on-disk cache",
        description="The oracle's answers (and JAX's compiled programs) are kept on disk, "
        "keyed by op, sample values, dtype, device, reference source and JAX "
        "version. info: where and how big; clear: remove them all.",
    )
    caching.add_argument("action", choices=("info", "clear"))
    caching.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    caching.set_defaults(run=cmd_cache)
