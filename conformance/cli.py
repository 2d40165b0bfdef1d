"""The `gradref` command line: check, example (and more subcommands as they land)."""
import argparse
import dataclasses
import os
import signal
import sys
import threading

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reference import oracle

from . import checks, precision, registry, report, runner
from .examples import EXAMPLES, format_example, run_example
from .grade.text import clean
from .report import UsageError

DTYPES = ("float64", "float32")
DEVICES = ("cpu", "gpu")

# Outside a terminal (CI logs, pipes) rich would wrap tables at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 130)


def progress_bar():
    return Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


def advancer(bar, task):
    """A progress callback `(done, total, label)` for the runners."""
    return lambda n, total, label: bar.update(task, completed=n, total=total, description=label)


def _choices(value, all_values):
    return list(all_values) if value == "all" else [value]


# ----- gradref check -----

def check_table(rows):
    table = Table(title="gradref check: manual backward passes against jax.vjp (float64, 'highest')")
    for column in ("op", "dtype", "device", "status", "worst error", "tolerance", "err/tol", "checks"):
        table.add_column(column, justify="right" if column in ("worst error", "tolerance", "err/tol") else "left")
    for row in rows:
        status = "[green]pass[/]" if row["status"] == "pass" else "[red bold]FAIL[/]"
        fmt = (lambda v: "-" if v is None else f"{v:.2e}")
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        table.add_row(row["op"], row["dtype"], row["device"], status, fmt(row["max_rel_error"]),
                      fmt(row["tolerance"]), ratio, f"{row['checks_passed']}/{row['checks']}")
    return table


def cmd_check(args):
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    ops = registry.ops(args.op)
    dtypes, devices = _choices(args.dtype, DTYPES), runner.expand_devices(_choices(args.device, DEVICES))
    report.check_writable(args.json)
    report.check_writable(args.junit)
    precision = runner.prepare_devices(devices)
    checks.use_seed(args.seed)
    with progress_bar() as bar:
        task = bar.add_task("checking", total=None)
        advance = advancer(bar, task)
        if args.jobs > 1 and all(op is registry.REGISTRY.get(op.name) for op in ops):
            rows = runner.run_parallel(ops, dtypes, devices, args.jobs, advance, args.order, args.seed)
        else:
            rows = runner.run(ops, dtypes, devices, advance, args.order)
    passed = all(row["status"] == "pass" for row in rows)
    if args.json != "-":
        out.print(check_table(rows))
        for row in rows:
            for failure in row["failures"][: args.show_failures]:
                out.print(f"[red]{row['op']} {row['dtype']} {row['device']}:[/] {escape(failure)}", soft_wrap=True)
        n_pass = sum(row["status"] == "pass" for row in rows)
        if any(row["skipped"] for row in rows):
            out.print(f"not traceable (writes into its own arrays), so not checked on jax.numpy arrays"
                      f"{' or to second order' if args.order > 1 else ''}: "
                      f"{', '.join(sorted({row['op'] for row in rows if row['skipped']}))}")
        out.print(f"{n_pass} passed, {len(rows) - n_pass} failed")
    if args.json:
        report.write_json(args.json, {"passed": passed, "order": args.order, "seed": args.seed, "results": rows,
                                      "precision": precision, "versions": report.versions()})
    if args.junit:
        from conformance import junit
        report.write_atomic(args.junit, junit.from_check(rows))
    return 0 if passed else 1


# ----- gradref precision -----

def precision_table(rows):
    table = Table(title="gradref precision: float32 gradients against float64 (norm-wise relative error)")
    for column in ("op", "size", "device", "impl", "precision read back", "worst grad", "rel. error",
                   "policy err/tol"):
        table.add_column(column, justify="right" if column in ("rel. error", "policy err/tol") else "left")
    for row in rows:
        ratio = f"{row['policy_ratio']:.3g}"
        table.add_row(row["op"], row["size"], row["device"], row["impl"], row["matmul_precision"],
                      row["worst_grad"], f"{row['normwise_rel_error']:.1e}",
                      ratio if row["passes_policy"] else f"[red]{ratio}[/]")
    return table


