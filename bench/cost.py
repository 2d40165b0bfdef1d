"""What a backward costs, honest and numerical: the figures behind the grader's cost check.

`python -m bench.cost` times, on each op's cost sample (gradref/grade/judging/cost.py):
  - the project's own NumPy forward and backward (the yardstick);
  - every honest implementation of the op in the course-style corpus (the course files the tests
    grade, the textbook-style examples, and bench/cost_corpus/loops.py, which loops over rows,
    features, windows and steps), as a ratio to the yardstick;
  - a numerical gradient (central differences, one entry at a time, calling the fastest forward
    there is: the project's own, im2col for conv), timed on a few hundred entries and scaled to all
    of them, and the memory a batched one (every perturbed input stacked into one call) would need;
  - a numerical gradient that exploits the op's structure (COLOURS: every entry whose outputs no
    other perturbed entry reaches perturbed at once, one forward call per group), as the fastest
    forward's time times the number of calls.
`--grade` also grades the corpus files with `gradref grade --json` and reports the cost checks as
the grader measured them, from outside the student's process. Prints the GEMM rate beside the times.
"""

import argparse
import dataclasses
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.hostile import gemm_rate
from conformance.backends import NUMPY
from conformance.checks import fresh
from conformance.registry import LOSS, REGISTRY
from gradref.grade.judging import cost

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = sorted(
    glob.glob(os.path.join(ROOT, "tests", "course", "*.py"))
    + [
        os.path.join(ROOT, "tests", "course", "book", "layers.py"),
        os.path.join(ROOT, "examples", "layers_correct.py"),
        os.path.join(HERE, "cost_corpus", "loops.py"),
    ]
)
NUMERICAL_ENTRIES = 200  # entries actually differenced; the time is scaled to all of them
# The fastest forward the project has of the same function, where it is not the op's own: a student's
# numerical gradient could call one as fast.
FASTER = {"conv": "conv_fast"}


SUPPORT = os.path.join(ROOT, "gradref", "grade", "course", "support")


