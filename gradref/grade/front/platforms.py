"""Autograder bundles for the platforms that run one container per submission.

Gradescope: `autograder.zip` holds setup.sh (installs gradref from the wheel inside the zip, its
dependencies and bubblewrap), run_autograder (grades whatever is in /autograder/submission and
always writes /autograder/results/results.json), the wheel, the assignment spec and the course's
support modules. PrairieLearn: a folder for an external-grading question: tests/run.sh (the entry
point; grades /grade/student, writes /grade/results/results.json in PrairieLearn's format), the same
wheel, spec and support modules, and a Dockerfile for the grading image. Both scripts take their root
from an environment variable (GRADREF_AUTOGRADER_ROOT, GRADREF_PL_ROOT) that defaults to the
platform's path, which is how the tests run them in a temporary root.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

from conformance.registry import REGISTRY

from ... import output
from ...text import clean
from ..course import assignments
from ..course.targets import EECS498, targets_for
from ..explain import feedback
from ..judging import unseen
from ..judging.answers import oracle_answers, unseen_twin
from ..judging.grader import grade_file, graded_samples
from ..judging.options import Options
from ..judging.verdict import sample_of
from ..untrusted.refusal import CannotGrade
from ..untrusted.staging import gradable_suffix
from .reports import gradescope, gradescope_error, required_points

GRADESCOPE_SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image.
set -euo pipefail
ROOT="${GRADREF_AUTOGRADER_ROOT:-/autograder}"
if [ -z "${GRADREF_SKIP_APT:-}" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3-seccomp python3-venv >/dev/null \\
    || echo "bubblewrap could not be installed: grading will use process-only isolation"
fi
# A virtual environment of the image: newer base images refuse pip into the system Python (PEP 668).
PYTHON="${GRADREF_PYTHON:-}"
if [ -z "$PYTHON" ]; then
  python3 -m venv "$ROOT/venv"
  PYTHON="$ROOT/venv/bin/python"
fi
echo "installing gradref into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
"$PYTHON" -m pip install --quiet ${GRADREF_PIP_ARGS:-} "$ROOT"/source/gradref-*.whl
{torch}# One secret seed for the image, so that every submission (and a regrade) meets the same unseen values.
"$PYTHON" -c "from gradref.grade.judging import unseen; unseen.machine_secret()"
# Everything no submission changes, computed once here: the oracle's answers and JAX's compiled programs.
"$PYTHON" -m gradref autograder warm --assignment "$ROOT/source/assignment.toml"
"""

GRADESCOPE_RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade what is in $ROOT/submission, write results.json.
ROOT="${GRADREF_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADREF_PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$ROOT/results"
"$PYTHON" -m gradref autograder run-gradescope --root "$ROOT" {options}
if [ ! -s "$ROOT/results/results.json" ]; then      # gradref itself could not run: still say so
  printf '%s\\n' '{"score": 0, "output": "The autograder could not run gradref; please tell the course staff.", "tests": []}' \\
    > "$ROOT/results/results.json"
fi
exit 0
"""

PRAIRIELEARN_RUN = """#!/usr/bin/env bash
# PrairieLearn's external grader runs this (the question's entrypoint) for each submission.
ROOT="${GRADREF_PL_ROOT:-/grade}"
PYTHON="${GRADREF_PYTHON:-python3}"
mkdir -p "$ROOT/results"
"$PYTHON" -m gradref autograder run-prairielearn --root "$ROOT" {options}
if [ ! -s "$ROOT/results/results.json" ]; then
  printf '%s\\n' '{"gradable": false, "score": 0, "message": "The autograder could not run gradref."}' \\
    > "$ROOT/results/results.json"