def cmd_precision(args):
    devices = _choices(args.device, DEVICES)
    # Eager JAX compiles every dot of every precision mode on its own, and XLA's GEMM autotuning made
    # that take minutes on an H100; autotuning picks among algorithms of the same precision (measured:
    # the same errors with it off), so it is off here unless the user set XLA_FLAGS.
    os.environ.setdefault("XLA_FLAGS", "--xla_gpu_autotune_level=0")
    report.check_writable(args.json)
    settings = runner.prepare_devices(devices)
    with progress_bar() as bar:
        task = bar.add_task("measuring", total=None)
        rows = precision.run(devices, ops=args.op, full=args.full,
                             advance=advancer(bar, task))
    if args.json != "-":
        out.print(precision_table(rows))
        out.print("policy err/tol above 1 (red): the policy would reject these float32 gradients.")
    if args.json:
        report.write_json(args.json, {"results": rows, "oracle_precision": settings,
                                      "versions": report.versions()})
    return 0


# ----- gradref bench -----

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
        table.add_column(column, justify="left" if column in ("op", "size", "device", "dtype", "impl")
                         else "right")
    for r in results:
        table.add_row(r["op"], r["size"], r["device"], r["dtype"], r["impl"], _seconds(r["median_s"]),
                      _seconds(r["iqr_s"]) + (" [yellow]busy[/]" if r.get("busy") else ""),
                      _seconds(r["compile_s"]), _rate(r), f"{100 * r['fraction_of_peak']:.0f}%")
    return table


def cmd_bench(args):
    from bench import impls as bench_impls
    from bench import runner as bench_runner
    ops = registry.ops(args.op)
    for path in (args.json, args.plot):
        report.check_writable(path)
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
        result = bench_runner.run(ops, args.impl or bench_impls.IMPLS, [args.device],
                                  _choices(args.dtype, DTYPES), args.quick,
                                  advance=advancer(bar, task))
    busy = [r for r in result["results"] if r["busy"]]
    screen = err if args.json == "-" else out
    if args.json != "-":
        out.print(bench_table(result["results"]))
    if busy:
        screen.print(f"[yellow]warning:[/] {len(busy)} of {len(result['results'])} rows (marked busy) spread more "
                     f"than {bench_runner.BUSY_SPREAD:.0%} of their median (load average "
                     f"{result['machine']['load_average'][0]:.1f} on {os.cpu_count()} CPUs): something else "
                     "was using the machine; time again on an idle one", soft_wrap=True)
    if args.json:
        report.write_json(args.json, result)
    if args.plot:
        from bench.plot import plot
        plot(result["results"], args.plot)
        if args.json != "-":
            out.print(f"plot written to {args.plot}")
    return 0


# ----- gradref grade -----

STATUS_STYLE = {"pass": "green", "fail": "red bold", "error": "red bold", "timeout": "red bold",
                "missing": "dim", "cannot grade": "red bold"}


def grade_table(result):
    """One row per function; the functions that are not defined folded into one row."""
    title = (f"gradref grade: {clean(os.path.basename(result['submission']))} "
             f"({', '.join(result['assignments']) or result['convention']}; {result['isolation']})")
    table = Table(title=escape(title), show_lines=True)
    table.add_column("function")
    table.add_column("verdict")
    table.add_column("what is wrong", overflow="fold")
    absent = [e["name"] for e in result["results"] if e["status"] == "missing" and e["message"] == "not defined"]
    for entry in result["results"]:
        if entry["name"] in absent:
            continue
        style = STATUS_STYLE.get(entry["status"], "")
        table.add_row(escape(clean(entry["name"])) + _points(entry), f"[{style}]{entry['status']}[/]",
                      escape(clean(entry["message"])))
    if absent:
        table.add_row(f"{len(absent)} not defined", "[dim]missing[/]", escape(", ".join(absent)))
    return table


def _points(entry):
    return f" ({entry['points']:g}/{entry['max_points']:g})" if entry.get("max_points") else ""


MAX_TIMEOUT_S, MEMORY_RANGE_MB = 3600, (64, 1 << 20)


