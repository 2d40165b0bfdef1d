"""The slack of the tolerance: `python -m bench.slack [--seeds N] [--ops a,b] [--json PATH]` (a
benchmark, not a test; minutes).

For every registry op x sample x dtype and each seed, the forward and every gradient of the manual
code (a correct implementation) are compared with the oracle, and the slack is tolerance / error:
how much room the derived tolerance leaves above what correct code reaches. Below 1 is a false
failure. Prints min / median / max per op and dtype and writes every row as JSON (default
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
from conformance import checks
from conformance.registry import REGISTRY
from conformance.tolerance import unit_roundoff

BIG = ("large", "wide")


def slack_rows(op, sample, dtype, seed):
    """One row per compared quantity: its error, its tolerance, and whether it passed."""
    case = checks.Case(op, sample, dtype, "cpu", seed)
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
                    "tolerance": comparison.tolerance,
                    "passed": comparison.passed,
                }
            )
    return rows


def summary(rows):
    """{(op, dtype): (min, median, max slack, exact count, failures)}."""
    table = {}
    for row in rows:
        table.setdefault((row["op"], row["dtype"]), []).append(row)
    out = {}
    for key, group in sorted(table.items()):
        slack = [r["tolerance"] / r["error"] for r in group if r["error"] > 0]
        exact = sum(1 for r in group if r["error"] == 0)
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
        f"{band:.0f}% within 3-30x, {wide:.0f}% within 3-100x"
    )


def overall(rows, seeds, took):
    """The slack's spread over every comparison where correct code is not exact, and again with an
    error below one rounding of the result counted as one (no implementation can promise less: the
    tolerance's own u term)."""
    inexact = [r for r in rows if r["error"] > 0]
    if not inexact:
        return f"{len(rows)} comparisons, all exact"
    raw = np.array([r["tolerance"] / r["error"] for r in inexact])
    floored = np.array([r["tolerance"] / max(r["error"], unit_roundoff(r["dtype"])) for r in rows])
    failures = sum(not r["passed"] for r in rows)
    return (
        f"{len(rows)} comparisons over {seeds} seeds in {took:.0f} s; {failures} false failures.\n"
        f"slack where correct code is not exact: {spread(raw)}.\n"
        f"with an error below one rounding counted as one: {spread(floored)}."
    )


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
    print(f"{'op':24s} {'dtype':8s} {'min':>8s} {'median':>8s} {'max':>9s} {'exact':>6s} {'fail':>5s}")
    for (op, dtype), (low, mid, high, exact, failures) in summary(rows).items():
        print(f"{op:24s} {dtype:8s} {low:8.3g} {mid:8.3g} {high:9.3g} {exact:6d} {failures:5d}")
    print(overall(rows, args.seeds, took))
    print(f"float32 GEMM on this machine, same run: {rate:.0f} GFLOP/s (1024^3, median of 5)")
    with open(args.json, "w") as handle:
        json.dump({"gemm_gflops_float32": rate, "seeds": args.seeds, "rows": rows}, handle)
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
