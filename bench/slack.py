"""The slack of the tolerance: `python -m bench.slack [--seeds N] [--ops a,b] [--json PATH]` (a
benchmark, not a test; minutes).

For every registry op x sample x dtype and each seed, the forward and every gradient of the manual
code (a correct implementation) are compared with the oracle, and the slack is tolerance / error:
how much room the derived tolerance leaves above what correct code reaches. Below 1 is a false
failure. What correct code reaches is the larger error against the exact result of two correct
implementations, as issue 21 measured it: the manual code, and in float32 JAX's own float32 run of
the reference (XLA's sums and tanh). The exact result is the manual code run in extended precision
(NumPy's longdouble, 64 mantissa bits on x86) on the same inputs. Where the oracle's own error
against it is larger, that counts: in float64 the oracle carries rounding of its own (XLA's tanh is
6.5 ulp off), so that even a correctly rounded result shows that much against it. Four slacks are
printed: against what correct code reaches (the tolerance's fit), against each implementation's
error alone, and against the oracle (what the check sees; its minimum is the margin against false
failures). Prints min / median / max per op and dtype and writes every row as JSON (default
bench-slack.json). Comparisons where correct code is exact (error 0) have no slack and are counted
apart. The large and wide samples are left out unless --all-samples: they cost minutes and their
errors follow the same rule.
"""

import argparse
import json
import sys
import time

import numpy as np

from bench.hostile import gemm_rate
from conformance import cache, checks
from conformance.backends import backend_for
from conformance.registry import REGISTRY
from conformance.samples import map_floats
from conformance.tolerance import unit_roundoff, yardstick

BIG = ("large", "wide")


# The exact result: the manual code in extended precision, where the platform has one (x86: 64
# mantissa bits, 2048x float64's precision); elsewhere longdouble is float64 and the oracle stands in.
EXTENDED = np.longdouble if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps / 100 else None


def slack_rows(op, sample, dtype, seed):
    """One row per compared quantity: its error against the oracle and against the exact result (in
    the same yardstick: the largest entry the oracle gives), its tolerance, and whether it passed."""
    case = checks.Case(op, sample, dtype, "cpu", seed)
    out, grads = checks.oracle_run(case)[:2]
    floors = checks.floors(op, grads)
    scales = [yardstick(out, dtype)] + [yardstick(g, dtype, floors.get(n, 0.0)) for n, g in zip(op.grad_names, grads)]
    exact = exact_run(case)
    manual = checks.manual_run(case)
    exact_error = errors(case, [manual.out, *manual.grads], exact, scales)
    oracle_error = errors(case, [out, *grads], exact, scales)
    jax_error = {}
    if dtype == "float32" and exact is not None:  # nothing to measure it against without extended precision
        jax_error = errors(case, jax_float32_run(case), exact, scales)
    rows = []
    for check in (checks.check_forward, checks.check_vjp):
        result = check(case)
        for comparison in result.comparisons or ():
            rows.append(
                {
                    "op": op.name,
                    "sample": sample,
                    "dtype": dtype,
                    "seed": seed,
                    "quantity": comparison.name,
                    "error": comparison.max_rel_error,
                    "exact_error": exact_error.get(comparison.name, comparison.max_rel_error),
                    "oracle_error": oracle_error.get(comparison.name, 0.0),
                    "jax_error": jax_error.get(comparison.name, 0.0),
                    "tolerance": comparison.tolerance,
                    "passed": comparison.passed,
                }
            )
    return rows


def exact_run(case):
    """[out, *grads]: the manual code run in extended precision on the case's inputs (the exact
    result to well below float64's rounding), or None without extended precision."""
    if EXTENDED is None:
        return None
    args = [map_floats(a, lambda x: x.astype(EXTENDED)) for a in checks.sample_args(case)]
    dout = np.asarray(checks.case_dout(case)).astype(EXTENDED)
    extended = checks.run_manual(case.op, args, dout, backend_for("cpu"))
    return [np.asarray(e, EXTENDED) for e in [extended.out, *extended.grads]]


def jax_float32_run(case):
    """[out, *grads]: JAX's own float32 run of the reference on the case's float32 inputs (XLA's sums
    and tanh), a second correct implementation beside the manual code."""
    args, wrt, dout = checks.sample_args(case), checks.wrt_positions(case.op), checks.case_dout(case)
    out, grads = cache.vjp(case.op.reference, args, wrt, dout, checks.cotangent_label(case), case.device, "float32")[:2]
    return [out, *grads]


def errors(case, results, exact, scales):
    """{quantity: the largest distance of `results` (out, then each gradient) from `exact`, over the
    quantity's yardstick}; {} without an exact result."""
    if exact is None:
        return {}
    names = ["loss" if case.op.kind == "loss" else "out", *case.op.grad_names]
    return {
        n: float(np.max(np.abs(np.asarray(r, EXTENDED) - e), initial=0.0) / s)
        for n, r, e, s in zip(names, results, exact, scales)
    }