def _grade_options(args):
    from conformance.grade import Options, unseen
    from conformance.grade.targets import ALL_NAMES
    if not (0 < args.timeout <= MAX_TIMEOUT_S):     # also refuses nan
        raise UsageError(f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_S}")
    if not (MEMORY_RANGE_MB[0] <= args.memory_mb <= MEMORY_RANGE_MB[1]):
        raise UsageError(f"--memory-mb must be between {MEMORY_RANGE_MB[0]} and {MEMORY_RANGE_MB[1]}")
    unknown = [n for n in args.require or () if n not in ALL_NAMES]
    if unknown:
        raise UsageError(f"--require {unknown[0]!r} is not a gradable name; known: {', '.join(ALL_NAMES)}")
    missing = [p for p in args.support or () if not os.path.exists(p)]
    if missing:
        raise UsageError(f"--support {missing[0]}: no such file or folder")
    options = Options(timeout=args.timeout, memory_mb=args.memory_mb, support=tuple(args.support or ()), allow_imports=tuple(args.allow_imports or ()),
                   convention=args.convention or "", require=tuple(args.require or ()), sandbox=args.sandbox,
                   strict=args.strict, dropout_p=args.dropout_p)
    if args.unseen_seed is not None and args.unseen_seed <= 0:
        raise UsageError("--unseen-seed must be a positive integer (0 names the public samples)")
    # Resolved once here, so that every process of a batch uses the same secret.
    options = dataclasses.replace(options, unseen_seed=args.unseen_seed or unseen.machine_seed())
    if args.assignment:
        from conformance.grade import assignments
        try:
            spec = assignments.load(args.assignment)
        except assignments.SpecError as error:
            raise UsageError(str(error)) from None
        options = assignments.apply(spec, dataclasses.replace(options, assignment=spec))
    return options


def _announce_isolation(options):
    """Choose the isolation once, before any work; say so plainly when it is process-only."""
    from conformance.grade import confine
    try:
        isolation = confine.choose(options.sandbox)
    except confine.SandboxUnavailable as error:
        raise UsageError(str(error)) from None
    if isolation == confine.PROCESS:
        reason = confine.bwrap_problem() if options.sandbox == "auto" else "--sandbox process was asked for"
        err.print(f"[yellow]warning:[/] {escape(confine.ISOLATION_NOTE[isolation])} ({escape(reason or '')})",
                  soft_wrap=True)
    return isolation


def cmd_grade(args):
    from conformance.grade import CannotGrade, grade_file
    from conformance.grade import reports
    options = _grade_options(args)
    if args.batch:
        _announce_isolation(options)
        return grade_batch(args, options)
    for path in (args.json, args.gradescope, args.junit):
        report.check_writable(path)
    _announce_isolation(options)
    try:
        with progress_bar() as bar:
            task = bar.add_task("grading", total=None)
            result = grade_file(args.submission, options, advance=advancer(bar, task))
    except CannotGrade as error:
        # The reports are still written, so that a platform shows the student why.
        if args.json and args.json != "-":
            report.write_json(args.json, {"submission": os.path.abspath(args.submission), "passed": False,
                                          "status": "cannot grade", "error": str(error)})
        if args.gradescope:
            report.write_json(args.gradescope, reports.gradescope_error(str(error)))
        raise UsageError(str(error)) from None
    if args.json != "-":
        out.print(grade_table(result))
        counts = ", ".join(f"{n} {status}" for status, n in result["summary"].items())
        out.print(f"{'PASS' if result['passed'] else 'FAIL'}: {counts}; score {result['score']:g} of "
                  f"{result['max_score']:g}")
    if args.json:
        report.write_json(args.json, {**result, "versions": report.versions()})
    if args.junit:
        from conformance import junit
        report.write_atomic(args.junit, junit.from_grade(result))
    if args.gradescope:
        report.write_json(args.gradescope, reports.gradescope(result))
    return 0 if result["passed"] else 1


