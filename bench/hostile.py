"""The grader's own memory and time on the hostile corpus of tests/test_hostile.py: `python -m bench.hostile`.

A benchmark, not a test: it grades the corpus as one batch under bubblewrap and again in process mode
(as `gradref grade --batch --jobs 2` under a pseudo-terminal) and samples, every 50 ms, the resident
memory of gradref's own processes (the command and its pool; not bwrap, not the sandboxes' uids). It
prints the wall time of each batch, the peak of the largest gradref process and of all of them
together, and this machine's float32 GEMM rate measured in the same run.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 1536


def gemm_rate(n=1024, repeats=5):
    """This machine's float32 matmul rate (GFLOP/s), the median of a few runs."""
    a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / sorted(times)[len(times) // 2] / 1e9


def measure(mode, folder):
    """Grade the corpus once in `mode`; the row of figures."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_hostile as corpus

    batch = folder / "batch"
    if not batch.exists():
        corpus.build_batch(folder, corpus.secret_file())
    out, tmp = folder / f"out-{mode}", folder / f"tmp-{mode}"
    tmp.mkdir()
    code, printed, elapsed, memory = corpus.grade_in_a_terminal(str(ROOT), batch, out, tmp, mode)
    return {
        "isolation": mode,
        "submissions": sum(1 for _ in open(out / "summary.csv")) - 1,
        "exit_code": code,
        "wall_s": round(elapsed, 1),
        "largest_gradref_process_mb": round(memory.largest, 1),
        "gradref_processes_together_mb": round(memory.together, 1),
        "traceback": "Traceback" in printed,
        "left_on_disk": sorted(os.listdir(tmp)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    from gradref.grade.untrusted import confine

    rate = gemm_rate()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gradref-bench-hostile-") as name:
        folder = Path(name)
        modes = ["process"] if confine.bwrap_problem() else ["bwrap", "process"]
        for mode in modes:
            rows.append(measure(mode, folder))
        from gradref.grade.untrusted.sandbox import remove_tree

        remove_tree(str(folder / "batch"))
    print(f"float32 GEMM on this machine, same run: {rate:.0f} GFLOP/s (1024^3, median of 5)")
    for row in rows:
        verdict = "under" if row["largest_gradref_process_mb"] < LIMIT_MB else "OVER"
        print(
            f"{row['isolation']:8} {row['submissions']} submissions in {row['wall_s']} s; largest gradref process "
            f"{row['largest_gradref_process_mb']} MB ({verdict} {LIMIT_MB} MB), all of them together "
            f"{row['gradref_processes_together_mb']} MB; exit {row['exit_code']}; traceback: {row['traceback']}; "
            f"left on disk: {row['left_on_disk'] or 'nothing'}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"gemm_gflops_float32": rate, "rows": rows}, handle, indent=2)
    return 0 if all(r["largest_gradref_process_mb"] < LIMIT_MB and not r["traceback"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