def reached(row):
    """What correct code reaches in one comparison, relative: the larger error against the exact
    result of two correct implementations, the manual code and (in float32) JAX's own float32 run,
    or the oracle's own where larger (a correctly rounded result shows that much against the oracle:
    no code can show less), and never below one rounding of the result (the tolerance's own u term)."""
    worst = max(row["exact_error"], row.get("jax_error", 0.0), row.get("oracle_error", 0.0))
    return max(worst, unit_roundoff(row["dtype"]))


def summary(rows):
    """{(op, dtype): (min, median, max slack against what correct code reaches, exact count,
    failures)}."""
    table = {}
    for row in rows:
        table.setdefault((row["op"], row["dtype"]), []).append(row)
    out = {}
    for key, group in sorted(table.items()):
        slack = [r["tolerance"] / reached(r) for r in group if r["exact_error"] > 0]
        exact = sum(1 for r in group if r["exact_error"] == 0)
        failures = sum(1 for r in group if not r["passed"])
        stats = (min(slack), float(np.median(slack)), max(slack)) if slack else (np.inf, np.inf, np.inf)
        out[key] = (*stats, exact, failures)
    return out


def spread(slack):
    """min, percentiles 1, 5, 50, 95, 99, and the % within 3-30x and 3-100x."""
    low, p1, p5, mid, p95, p99 = np.percentile(slack, [0, 1, 5, 50, 95, 99])
    band, wide = (100 * np.mean((slack >= 3) & (slack <= top)) for top in (30, 100))
    return (
        f"min {low:.3g}, 1st percentile {p1:.3g}, 5th {p5:.3g}, median {mid:.3g}, 95th {p95:.3g}, 99th {p99:.3g}; "
        f"{band:.1f}% within 3-30x, {wide:.2f}% within 3-100x"
    )


def overall(rows, seeds, took):
    """The slack's spread over every comparison where correct code is not exact: against what correct
    code reaches (reached()), against each implementation's error alone and against the oracle, each
    with an error below one rounding of the result counted as one (no implementation can promise
    less)."""
    failures = sum(not r["passed"] for r in rows)
    lines = [f"{len(rows)} comparisons over {seeds} seeds in {took:.0f} s; {failures} false failures."]
    inexact = [r for r in rows if r["exact_error"] > 0]
    if inexact:
        slack = np.array([r["tolerance"] / reached(r) for r in inexact])
        reaches = "the larger error of the manual code and JAX's float32 run, or the oracle's own"
        lines.append(f"slack against what correct code reaches ({reaches}): {spread(slack)}.")
    for key, against in (
        ("exact_error", "the manual code's error alone"),
        ("jax_error", "JAX's float32 run's error alone"),
        ("error", "the oracle"),
    ):
        inexact = [r for r in rows if r.get(key, 0.0) > 0]
        if not inexact:
            lines.append(f"against {against}: all exact")
            continue
        floored = np.array([r["tolerance"] / max(r[key], unit_roundoff(r["dtype"])) for r in inexact])
        lines.append(f"slack against {against} (an error below one rounding counted as one): {spread(floored)}.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="how many seeds (default 50)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--ops", help="comma-separated op names (default: every op with a reference)")
    parser.add_argument("--all-samples", action="store_true", help="also the large and wide samples")
    parser.add_argument("--json", default="bench-slack.json", help="where to write the rows")
    args = parser.parse_args(argv)
    names = args.ops.split(",") if args.ops else [n for n, op in REGISTRY.items() if op.reference is not None]
    unknown = [n for n in names if n not in REGISTRY or REGISTRY[n].reference is None]
    if unknown:
        parser.error(f"no registry op with a reference is named {', '.join(unknown)}")
    rate, started, rows = gemm_rate(), time.monotonic(), []
    for name in names:
        op = REGISTRY[name]
        for spec in op.samples:
            if spec.name in BIG and not args.all_samples:
                continue
            for dtype in ("float32", "float64"):
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    rows += slack_rows(op, spec.name, dtype, seed)
                checks.clear_caches()
    took = time.monotonic() - started
    if EXTENDED is None:
        print("no extended precision on this platform: the oracle stands in for the exact result")
    print("slack against what correct code reaches, per op and dtype:")
    print(f"{'op':24s} {'dtype':8s} {'min':>8s} {'median':>8s} {'max':>9s} {'exact':>6s} {'fail':>5s}")
    for (op, dtype), (low, mid, high, exact, failures) in summary(rows).items():
        print(f"{op:24s} {dtype:8s} {low:8.3g} {mid:8.3g} {high:9.3g} {exact:6d} {failures:5d}")
    print(overall(rows, args.seeds, took))
    print(f"float32 GEMM on this machine, same run: {rate:.0f} GFLOP/s (1024^3, median of 5)")
    with open(args.json, "w") as handle:
        json.dump(
            {"gemm_gflops_float32": rate, "seeds": args.seeds, "extended": EXTENDED is not None, "rows": rows}, handle
        )
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
