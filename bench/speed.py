"""How long people wait on gradref: `python -m bench.speed` (minutes; a benchmark, not a test).

Times, each as its own `gradref` process as a user runs it:
  - the full `gradref check`, cold (an empty cache folder) and warm (the same folder again);
  - `gradref bench --quick`;
  - one `gradref grade` of a full assignment-2 file (every A2 function and model, all correct), cold and
    warm, and of the same as the cs231n/ folder a student hands in (warm);
  - a batch of 30 such files with `--jobs 2` (warm).
Each row carries the wall time, the CPU share (CPU seconds of the process and its workers over the
wall time: 200% is both cores of a 2-core machine busy), the peak memory of the largest process and of
all of them together (sampled every 50 ms), and this machine's float32 GEMM rate measured right before
it. Times are also given normalised to REFERENCE_GFLOPS (what the targets are set for): wall x
rate / REFERENCE_GFLOPS, so that a machine half as fast is not blamed for it. Prints a table against
the targets and writes bench-speed.json (or --json PATH). The cache goes to a temporary folder, never
the user's. Run it on an idle machine: the figures are wall time.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench.hostile import gemm_rate

HERE = os.path.dirname(os.path.abspath(__file__))
COURSE = os.path.join(HERE, os.pardir, "tests", "course")
# The course-style files that together hold every assignment-2 function (later definitions win).
A2_PARTS = (
    "staff_a2.py",
    "layers_student.py",
    "norms_student.py",
    "norms2_student.py",
    "conv_student.py",
    "dropout_student.py",
    "optim_student.py",
)
REFERENCE_GFLOPS = 229.0  # the float32 GEMM rate the targets are set for (issue 34)
TARGETS = {
    "check cold": 60.0,
    "check warm": 15.0,
    "bench --quick": 60.0,
    "grade A2 warm": 3.0,
    "grade CS231n A2 folder warm": 5.0,  # issue 36: cs231n/ with layers.py, classifiers/fc_net.py and cnn.py
    "grade EECS 498 A3 warm": 10.0,  # issue 37: the whole PyTorch A3 folder, torch's import included
    "batch of 30, --jobs 2": 30.0,
}
MEMORY_TARGET_MB = 1024  # the largest process of a check
RUNS = (
    "check cold",
    "check warm",
    "bench --quick",
    "grade A2 cold",
    "grade A2 warm",
    "grade CS231n A2 folder warm",
    "grade EECS 498 A3 warm",
    "batch of 30, --jobs 2",
)
EECS498_A3 = os.path.join(COURSE, "eecs498", "A3")
WARMED_BY_A_RUN_OF_ITS_OWN = ("grade CS231n A2 folder warm", "grade EECS 498 A3 warm")


def full_a2_file(folder, models=True):
    """Write layers.py with every assignment-2 function into `folder` (and, with `models`, its
    FullyConnectedNet and ThreeLayerConvNet); returns its path."""
    path = os.path.join(folder, "layers.py")
    with open(path, "w") as out:
        for part in A2_PARTS:
            with open(os.path.join(COURSE, part)) as handle:
                out.write(handle.read() + "\n\n")
        if models:
            with open(os.path.join(COURSE, "fcn_student.py")) as handle:
                fcn = handle.read()
            with open(os.path.join(COURSE, "cnn_student.py")) as handle:
                out.write(fcn[fcn.index("class FullyConnectedNet") :] + "\n\n" + handle.read())
    return path


def a2_folder(folder):
    """Write a CS231n assignment-2 folder as a student hands it in into `folder`: cs231n/layers.py (every
    A2 layer), classifiers/fc_net.py (FullyConnectedNet on them) and classifiers/cnn.py
    (ThreeLayerConvNet); returns the path of its cs231n/ folder."""
    package = os.path.join(folder, "cs231n")
    os.makedirs(os.path.join(package, "classifiers"))
    full_a2_file(package, models=False)
    with open(os.path.join(COURSE, "fcn_student.py")) as handle:
        fcn = handle.read()
    files = {
        "__init__.py": "",
        "classifiers/__init__.py": "from cs231n.classifiers.fc_net import *\nfrom cs231n.classifiers.cnn import *\n",
        "classifiers/fc_net.py": "import numpy as np\n\nfrom ..layer_utils import *\nfrom ..layers import *\n\n\n"
        + fcn[fcn.index("class FullyConnectedNet") :],
    }
    with open(os.path.join(COURSE, "cnn_student.py")) as handle:
        files["classifiers/cnn.py"] = handle.read()
    for rel, text in files.items():
        with open(os.path.join(package, rel), "w") as out:
            out.write(text)
    return package


class MemorySampler(threading.Thread):
    """The resident memory of a process and its descendants, every 50 ms: the largest process and
    the sum over all of them at one moment."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.largest, self.together, self.done = pid, 0.0, 0.0, threading.Event()

    def run(self):
        from gradref.grade.untrusted.sandbox import _rss_mb, process_tree

        while not self.done.wait(0.05):
            sizes = [_rss_mb(p) for p in process_tree(self.pid)]
            if sizes:
                self.largest, self.together = max(self.largest, max(sizes)), max(self.together, sum(sizes))