def grade_batch(args, options):
    from conformance.grade import CannotGrade, reports
    try:
        reports.submissions_in(args.submission)
    except CannotGrade as error:
        raise UsageError(str(error)) from None
    report.check_writable(args.json)
    report.check_folder_writable(args.out)
    report.check_folder_writable(args.gradescope)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    with progress_bar() as bar:
        task = bar.add_task("grading", total=None)
        rows = reports.grade_folder(args.submission, options, args.jobs, args.out, args.gradescope,
                                    advance=advancer(bar, task))
    table = Table(title=f"gradref grade: {len(rows)} submissions in {args.submission}")
    for column in reports.SUMMARY_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        table.add_row(*[f"[{style}]{row[c]}[/]" if c == "status" else escape(clean(str(row[c])))
                        for c in reports.SUMMARY_COLUMNS])
    screen = err if args.json == "-" else out      # `--json -`: stdout holds the JSON alone
    screen.print(table)
    screen.print(f"reports in {args.out}/ (one JSON per submission, summary.csv, gradebook.csv)")
    if args.json:
        report.write_json(args.json, {"submissions": rows, "passed": all(r["status"] == "pass" for r in rows)})
    return 0 if all(row["status"] == "pass" for row in rows) else 1


# ----- gradref autograder -----

def cmd_autograder(args):
    from conformance.grade import Options, assignments, platforms
    if not (0 < args.timeout <= MAX_TIMEOUT_S) or not (MEMORY_RANGE_MB[0] <= args.memory_mb <= MEMORY_RANGE_MB[1]):
        raise UsageError(f"--timeout must be in (0, {MAX_TIMEOUT_S}] and --memory-mb in {list(MEMORY_RANGE_MB)}")
    if args.action in ("run-gradescope", "run-prairielearn"):
        options = Options(timeout=args.timeout, memory_mb=args.memory_mb)
        run = platforms.run_gradescope if args.action == "run-gradescope" else platforms.run_prairielearn
        return run(args.root or ("/autograder" if args.action == "run-gradescope" else "/grade"), options)
    if not args.assignment or not args.out:
        raise UsageError(f"gradref autograder {args.action} needs --assignment and --out")
    missing = [p for p in (args.support or []) + ([args.wheel] if args.wheel else []) if not os.path.exists(p)]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder")
    try:
        spec = assignments.load(args.assignment)
        if args.action == "gradescope":
            report.check_writable(args.out)
            path = platforms.gradescope_bundle(spec, args.out, args.wheel, args.support or (), args.timeout,
                                               args.memory_mb)
        else:
            report.check_folder_writable(args.out)
            path = platforms.prairielearn_bundle(spec, args.out, args.wheel, args.support or (), args.timeout,
                                                 args.memory_mb)
    except (assignments.SpecError, platforms.BundleError) as error:
        raise UsageError(str(error)) from None
    out.print(f"wrote {path} for {spec.name} ({spec.title}); upload it to "
              f"{'Gradescope as the autograder' if args.action == 'gradescope' else 'the question folder'}")
    return 0


# ----- gradref ops -----