def load(path):
    """A corpus file as a module (its folder on the path, for the textbook's `common` package, and the
    course support the grader serves, for `from cs231n.fast_layers import ...`)."""
    spec = importlib.util.spec_from_file_location(f"corpus_{os.path.basename(path)[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    folders = [os.path.dirname(path), SUPPORT]
    sys.path[:0] = folders
    try:
        spec.loader.exec_module(module)
    finally:
        for folder in folders:
            sys.path.remove(folder)
    return module


def implementations(module, op):
    """The op bound to each way `module` implements it: the registry's names, or a course target's
    (svm_loss_naive and svm_loss_vectorized for the linear SVM)."""
    from gradref.grade.course.targets import CLASS, TARGETS

    namings = [op.manual_names] + [t.names for t in TARGETS if t.op == op.name and t.kind != CLASS]
    found = []
    for names in dict.fromkeys(namings):
        if all(callable(getattr(module, name, None)) for name in names):
            try:
                found.append((names[-1], dataclasses.replace(op, manual_names=names).bind(module)))
            except (IndexError, TypeError, ValueError):  # names the registry cannot bind this way
                continue
    return found


def seconds(op, args, dout, repeats=2):
    return cost._call_seconds(op, args, dout, repeats)


def numerical_seconds(op, args, dout):
    """Central differences one entry at a time with the project's own forward, scaled to every entry."""
    wrt = [op.signature.index(n) for n in op.wrt]
    total = sum(int(np.size(args[p])) for p in wrt)
    done, start = 0, time.perf_counter()
    weights = dout if dout is not None else 1.0
    for p in wrt:
        moved = [fresh(a, NUMPY) for a in args]
        flat = moved[p].reshape(-1)
        for index in range(min(NUMERICAL_ENTRIES - done, flat.size)):
            for step in (1e-6, -1e-6):
                flat[index] += step
                out, _ = op.forward(*[fresh(a, NUMPY) if isinstance(a, dict) else a for a in moved])
                float(np.sum(np.asarray(out) * weights))
                flat[index] -= step
            done += 1
        if done >= NUMERICAL_ENTRIES:
            break
    return (time.perf_counter() - start) / max(done, 1) * total, total


def _trailing(a):
    return int(np.prod(np.shape(a)[1:]))


def _full(*arrays):
    return sum(int(np.size(a)) for a in arrays)


def _conv_colours(s):
    _, c, _, _ = np.shape(s["x"])
    _, _, hh, ww = np.shape(s["w"])
    return 2 * c * hh * ww + 1  # x: one channel and one offset mod the window per call; w: one entry of each filter


def _spatial_colours(s):
    n, _, h, w = np.shape(s["x"])
    return n * h * w + 2


def _groupnorm_colours(s):
    _, c, h, w = np.shape(s["x"])
    return c // s["G"] * h * w + 2


def _recurrent_colours(s):
    """Over the batch only: every weight reaches every later step's every unit."""
    return _trailing(s["x"]) + _trailing(s["h0"]) + _full(s["Wx"], s["Wh"], s["b"])


# How many forward calls a numerical gradient needs that perturbs at once every entry whose outputs no
# other perturbed entry reaches (a coloured Jacobian, Curtis, Powell and Reid 1974), with the structure
# a student can see without deriving anything: rows of a batch are independent, a column of x reaches
# only its own column in batchnorm, a filter only its own channel of a conv's output, windows of a pool
# do not overlap. Each perturbation is one forward call (a complex step, or a one-sided difference
# where the op is linear in it). Ops not named here have no such structure: one call per entry.
COLOURS = {
    "affine": lambda s: _trailing(s["x"]) + np.shape(s["w"])[0] + 1,
    "affine_relu": lambda s: _trailing(s["x"]) + np.shape(s["w"])[0] + 1,
    "temporal_affine": lambda s: np.shape(s["x"])[-1] + np.shape(s["w"])[0] + 1,
    "softmax_loss": lambda s: np.shape(s["x"])[1],
    "svm_loss": lambda s: np.shape(s["x"])[1],
    "temporal_softmax_loss": lambda s: np.shape(s["x"])[-1],
    "batchnorm": lambda s: np.shape(s["x"])[0] + 2,
    "batchnorm_alt": lambda s: np.shape(s["x"])[0] + 2,
    "layernorm": lambda s: np.shape(s["x"])[1] + 2,
    "spatial_batchnorm": _spatial_colours,
    "spatial_groupnorm": _groupnorm_colours,
    "conv": _conv_colours,
    "max_pool": lambda s: s["pool_param"]["pool_height"] * s["pool_param"]["pool_width"],
    "rnn_step": lambda s: 2 * (_trailing(s["x"]) + _trailing(s["prev_h"])) + 1,
    "lstm_step": lambda s: 5 * (_trailing(s["x"]) + _trailing(s["prev_h"])) + 5,
    "rnn": _recurrent_colours,
    "lstm": _recurrent_colours,
    "word_embedding": lambda s: np.shape(s["W"])[0],
}


def structured_seconds(op_name, op, args, sample_args):
    """(seconds, calls) of a numerical gradient that exploits the op's structure (COLOURS): one forward
    call of the fastest forward per perturbation, on the whole sample (for a loss, the project's forward
    computes its gradient as well: an upper bound of at most twice)."""
    calls = COLOURS[op_name](sample_args) if op_name in COLOURS else _full(*[sample_args[n] for n in op.wrt])
    return seconds(op, args, None, repeats=3) * int(calls), int(calls)


def table():
    """One row per cost-checked op."""
    modules = []
    for path in CORPUS:
        try:
            modules.append((os.path.relpath(path, ROOT), load(path)))
        except ImportError as error:  # a file that imports its assignment's other files: graded with them
            print(f"left out {os.path.relpath(path, ROOT)}: {error}", flush=True)
    rows = []
    for name, op in REGISTRY.items():
        plan = cost.cost_plan(name)
        if plan is None:
            continue
        sample_name, entries, moved = plan
        _, sample, args, dout = cost._sample_parts(name)
        yardstick = seconds(op, args, dout, repeats=3)
        honest = [("manual_grads", 1.0)]
        for label, module in modules:
            for function, bound in implementations(module, op):
                try:
                    honest.append((f"{label}:{function}", seconds(bound, args, dout) / yardstick))
                except Exception as error:  # noqa: BLE001 - another convention (the loss of a model class, say)
                    print(f"  {label}:{function} left out on {name}: {type(error).__name__}", flush=True)
        fastest = REGISTRY[FASTER.get(name, name)]
        numerical, total = numerical_seconds(fastest, args, None if op.kind == LOSS else dout)
        structured, calls = structured_seconds(name, fastest, args, sample.args)
        stacked_gb = 2 * total * sum(np.asarray(args[op.signature.index(n)]).nbytes for n in op.wrt) / 1e9
        worst = max(honest, key=lambda h: h[1])
        limit = cost.limit_seconds(name)
        rows.append(
            {
                "op": name,
                "sample": sample_name,
                "entries": entries,
                "yardstick_ms": round(yardstick * 1e3, 3),
                "honest_implementations": len(honest),
                "largest_honest_ratio": round(worst[1], 2),
                "largest_honest": worst[0],
                "numerical_ratio": round(numerical / yardstick, 0),
                "numerical_s": round(numerical, 1),
                "batched_numerical_gb": round(stacked_gb, 1),
                "structured_calls": calls,
                "structured_ratio": round(structured / yardstick, 1),
                "structured_s": round(structured, 2),
                "limit_s": round(limit, 2),
                "separated": bool(numerical >= cost.SEPARATION * limit and worst[1] * yardstick < limit),
                "structured_separated": bool(structured >= cost.SEPARATION * limit),
            }
        )
        print(
            f"{name:22s} {sample_name:6s} {entries:>9,d} entries  own {yardstick * 1e3:8.2f} ms  honest <= "
            f"{worst[1]:6.1f}x ({worst[0]})  numerical >= {numerical / yardstick:11,.0f}x ({numerical:8.1f} s; "
            f"batched {stacked_gb:9.1f} GB)  structured {calls:,} calls {structured:7.2f} s  limit {limit:.2f} s"
            f"{'' if rows[-1]['separated'] else '  NOT SEPARATED'}"
            f"{'' if rows[-1]['structured_separated'] else '  structured not separated'}",
            flush=True,
        )
    return rows


def graded(folder):
    """The cost checks of every corpus file as `gradref grade` measured them."""
    found = []
    for path in CORPUS:
        support = ["--support", os.path.join(ROOT, "tests", "course", "book", "common")] if "book" in path else []
        report = os.path.join(folder, os.path.basename(path) + ".json")
        subprocess.run(
            [sys.executable, "-m", "gradref", "grade", path, "--json", report, *support],
            capture_output=True,
            check=False,
        )
        try:
            with open(report) as handle:
                functions = json.load(handle)["results"]
        except (OSError, ValueError, KeyError):
            continue
        for function in functions:
            for check in function.get("checks", []):
                if "cost" in check:
                    found.append({"file": os.path.relpath(path, ROOT), "function": function["name"], **check["cost"]})
    return found


def markdown(result):
    """The table docs/sandbox.md shows: per op, both sides, and (with --grade) the slowest honest
    call as the grader timed it, as a share of its limit."""
    from gradref.grade.course.targets import TARGETS

    op_of = {name: t.op for t in TARGETS for name in t.names}
    share = {}
    for row in result.get("graded", []):
        op = op_of.get(row["function"])
        if row["seconds"] is not None:
            share[op] = max(share.get(op, 0.0), row["seconds"] / row["limit_seconds"])
    lines = [
        "| op | cost sample | input entries | own fwd+bwd | slowest honest (x own) | slowest honest, as graded "
        "(share of its limit) | fastest numerical (x own) | fastest numerical | stacked | structured: calls | "
        "structured | limit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in result["ops"]:
        lines.append(
            f"| {o['op']} | {o['sample']} | {o['entries']:,} | {o['yardstick_ms']:.2f} ms | "
            f"{o['largest_honest_ratio']:.1f} ({os.path.basename(o['largest_honest'].split(':')[0])}) | "
            f"{share.get(o['op'], 0.0):.0%} | {o['numerical_ratio']:,.0f} | {o['numerical_s']:,.1f} s | "
            f"{o['batched_numerical_gb']:,.1f} GB | {o['structured_calls']:,} | {o['structured_s']:,.2f} s"
            f"{'' if o['structured_separated'] else ' (not separated)'} | {o['limit_s']:.2f} s |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n")[0])
    parser.add_argument("--grade", action="store_true", help="also grade the corpus and report the grader's timings")
    parser.add_argument("--json", default="bench-cost.json", metavar="PATH", help="where the figures go")
    args = parser.parse_args(argv)
    rate = gemm_rate()
    print(f"float32 GEMM: {rate:.0f} GF/s; limit = {cost.FLOOR_S} s + transfer + {cost.LIMIT_FACTOR}x own")
    rows = table()
    result = {"gemm_gflops": round(rate, 1), "limit_factor": cost.LIMIT_FACTOR, "ops": rows}
    apart = [r["op"] for r in rows if not r["separated"]]
    print("every cost-checked op separated" if not apart else f"not separated: {', '.join(apart)}")
    structured = [r["op"] for r in rows if not r["structured_separated"]]
    print(
        "every structured numerical gradient separated"
        if not structured
        else f"structured numerical gradient not separated: {', '.join(structured)}"
    )
    if args.grade:
        with tempfile.TemporaryDirectory(prefix="gradref-cost-") as folder:
            result["graded"] = graded(folder)
        print("as the grader timed the corpus, from outside the worker (call / limit):")
        for row in result["graded"]:
            taken = row["seconds"]
            share = f"{taken / row['limit_seconds']:4.0%}" if taken is not None else "over"
            print(
                f"  {row['file']:36s} {row['function']:28s} {taken or 0:7.3f} s of {row['limit_seconds']:5.2f} s  {share}"
            )
        worst = max(result["graded"], key=lambda r: (r["seconds"] or 1e9) / r["limit_seconds"], default=None)
        if worst:
            print(f"largest share of the limit: {worst['function']} in {worst['file']}")
    result["gemm_gflops_after"] = round(gemm_rate(), 1)
    print(markdown(result))
    from gradref import output

    output.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