fi
exit 0
"""

PRAIRIELEARN_DOCKERFILE = """# The grading image for this question: python, numpy, jax, gradref and bubblewrap.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap python3-seccomp && rm -rf /var/lib/apt/lists/*
COPY tests/{wheel} /tmp/
RUN pip install --no-cache-dir /tmp/{wheel}
{torch}# One secret seed for the image, so that every submission (and a regrade) meets the same unseen values.
RUN python -c "from gradref.grade.judging import unseen; unseen.machine_secret()"
# Everything no submission changes, computed once here: the oracle's answers and JAX's compiled programs.
COPY tests/assignment.toml /tmp/gradref-assignment.toml
RUN python -m gradref autograder warm --assignment /tmp/gradref-assignment.toml
"""


# A PyTorch course (EECS 498): torch's CPU build (about 190 MB to download, where PyPI's default is a
# CUDA build of several GB), installed unless the image has torch already.
TORCH_SETUP = """if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch \\
    || echo "torch could not be installed: the PyTorch assignment cannot be graded"
fi
"""
TORCH_DOCKERFILE = "RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch\n"


def _torch_lines(spec, lines):
    return lines if spec.convention == EECS498 else ""


class BundleError(Exception):
    """A bundle that cannot be made (one sentence)."""


# ----- building -----


def project_root():
    """The checkout gradref runs from (gradref/grade/front/ is three folders below it), or None."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
    return root if os.path.isfile(os.path.join(root, "pyproject.toml")) else None


PACKAGES = ("gradref", "manual_grads", "reference", "conformance", "bench")


def _source_from_checkout(root, source):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(root, name), source)
    for package in PACKAGES:
        shutil.copytree(
            os.path.join(root, package),
            os.path.join(source, package),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


def _source_from_install(source):
    """A buildable source tree from the installed packages and their metadata (a pip-installed gradref
    has no checkout to build from)."""
    import importlib.metadata
    import importlib.util

    meta = importlib.metadata.metadata("gradref")
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise BundleError(f"the installed gradref lacks its {package} package: pass --wheel PATH")
        shutil.copytree(
            list(spec.submodule_search_locations)[0],
            os.path.join(source, package),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    requires = [r for r in (meta.get_all("Requires-Dist") or []) if "extra ==" not in r]
    pyproject = "\n".join(
        [
            "[build-system]",
            'requires = ["setuptools>=61"]',
            'build-backend = "setuptools.build_meta"',
            "",
            "[project]",
            'name = "gradref"',
            f'version = "{meta["Version"]}"',
            'requires-python = ">=3.10"',
            "dependencies = [" + ", ".join(json.dumps(r) for r in requires) + "]",
            "",
            "[project.scripts]",
            'gradref = "gradref.cli:main"',
            "",
            "[tool.setuptools.packages.find]",
            'include = ["gradref*", "manual_grads*", "reference*", "conformance*", "bench*"]',
            "",
            "[tool.setuptools.package-data]",
            '"gradref.grade.course" = ["specs/*.toml", "support/*.md", "support/*/*.py"]',  # as pyproject.toml
            "",
        ]
    )
    with open(os.path.join(source, "pyproject.toml"), "w") as handle:
        handle.write(pyproject)


def build_wheel(folder):
    """A wheel of this gradref in `folder`; its path. Built from a copy of the sources (the checkout,
    or the installed packages), so that two builds at once or a build/ folder left behind cannot collide."""
    root = project_root()
    with tempfile.TemporaryDirectory() as source:
        if root is not None:
            _source_from_checkout(root, source)
        else:
            _source_from_install(source)
        for isolation in (["--no-build-isolation"], []):  # the build backend here, else pip fetches it
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation, "-w", folder, source],
                capture_output=True,
                text=True,
                timeout=600,
            )
            wheels = glob.glob(os.path.join(folder, "gradref-*.whl"))
            if proc.returncode == 0 and wheels:
                return wheels[0]
    raise BundleError(f"building gradref's wheel failed: {clean(proc.stderr[-300:])}")


def _runner_options(timeout, memory_mb):
    return f"--timeout {timeout:g} --memory-mb {int(memory_mb)}"


def _spec_text(spec):
    with open(spec.path, "rb") as handle:
        return handle.read()


def _add_support(write, support):
    for path in support:
        base = os.path.basename(os.path.normpath(path))
        if os.path.isdir(path):
            for folder, _, files in os.walk(path):
                for name in files:
                    if name.endswith(".py"):
                        full = os.path.join(folder, name)
                        write(full, os.path.join("support", base, os.path.relpath(full, path)))
        else:
            write(path, os.path.join("support", base))


