"""A full assignment-2 file graded as Gradescope grades it: `python -m bench.platform` (minutes).

Builds the cs231n-a2 autograder bundle and runs its setup.sh once into an image folder, as Gradescope
builds its image: gradref installed, this image's secret made, and `gradref autograder warm` filling the
cache with the oracle's answers and JAX's compiled programs. Then, for each run, it copies the built
image afresh (a platform starts a fresh container per submission) and times run_autograder on a full
assignment-2 file, edited each run so that its unseen sample is new, as a new submission's is. Prints
the runs, their median against the 5 s target, and this machine's float32 GEMM rate measured in the
same run. A benchmark, not a test: the figures are wall time.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

from bench.hostile import gemm_rate
from bench.speed import full_a2_file

TARGET_S = 5.0


def build_image(folder):
    """The bundle's setup.sh run into folder/image (gradref beside it, the cache inside it)."""
    from gradref.cli import main
    from gradref.grade.front import platforms

    wheel = platforms.build_wheel(str(folder))
    bundle = folder / "autograder.zip"
    assert main(["autograder", "gradescope", "--assignment", "cs231n-a2", "--out", str(bundle), "--wheel", wheel]) == 0
    image = folder / "autograder"  # where the platform's image has it, at build and at grading time
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(image / "source")
    started = time.perf_counter()
    setup = subprocess.run(
        ["bash", str(image / "source" / "setup.sh")], env=_env(image), capture_output=True, text=True
    )
    if setup.returncode:
        raise SystemExit(f"setup.sh failed: {setup.stderr[-2000:]}")
    pristine = folder / "pristine-image"
    image.rename(pristine)
    return pristine, time.perf_counter() - started


def _env(root):
    return {
        **os.environ,
        "GRADREF_AUTOGRADER_ROOT": str(root),
        "GRADREF_PYTHON": sys.executable,
        "GRADREF_SKIP_APT": "1",
        "GRADREF_PIP_ARGS": f"--no-deps --no-index --target {root / 'site'}",
        "PYTHONPATH": str(root / "site"),
        "GRADREF_CACHE_DIR": str(root / "cache"),  # the image's own cache: copied with it
    }


def grade_once(image, folder, number, source):
    """A fresh copy of the built image at the image's own path (as a platform starts a container),
    an edited full A2 file as the submission, and run_autograder timed."""
    run = folder / "autograder"
    shutil.copytree(image, run, symlinks=True)
    (run / "submission").mkdir()
    (run / "submission" / "layers.py").write_text(source + f"\n# submission {number}\n")
    started = time.perf_counter()
    proc = subprocess.run(
        ["bash", str(run / "source" / "run_autograder")], env=_env(run), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    results = json.loads((run / "results" / "results.json").read_text())
    shutil.rmtree(run)
    return {
        "run": number,
        "seconds": round(elapsed, 2),
        "score": results["score"],
        "max_score": results.get("max_score"),
        "exit": proc.returncode,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.platform", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="submissions graded, each in a fresh copy (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rate = gemm_rate()
    with tempfile.TemporaryDirectory(prefix="gradref-bench-platform-") as name:
        folder = __import__("pathlib").Path(name)
        image, setup_s = build_image(folder)
        with open(full_a2_file(str(folder))) as handle:
            source = handle.read()
        runs = [grade_once(image, folder, number, source) for number in range(1, args.runs + 1)]
    median = statistics.median(r["seconds"] for r in runs)
    print(f"float32 GEMM on this machine, same run: {rate:.0f} GFLOP/s (1024^3, median of 5)")
    print(f"image built (setup.sh, warm cache included) in {setup_s:.1f} s")
    for r in runs:
        print(f"  run {r['run']}: {r['seconds']:.2f} s, score {r['score']:g} of {r['max_score']:g}")
    verdict = "within" if median <= TARGET_S else "OVER"
    print(f"median {median:.2f} s per full assignment-2 file in a fresh copy of the image ({verdict} {TARGET_S:g} s)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"gemm_gflops_float32": rate, "setup_s": setup_s, "runs": runs, "median_s": median}, handle, indent=2
            )
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
