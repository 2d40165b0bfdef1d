"""How often the diagnosis points at the right line, and what pointing costs.

`python -m bench.pointing` grades every planted bug of the test suite (the catalogue's plants and the
ones it does not hold, tests/test_mistakes.py; the staged course code's, tests/test_pointing.py) as one
batch and counts, over the functions that fail: the right line named (`where` on a line the plant
changed), another line named, no line. Then it times `gradref grade` of one failing file (a staged
batchnorm whose dvar lacks its 1/2), warm, with pointing and without, beside the float32 GEMM rate.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")
sys.path.insert(0, TESTS)

import test_mistakes as catalogue  # noqa: E402
import test_pointing as staged  # noqa: E402

from bench.hostile import gemm_rate  # noqa: E402
from gradref.grade import Options  # noqa: E402
from gradref.grade.front.batch import grade_folder  # noqa: E402


def plants():
    """{file name: (source, the lines the plant changed)} of every plant."""
    found = {}
    for key, (course_file, function, edits) in catalogue.PLANTED.items():
        lines = catalogue.changed_lines(course_file, function, edits)
        found[catalogue._name(*key)] = (catalogue.planted_source(course_file, function, edits), lines)
    for name, (course_file, function, edits) in catalogue.UNCATALOGUED.items():
        lines = catalogue.changed_lines(course_file, function, edits)
        found[f"uncatalogued__{name}"] = (catalogue.planted_source(course_file, function, edits), lines)
    with open(staged.STAGED) as handle:
        source = handle.read()
    for name, (_, old, new, _) in staged.PLANTS.items():
        planted = source.replace(old, new)
        found[f"staged__{name}"] = (planted, {staged._line_of(planted, new)})
    return found


def share(folder):
    """(rows, counts) of the batch of every plant graded in `folder`."""
    batch = os.path.join(folder, "batch")
    os.makedirs(batch)
    every = plants()
    for name, (source, _) in every.items():
        with open(os.path.join(batch, f"{name}.py"), "w") as handle:
            handle.write(source)
    out = os.path.join(folder, "out")
    grade_folder(batch, Options(timeout=20.0, memory_mb=1024), jobs=2, out=out)
    counts, rows = {"right line": 0, "another line": 0, "no line": 0}, []
    for name, (_, lines) in every.items():
        with open(os.path.join(out, f"{name}.py.json")) as handle:
            failing = [r for r in json.load(handle)["results"] if r["status"] == "fail"]
        if not failing:
            continue
        pointed = [r["where"] for r in failing if r.get("where")]
        verdict = "right line" if any(w["line"] in lines for w in pointed) else "another line" if pointed else "no line"
        counts[verdict] += 1
        rows.append((name, verdict, [(w["line"], w["code"]) for w in pointed], sorted(lines)))
    return rows, counts


def timed_grade(path, env, runs=3):
    """The fastest of `runs` warm `gradref grade` runs of one file, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gradref", "grade", path], env=env, capture_output=True, check=False)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.pointing", description=__doc__.split("\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rate = gemm_rate()
    print(f"float32 GEMM: {rate:.0f} GF/s")
    with tempfile.TemporaryDirectory(prefix="gradref-pointing-") as folder:
        rows, counts = share(folder)
        for name, verdict, pointed, lines in rows:
            if verdict != "right line":
                print(f"  {verdict:12s} {name}: pointed {pointed}, planted on {lines}")
        total = sum(counts.values())
        print(
            f"failing plants {total}: "
            + ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in counts.items())
            + " (a static finding counts when it names the line)"
        )
        with open(staged.STAGED) as handle:
            source = handle.read()
        _, old, new, _ = staged.PLANTS["dvar_half_left_out"]
        path = os.path.join(folder, "one_failing_file.py")
        with open(path, "w") as handle:
            handle.write(source.replace(old, new))
        env = {**os.environ, "GRADREF_CACHE_DIR": os.path.join(folder, "cache")}
        timed_grade(path, env, runs=1)  # fills the cache: answers, and the reference's values
        with_pointing = timed_grade(path, env)
    rate_after = gemm_rate()
    print(
        f"gradref grade of one failing file, warm: {with_pointing:.2f} s (GEMM {rate:.0f} then {rate_after:.0f} GF/s)"
    )
    if args.json:
        from gradref import output

        output.write_json(
            args.json,
            {
                "gemm_gflops": round(rate, 1),
                "counts": counts,
                "rows": rows,
                "one_failing_file_s": round(with_pointing, 3),
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