def timed(args, env):
    """{seconds, cpu_share, largest_mb, together_mb, exit_code} of `gradref ARGS` as a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradref", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sampler = MemorySampler(proc.pid)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)  # its waited-for workers count in `usage` too
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    return {
        "seconds": round(seconds, 2),
        "cpu_share": round((usage.ru_utime + usage.ru_stime) / seconds, 2),
        "largest_mb": round(max(sampler.largest, usage.ru_maxrss / 1024)),
        "together_mb": round(max(sampler.together, usage.ru_maxrss / 1024)),
        "exit_code": os.waitstatus_to_exitcode(status),
    }


def runs(workdir):
    """(name, gradref arguments, empty the cache first) of every run, in order."""
    a2 = full_a2_file(workdir)
    batch = os.path.join(workdir, "batch")
    os.makedirs(batch)
    for i in range(30):  # 30 different files, as a class hands in: each meets its own unseen values
        with open(a2) as source, open(os.path.join(batch, f"student{i:02d}.py"), "w") as copy:
            copy.write(source.read() + f"\n# student {i:02d}\n")
    grade = ["grade", a2, "--assignment", "cs231n-a2"]
    reports = os.path.join(workdir, "reports")
    arguments = {
        "check cold": (["check"], True),
        "check warm": (["check"], False),
        "bench --quick": (["bench", "--quick", "--json", os.path.join(workdir, "bench.json")], False),
        "grade A2 cold": (grade, True),  # the check runs filled the cache with the grader's answers too
        "grade A2 warm": (grade, False),
        "grade CS231n A2 folder warm": (["grade", a2_folder(workdir), "--assignment", "cs231n-a2"], False),
        "grade EECS 498 A3 warm": (["grade", EECS498_A3, "--assignment", "eecs498-a3"], False),
        "batch of 30, --jobs 2": (
            ["grade", batch, "--batch", "--jobs", "2", "--assignment", "cs231n-a2", "--out", reports],
            False,
        ),
    }
    return [(name, *arguments[name]) for name in RUNS]


def measure(workdir, only=None):
    env = {**os.environ, "GRADREF_CACHE_DIR": os.path.join(workdir, "cache")}
    env.pop("GRADREF_NO_CACHE", None)
    rows = []
    for name, args, cold in runs(workdir):
        if only and name not in only:
            if cold and name.replace(" cold", " warm") in only:
                shutil.rmtree(env["GRADREF_CACHE_DIR"], ignore_errors=True)
                timed(args, env)  # unreported: its warm twin needs the cache it fills
            continue
        if cold:
            shutil.rmtree(env["GRADREF_CACHE_DIR"], ignore_errors=True)
        if name in WARMED_BY_A_RUN_OF_ITS_OWN:
            timed(args, env)  # unreported: its own unseen values (drawn per submission) answered first
        rate = gemm_rate()
        row = {"run": name, "gemm_gflops": round(rate, 1), **timed(args, env)}
        row["normalised_s"] = round(row["seconds"] * rate / REFERENCE_GFLOPS, 2)
        row["target_s"] = TARGETS.get(name)
        rows.append(row)
        print(
            f"{name:24s} {row['seconds']:7.1f} s (at {REFERENCE_GFLOPS:.0f} GF/s: {row['normalised_s']:6.1f} s)"
            f"  CPU {100 * row['cpu_share']:4.0f}%  largest {row['largest_mb']:5d} MB, all {row['together_mb']:5d} MB"
            f"  GEMM {rate:4.0f} GF/s  exit {row['exit_code']}",
            flush=True,
        )
    return rows


def missed(rows):
    """The runs over their time target (normalised) or, for a check, over the memory target."""
    return [
        r["run"]
        for r in rows
        if (r["target_s"] and r["normalised_s"] > r["target_s"])
        or (r["run"].startswith("check") and r["largest_mb"] > MEMORY_TARGET_MB)
        or r["exit_code"] != 0
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--json", default="bench-speed.json", metavar="PATH", help="where the figures go")
    parser.add_argument("--only", action="append", metavar="RUN", help="only this run (repeatable), e.g. 'check warm'")
    args = parser.parse_args(argv)
    unknown = [name for name in args.only or () if name not in RUNS]
    if unknown:
        print(f"python -m bench.speed: no run {unknown[0]!r}; the runs: {', '.join(RUNS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gradref-speed-") as workdir:
        rows = measure(workdir, args.only)
    failed = missed(rows)
    print("targets met" if not failed else f"targets missed: {', '.join(failed)}")
    from gradref import output

    output.write_json(
        args.json,
        {
            "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
            "reference_gflops": REFERENCE_GFLOPS,
            "versions": output.versions(),
            "runs": rows,
        },
    )
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