def cmd_ops(args):
    rows = [{"name": op.name, "signature": list(op.signature), "wrt": list(op.wrt), "kind": op.kind,
             "samples": op.sample_names(), "traceable": op.traceable,
             "gpu": "oracle on the GPU, manual code on CuPy (--device gpu)", "description": op.description}
            for op in registry.ops()]
    if args.json:
        report.write_json(args.json, rows)
    if args.json != "-":
        table = Table(title=f"gradref ops: {len(rows)} registry ops")
        for column in ("op", "signature", "kind", "samples", "traceable", "description"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(row["name"], f"({', '.join(row['signature'])})", row["kind"], str(len(row["samples"])),
                          "yes" if row["traceable"] else "no", escape(row["description"]))
        out.print(table)
    return 0


# ----- gradref assignments -----

def cmd_assignments(args):
    from conformance.grade import assignments
    specs = [assignments.load(name) for name in assignments.builtin_names()]
    if args.json:
        report.write_json(args.json, [{"name": s.name, "title": s.title, "convention": s.convention,
                                       "functions": [dataclasses.asdict(i) for i in s.items],
                                       "settings": s.settings} for s in specs])
    if args.json != "-":
        table = Table(title="gradref assignments: built-in specs (gradref grade --assignment NAME)")
        for column in ("name", "convention", "functions", "points", "title"):
            table.add_column(column)
        for spec in specs:
            required = [i for i in spec.items if i.required]
            table.add_row(spec.name, spec.convention, f"{len(required)} required, {len(spec.items) - len(required)} "
                          "optional", f"{sum(i.points for i in required):g}", spec.title)
        out.print(table)
    return 0


# ----- gradref cache -----

def cmd_cache(args):
    from . import cache
    result = {"action": args.action, **cache.info()}
    if args.action == "clear":
        result["removed"] = cache.clear()
    if args.json:
        report.write_json(args.json, result)
    if args.json != "-":
        size = f"{result['bytes'] / 1e6:.1f} MB"
        out.print(f"removed {result['removed']} oracle answers from {escape(result['folder'])}"
                  if args.action == "clear" else
                  f"{result['entries']} oracle answers ({size}) in {escape(result['folder'])}")
    return 0


# ----- gradref example -----

def cmd_example(args):
    report.check_writable(args.json)
    result = run_example(args.name)
    if args.json != "-":
        out.print(escape(format_example(result)))
    if args.json:
        report.write_json(args.json, result)
    return 0 if result["jax_agrees"] else 1


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gradref", description="Hand-written backward passes checked against JAX autodiff.")
    parser.add_argument("--version", action="version", version=f"gradref {report.versions()['gradref']}")
    parser.add_argument("--no-cache", action="store_true",
                        help="compute every oracle answer afresh and leave the cache alone (see `gradref cache`)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser("check", help="check every op's manual backward pass against jax.vjp",
                           description="Run the conformance suite: forward, VJP, finite differences "
                                       "and contracts for every op, dtype and device. Exit 0 when all "
                                       "pass, 1 when any fails, 2 when it cannot run.")
    check.add_argument("--device", choices=("cpu", "gpu", "all"), default="cpu",
                       help="where the oracle (and, with CuPy, the manual code) runs (default cpu)")
    check.add_argument("--dtype", choices=("float32", "float64", "all"), default="all",
                       help="dtype of the inputs under test (default all)")
    check.add_argument("--op", action="append", metavar="NAME",
                       help=f"only this op (repeatable); one of: {', '.join(registry.REGISTRY)}")
    check.add_argument("--json", metavar="PATH", help="write the results as JSON ('-' for stdout)")
    check.add_argument("--junit", metavar="PATH", help="also write JUnit XML (one test case per op, dtype and device)")
    check.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="run op x dtype x device units in N processes (default 1)")
    check.add_argument("--order", type=int, choices=(1, 2), default=1,
                       help="2: also check second derivatives, JAX differentiating each manual backward "
                            "(gradgradcheck) against the reference's, for every traceable op (default 1)")
    check.add_argument("--seed", type=int, default=0, metavar="N",
                       help="draw the samples, cotangents and random directions from this seed (default 0: "
                            "the registry's fixed draws)")
    check.add_argument("--show-failures", type=int, default=3, metavar="N",
                       help="print up to N failure messages per row (default 3)")
    check.set_defaults(run=cmd_check)

    prec = sub.add_parser("precision", help="how far float32 gradients sit from float64, by precision",
                          description="Compare JAX float32 gradients at matmul precision default, high "
                                      "and highest, and the manual code in float32, with the float64 "
                                      "oracle, for affine, two_layer_net and matmul at a few sizes.")
    prec.add_argument("--device", choices=("cpu", "gpu", "all"), default="cpu",
                      help="where to run (default cpu)")
    prec.add_argument("--op", action="append", choices=sorted(precision.SIZES), metavar="NAME",
                      help=f"only this op (repeatable): {', '.join(precision.SIZES)}")
    prec.add_argument("--full", action="store_true",
                      help="include the 4096-wide sizes on the CPU too (minutes on 2 cores)")
    prec.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    prec.set_defaults(run=cmd_precision)

    bench = sub.add_parser("bench", help="time manual NumPy against JAX eager and JIT",
                           description="Sweep sizes for each op and impl (numpy, jax_eager, jax_jit, "
                                       "numpy_jit, cupy), print medians with a progress bar, and rate "
                                       "each row against a plain matmul or copy measured in the same run.")
    bench.add_argument("--quick", action="store_true", help="a shorter sweep (under 2 minutes on 2 CPU cores)")
    bench.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where to run (default cpu)")
    bench.add_argument("--dtype", choices=("float32", "float64", "all"), default="float32",
                       help="dtype (default float32)")
    bench.add_argument("--op", action="append", metavar="NAME", help="only this op (repeatable)")
    bench.add_argument("--impl", action="append", metavar="NAME",
                       help="only this impl (repeatable): numpy, jax_eager, jax_jit, numpy_jit, cupy")
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    bench.add_argument("--plot", metavar="PATH.png", help="write a log-log plot of time against size")
    bench.set_defaults(run=cmd_bench)

    grade = sub.add_parser("grade", help="grade a student's layers.py (or a folder of them) safely",
                           description="Run a student's forward and backward passes in a separate, "
                                       "limited process, compare them with the JAX oracle, and say what "
                                       "is wrong in words a student can act on. Exit 0 when every graded "
                                       "function passes, 1 when any fails, 2 when the file cannot be graded.")
    grade.add_argument("submission", metavar="SUBMISSION",
                       help="one student's submission: a .py file, or a folder (their package, e.g. "
                            "cs231n/ with layers.py and layer_utils.py); with --batch, a folder of submissions")
    grade.add_argument("--batch", action="store_true",
                       help="SUBMISSION is a folder of students: each .py file and each sub-folder in it "
                            "is one student's submission")
    grade.add_argument("--support", action="append", metavar="PATH",
                       help="a course-provided module or folder (im2col.py, fast_layers.py, the book's "
                            "common/) put beside the submission; repeatable")
    grade.add_argument("--dropout-p", choices=("keep", "drop"), default="keep",
                       help="what dropout's p means: the probability of keeping a unit (the course since "
                            "2018; default) or of dropping one (2016-17)")
    grade.add_argument("--assignment", metavar="NAME|FILE.toml",
                       help="grade as this assignment: its functions, points, required names and settings "
                            "(see `gradref assignments`)")
    grade.add_argument("--junit", metavar="PATH", help="also write JUnit XML (one test per check)")
    grade.add_argument("--strict", action="store_true",
                       help="warnings fail: writing into arguments (dout, the cache, w), trouble only at "
                            "extreme values")
    grade.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout)")
    grade.add_argument("--gradescope", metavar="PATH",
                       help="write Gradescope's results.json (for a folder: a folder of <name>.json)")
    grade.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="per call of the student's code (default 10)")
    grade.add_argument("--memory-mb", type=int, default=2048, metavar="N",
                       help="memory limit of the student's process (default 2048)")
    grade.add_argument("--allow-imports", nargs="+", metavar="NAME",
                       help="let the submission import these (jax, torch, autograd, ... are refused)")
    grade.add_argument("--convention", choices=("cs231n", "layers"),
                       help="CS231n functions or textbook layer classes (default: detect)")
    grade.add_argument("--require", action="append", metavar="NAME",
                       help="fail when this function or class is missing (repeatable)")
    grade.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="for a folder: grade N submissions at once (default 1)")
    grade.add_argument("--sandbox", choices=("auto", "bwrap", "process"), default="auto",
                       help="isolation of the student's code: bwrap (bubblewrap namespaces), process "
                            "(a plain process: advisory only), auto (bwrap when it works here; default)")
    grade.add_argument("--out", default="gradref-reports", metavar="DIR",
                       help="for a folder: where the reports and summary.csv go (default gradref-reports)")
    grade.add_argument("--unseen-seed", type=int, metavar="N",
                       help="the secret behind the sample each function meets with values nobody could know "
                            "in advance, mixed with the submission's code (default: this machine's secret; "
                            "share N to reproduce a verdict elsewhere)")
    grade.set_defaults(run=cmd_grade)

    auto = sub.add_parser("autograder", help="write a Gradescope or PrairieLearn autograder for an assignment",
                          description="gradescope: write autograder.zip (setup.sh, run_autograder, a gradref "
                                      "wheel, the spec). prairielearn: write an external-grading question's "
                                      "tests/ folder and Dockerfile. run-gradescope and run-prairielearn are "
                                      "what those scripts call inside the platform's container.")
    auto.add_argument("action", choices=("gradescope", "prairielearn", "run-gradescope", "run-prairielearn"))
    auto.add_argument("--assignment", metavar="NAME|FILE.toml", help="the assignment spec (gradref assignments)")
    auto.add_argument("--out", metavar="PATH", help="autograder.zip (gradescope) or a folder (prairielearn)")
    auto.add_argument("--wheel", metavar="PATH", help="a gradref wheel to bundle (default: build one)")
    auto.add_argument("--support", action="append", metavar="PATH", help="course modules to bundle (repeatable)")
    auto.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per call (default 10)")
    auto.add_argument("--memory-mb", type=int, default=2048, metavar="N", help="per submission (default 2048)")
    auto.add_argument("--root", metavar="DIR", help="run-*: the platform's root (default /autograder or /grade)")
    auto.set_defaults(run=cmd_autograder)

    ops = sub.add_parser("ops", help="list the registry's ops",
                         description="List every registry op: its signature, kind, samples, whether its "
                                     "manual code runs under jax.jit, and what it computes.")
    ops.add_argument("--json", metavar="PATH", help="write the list as JSON ('-' for stdout)")
    ops.set_defaults(run=cmd_ops)

    listing = sub.add_parser("assignments", help="list the built-in assignment specs",
                             description="List the built-in assignment specs (functions, points, settings) "
                                         "that `gradref grade --assignment NAME` and `gradref autograder` use.")
    listing.add_argument("--json", metavar="PATH", help="write the specs as JSON ('-' for stdout)")
    listing.set_defaults(run=cmd_assignments)

    caching = sub.add_parser("cache", help="show or clear the oracle's on-disk cache",
                             description="The oracle's answers (and JAX's compiled programs) are kept on disk, "
                                         "keyed by op, sample values, dtype, device, reference source and JAX "
                                         "version. info: where and how big; clear: remove them all.")
    caching.add_argument("action", choices=("info", "clear"))
    caching.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    caching.set_defaults(run=cmd_cache)

    example = sub.add_parser("example", help="print a course-notes example stage by stage",
                             description="Run a worked example from the course notes forward and "
                                         "backward, stage by stage, and compare with JAX.")
    example.add_argument("name", choices=sorted(EXAMPLES), metavar="NAME",
                         help=f"one of: {', '.join(EXAMPLES)}")
    example.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    example.set_defaults(run=cmd_example)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job's time limit, `kill`): gradref stops as on Ctrl-C, workers and reports
    included, and exits 143."""


def _raise_terminated(*_):
    raise Terminated()


def _on_sigterm(handler):
    """Install a SIGTERM handler where Python allows it (the main thread); the one it replaces."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def main(argv=None):
    """Entry point of `gradref` and `python -m conformance`; returns the exit code."""
    args = build_parser().parse_args(argv)
    from . import cache
    if args.no_cache:
        cache.disable()
    cache.use_compilation_cache()
    previous = _on_sigterm(_raise_terminated)
    try:
        return args.run(args)
    except (UsageError, ValueError, oracle.NoDevice, oracle.PrecisionError) as error:
        err.print(f"gradref {args.command}: error: {escape(str(error))}", soft_wrap=True)
        if getattr(args, "json", None) == "-":      # stdout promised JSON: it gets JSON
            report.write_json("-", {"error": str(error), "exit_code": 2})
        return 2
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        err.print("gradref: terminated" if terminated else "gradref: interrupted")
        return 143 if terminated else 130
    finally:
        _on_sigterm(previous)


if __name__ == "__main__":
    sys.exit(main())
