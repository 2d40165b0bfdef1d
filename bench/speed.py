"""How long people wait on gradref: `python -m bench.speed` (minutes; a benchmark, not a test).

Times, each as its own `gradref` process as a user runs it, with its peak resident memory:
  - the full `gradref check`, cold (an empty cache folder) and warm (the same folder again);
  - one `gradref grade` of a full assignment-2 file (every A2 function, all correct), cold and warm;
  - a batch of 30 such files with `--jobs 2` (warm).
Prints a table against the targets of issue 15 and writes bench-speed.json (or --json PATH). The
cache goes to a temporary folder, never the user's. Run it on an idle machine: the figures are wall
time.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

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
TARGETS = {"check cold": 90.0, "check warm": 30.0, "grade A2 warm": 3.0, "batch of 30, --jobs 2": 30.0}
MEMORY_TARGETS_MB = {"check cold": 1024, "check warm": 1024}


def full_a2_file(folder):
    """Write layers.py with every assignment-2 function into `folder`; returns its path."""
    path = os.path.join(folder, "layers.py")
    with open(path, "w") as out:
        for part in A2_PARTS:
            with open(os.path.join(COURSE, part)) as handle:
                out.write(handle.read() + "\n\n")
    return path


def timed(args, env):
    """(seconds, peak resident MB, exit code) of `gradref ARGS` as a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradref", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, proc.returncode


def measure(workdir):
    env = {**os.environ, "GRADREF_CACHE_DIR": os.path.join(workdir, "cache")}
    env.pop("GRADREF_NO_CACHE", None)
    a2 = full_a2_file(workdir)
    batch = os.path.join(workdir, "batch")
    os.makedirs(batch)
    for i in range(30):  # 30 different files, as a class hands in: each meets its own unseen values
        with open(a2) as source, open(os.path.join(batch, f"student{i:02d}.py"), "w") as copy:
            copy.write(source.read() + f"\n# student {i:02d}\n")
    grade = ["grade", a2, "--assignment", "cs231n-a2"]
    runs = [
        ("check cold", ["check"]),
        ("check warm", ["check"]),
        ("grade A2 cold", grade),
        ("grade A2 warm", grade),
        (
            "batch of 30, --jobs 2",
            [
                "grade",
                batch,
                "--batch",
                "--jobs",
                "2",
                "--assignment",
                "cs231n-a2",
                "--out",
                os.path.join(workdir, "reports"),
            ],
        ),
    ]
    rows = []
    for name, args in runs:
        if name == "grade A2 cold":  # the check runs filled the cache with the grader's answers too
            shutil.rmtree(env["GRADREF_CACHE_DIR"], ignore_errors=True)
        seconds, peak_mb, code = timed(args, env)
        rows.append(
            {
                "run": name,
                "seconds": round(seconds, 2),
                "peak_mb": round(peak_mb),
                "exit_code": code,
                "target_s": TARGETS.get(name),
                "target_mb": MEMORY_TARGETS_MB.get(name),
            }
        )
        print(f"{name:24s} {seconds:7.1f} s  {peak_mb:6.0f} MB  exit {code}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--json", default="bench-speed.json", metavar="PATH", help="where the figures go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gradref-speed-") as workdir:
        rows = measure(workdir)
    missed = [
        r["run"]
        for r in rows
        if (r["target_s"] and r["seconds"] > r["target_s"]) or (r["target_mb"] and r["peak_mb"] > r["target_mb"])
    ]
    print("targets met" if not missed else f"targets missed: {', '.join(missed)}")
    from gradref import output

    output.write_json(
        args.json,
        {
            "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
            "versions": output.versions(),
            "runs": rows,
        },
    )
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