def gradescope_bundle(spec, out_zip, wheel=None, support=(), timeout=10.0, memory_mb=2048):
    """Write Gradescope's autograder.zip; returns its path."""
    with tempfile.TemporaryDirectory() as scratch:
        wheel = wheel or build_wheel(scratch)
        tmp = out_zip + ".tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as bundle:

            def script(name, text):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                bundle.writestr(info, text)

            script("setup.sh", GRADESCOPE_SETUP.replace("{torch}", _torch_lines(spec, TORCH_SETUP)))
            script("run_autograder", GRADESCOPE_RUN.replace("{options}", _runner_options(timeout, memory_mb)))
            bundle.write(wheel, os.path.basename(wheel))
            bundle.writestr("assignment.toml", _spec_text(spec))
            _add_support(bundle.write, support)
        os.replace(tmp, out_zip)
    return out_zip


def prairielearn_bundle(spec, out_dir, wheel=None, support=(), timeout=10.0, memory_mb=2048):
    """Write the files of a PrairieLearn external-grading question into out_dir; returns it."""
    tests = os.path.join(out_dir, "tests")
    os.makedirs(tests, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = wheel or build_wheel(scratch)
        shutil.copy(wheel, tests)
    run = os.path.join(tests, "run.sh")
    output.write_atomic(run, PRAIRIELEARN_RUN.replace("{options}", _runner_options(timeout, memory_mb)))
    os.chmod(run, 0o755)
    with open(os.path.join(tests, "assignment.toml"), "wb") as handle:
        handle.write(_spec_text(spec))

    def copy(source, target):
        os.makedirs(os.path.dirname(os.path.join(tests, target)), exist_ok=True)
        shutil.copy(source, os.path.join(tests, target))

    _add_support(copy, support)
    output.write_atomic(
        os.path.join(out_dir, "Dockerfile"),
        PRAIRIELEARN_DOCKERFILE.replace("{wheel}", os.path.basename(wheel)).replace(
            "{torch}", _torch_lines(spec, TORCH_DOCKERFILE)
        ),
    )
    output.write_json(
        os.path.join(out_dir, "info-externalGradingOptions.json"),
        {
            "externalGradingOptions": {
                "enabled": True,
                "image": "YOUR-REGISTRY/gradref-grader",
                "entrypoint": "/grade/tests/run.sh",
                "timeout": int(max(60, timeout * 60)),
            }
        },
    )
    return out_dir


# ----- running inside the platform's container -----


def submission_path(folder):
    """What to grade in a platform's submission folder: its one .py file, notebook or zip, or the
    folder itself."""
    if not os.path.isdir(folder):
        raise CannotGrade("the submission folder is empty or missing")
    files = [os.path.join(base, f) for base, _, names in os.walk(folder) for f in names]
    code = [f for f in files if gradable_suffix(f) and not os.path.islink(f)]
    if not code:
        found = ", ".join(sorted(os.path.basename(f) for f in files)[:5]) or "nothing"
        raise CannotGrade(f"the submission holds no Python file, notebook or zip (found: {found})")
    return code[0] if len(code) == 1 else folder


def _grade_in_container(root, submission_dir, options):
    spec = assignments.load(
        os.path.join(root, "source" if os.path.isdir(os.path.join(root, "source")) else "tests", "assignment.toml")
    )
    support_root = os.path.join(os.path.dirname(spec.path), "support")
    support = (
        tuple(os.path.join(support_root, n) for n in sorted(os.listdir(support_root)))
        if os.path.isdir(support_root)
        else ()
    )
    level = feedback.level_for(spec.feedback, feedback.earlier_attempts(root))
    options = assignments.apply(
        spec,
        Options(
            timeout=options.timeout,
            memory_mb=options.memory_mb,
            assignment=spec,
            support=support,
            feedback=level,
            feedback_hidden=spec.hidden,
        ),
    )
    started = time.monotonic()
    try:
        result = grade_file(submission_path(submission_dir), options)
        return spec, result, None, time.monotonic() - started
    except CannotGrade as error:
        return spec, None, str(error), time.monotonic() - started
    except Exception as error:  # noqa: BLE001 - the platform must always get a results file
        return spec, None, f"internal error while grading: {type(error).__name__}: {error}", time.monotonic() - started


def warm(spec):
    """At image-build time, what every submission of `spec` needs and none changes: the oracle's answers
    for the published samples (the disk cache) and JAX's compiled programs for every shape the
    assignment uses (its persistent compilation cache; the unseen sample has its twin's shapes). A
    submission then computes only its own unseen sample's answers. Returns the number of answers."""
    unseen.machine_secret()  # the image's own secret
    count = 0
    # Every target of the convention: a submission is also graded on what it defines beyond the spec.
    for op in dict.fromkeys(REGISTRY[target.op] for target in targets_for([spec.convention])):
        names = graded_samples(op)
        for name in names:
            oracle_answers(op.name, name, 0)
            count += 1
        if names:
            oracle_answers(op.name, unseen_twin(op.name, tuple(names)), 1)  # compiles the unseen shapes
    return count


def run_gradescope(root, options):
    """Grade $root/submission and write $root/results/results.json (always)."""
    spec, result, error, elapsed = _grade_in_container(root, os.path.join(root, "submission"), options)
    if result is None:
        body = gradescope_error(error, required_points(spec))
        body["execution_time"] = round(elapsed, 1)
    else:
        body = gradescope(result, elapsed)
    os.makedirs(os.path.join(root, "results"), exist_ok=True)
    output.write_json(os.path.join(root, "results", "results.json"), body)
    print(_log_line(spec, result, error, elapsed, body["score"], body.get("max_score", "")))
    return 0


def _log_line(spec, result, error, elapsed, score, max_score):
    """What the instructor sees of a run on the platform's stdout: one line."""
    graded = f"score {score:g} of {max_score:g}" if result else f"cannot grade: {clean(error, 300)}"
    isolation = result["isolation"] if result else "-"
    return f"gradref {output.versions()['gradref']}: {spec.name}, {graded}, {elapsed:.1f} s, isolation {isolation}"


def prairielearn_results(result, spec, error=None):
    """PrairieLearn's results.json: score in [0, 1], one test per function with points."""
    if result is None:
        return {
            "gradable": True,
            "score": 0.0,
            "message": f"gradref could not grade this submission: {clean(error)}",
            "tests": [],
            "output": "",
        }
    tests = [
        {
            "name": r["name"],
            "description": _what_was_checked(r),
            "points": r.get("points", 0.0),
            "max_points": r.get("max_points", 0.0),
            "message": clean(r["message"], 8000),
            "output": "",
        }
        for r in result["results"]
        if r.get("max_points") or r["status"] != "missing"
    ]
    maximum = result.get("max_score") or 0.0
    return {
        "gradable": True,
        "score": round(result["score"] / maximum, 6) if maximum else 0.0,
        "message": f"{sum(r['status'] == 'pass' for r in result['results'])} functions pass; "
        f"{result['isolation_note']}",
        "output": "",
        "tests": tests,
    }


def _what_was_checked(result):
    """A test's description: what was checked and on how many samples, not only pass or fail."""
    samples = {sample_of(c["name"]) for c in result.get("checks", [])}
    if not samples:
        return f"{result['name']}: {result['status']}"
    return (
        f"{result['name']}: {result['status']}; values against the JAX oracle, shapes, dtypes, NaN/inf and "
        f"writes into its arguments, on {len(samples)} sample(s)"
    )


def run_prairielearn(root, options):
    spec, result, error, elapsed = _grade_in_container(root, os.path.join(root, "student"), options)
    os.makedirs(os.path.join(root, "results"), exist_ok=True)
    body = prairielearn_results(result, spec, error)
    output.write_json(os.path.join(root, "results", "results.json"), body)
    print(_log_line(spec, result, error, elapsed, body["score"], 1.0))
    return 0
