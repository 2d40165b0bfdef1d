"""Assignments, scores and the autograder platforms, run as the platforms run them.

The bundles are unpacked into a temporary root that stands for /autograder (Gradescope) or /grade
(PrairieLearn); setup installs gradref from the wheel inside the bundle (into that root, without its
dependencies, which this venv has), and the platform's script grades four kinds of submission."""

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
import zipfile

import pytest
from conftest import once_per_session
from notebooks import course_notebook

from gradref.cli import main
from gradref.grade import Options, grade_file
from gradref.grade.course import assignments
from gradref.grade.front import platforms

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")

HOSTILE = """
import os, json
def affine_forward(x, w, b):
    for path in ("{root}/results/results.json", "/autograder/results/results.json"):
        try:
            with open(path, "w") as handle:
                json.dump({{"score": 999, "tests": []}}, handle)
        except OSError:
            pass
    try:
        os.kill(os.getppid(), 9)
    except OSError:
        pass
    return x.reshape(x.shape[0], -1) @ w, (x, w, b)
def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, dout, dout
"""


def check_gradescope(data):
    """Gradescope's results.json: the keys and types its autograder specification names."""
    assert isinstance(data["score"], (int, float)) and isinstance(data.get("max_score", 0), (int, float))
    assert isinstance(data["output"], str) and data.get("visibility", "visible") in (
        "hidden",
        "after_due_date",
        "after_published",
        "visible",
    )
    assert isinstance(data.get("execution_time", 0), (int, float))
    for test in data["tests"]:
        assert isinstance(test["name"], str) and isinstance(test["score"], (int, float))
        assert isinstance(test["max_score"], (int, float)) and test["status"] in ("passed", "failed")
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == 0
    assert data["score"] <= data.get("max_score", data["score"]) + 1e-9


def check_prairielearn(data):
    assert isinstance(data["gradable"], bool) and 0.0 <= data["score"] <= 1.0
    assert isinstance(data["message"], str)
    for test in data["tests"]:
        assert {"name", "points", "max_points", "message"} <= test.keys()
        assert 0 <= test["points"] <= test["max_points"] or test["max_points"] == 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return once_per_session(tmp_path_factory, "wheel", lambda folder: platforms.build_wheel(str(folder)))


def _env(root_var, root, site):
    return {
        **os.environ,
        root_var: root,
        "GRADREF_PYTHON": sys.executable,
        "GRADREF_SKIP_APT": "1",
        "PYTHONPATH": site,
        "GRADREF_PIP_ARGS": f"--no-deps --no-index --target {site}",
    }


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory, wheel):
    """autograder.zip for cs231n-a1, unpacked into root/source and set up as Gradescope does."""
    tmp = tmp_path_factory.mktemp("gradescope")
    bundle = str(tmp / "autograder.zip")
    assert (
        main(
            [
                "autograder",
                "gradescope",
                "--assignment",
                "cs231n-a1-layers",
                "--out",
                bundle,
                "--wheel",
                wheel,
                "--timeout",
                "5",
            ]
        )
        == 0
    )
    root = tmp / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "assignment.toml"} <= set(names)
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    site = str(tmp / "site")
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")],
        env=_env("GRADREF_AUTOGRADER_ROOT", str(root), site),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert setup.returncode == 0, setup.stderr
    assert os.path.isdir(os.path.join(site, "gradref", "grade", "course", "specs")), "the wheel ships the specs"
    assert os.path.isfile(os.path.join(site, "gradref", "grade", "course", "support", "cs231n", "fast_layers.py"))
    image = tmp / "built-image"
    shutil.copytree(root, image, symlinks=True)
    return root, site, image


def fresh_container(image, root):
    """A fresh copy of the built image at the image's own path, as the platform starts one per submission."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(image, root, symlinks=True)


def run_gradescope(root, site, files, image=None):
    if image is not None:
        fresh_container(image, root)
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    for name, content in files.items():
        path = root / "submission" / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    proc = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=_env("GRADREF_AUTOGRADER_ROOT", str(root), site),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    with open(root / "results" / "results.json") as handle:
        data = json.load(handle)
    check_gradescope(data)
    assert proc.stdout.startswith("gradref ") and ("score" in proc.stdout or "cannot grade" in proc.stdout)
    return data


def _read(name):
    with open(os.path.join(EXAMPLES, name)) as handle:
        return handle.read()


def test_gradescope_full_marks_for_a_correct_file_whatever_its_name(gradescope_root):
    root, site, image = gradescope_root
    data = run_gradescope(root, site, {"my_homework.py": _read("layers_correct.py")}, image)
    assert data["score"] == data["max_score"] == 9.0, data


def test_gradescope_partial_marks_and_the_diagnosis_for_a_buggy_file(gradescope_root):
    root, site, image = gradescope_root
    data = run_gradescope(root, site, {"layers.py": _read("layers_buggy.py")}, image)
    assert 0 < data["score"] < data["max_score"] == 9.0
    backward = next(t for t in data["tests"] if t["name"] == "affine_backward")
    assert backward["status"] == "failed" and "db keeps the shape (1, M)" in backward["output"]


def test_gradescope_hostile_code_cannot_write_its_own_score(gradescope_root):
    root, site, image = gradescope_root
    data = run_gradescope(root, site, {"layers.py": HOSTILE.format(root=root)}, image)
    assert data["score"] < 1.0 and data["max_score"] == 9.0, data


def test_gradescope_a_non_python_submission_gets_a_result_that_says_why(gradescope_root):
    root, site, image = gradescope_root
    data = run_gradescope(root, site, {"notes.txt": "hi", "plot.png": "not an image"}, image)
    assert data["score"] == 0 and data["max_score"] == 9.0
    assert "no Python file, notebook or zip" in data["output"], data["output"]
    broken = run_gradescope(root, site, {"homework.ipynb": "{"}, image)
    assert broken["score"] == 0 and "homework.ipynb is not a readable notebook" in broken["output"], broken["output"]


def test_gradescope_grades_a_notebook_and_a_zip_upload(gradescope_root, tmp_path):
    root, site, image = gradescope_root
    notebook = course_notebook(_read("layers_correct.py"))
    data = run_gradescope(root, site, {"layers.ipynb": notebook}, image)
    assert data["score"] == data["max_score"] == 9.0, data["output"]
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("hw/layers.ipynb", notebook)
    zipped_data = run_gradescope(root, site, {"upload.zip": archive.read_bytes()}, image)
    assert zipped_data["score"] == 9.0, zipped_data["output"]


def test_one_correct_function_out_of_an_assignment_is_a_small_fraction(tmp_path):
    (tmp_path / "one.py").write_text(
        "def affine_forward(x, w, b):\n    return x.reshape(x.shape[0], -1) @ w + b, None\n"
    )
    spec = assignments.load("cs231n-a2")
    result = grade_file(str(tmp_path / "one.py"), assignments.apply(spec, Options(timeout=5.0, assignment=spec)))
    assert result["score"] == 1.0 and result["max_score"] == 57.0


def test_prairielearn_question_runs_and_reports_in_its_format(tmp_path, wheel):
    out = tmp_path / "questions" / "a1"  # questions/ does not exist yet: it is made
    assert (
        main(["autograder", "prairielearn", "--assignment", "cs231n-a1-layers", "--out", str(out), "--wheel", wheel])
        == 0
    )
    assert (out / "Dockerfile").exists() and (out / "tests" / "run.sh").exists()
    root, site = tmp_path / "grade", str(tmp_path / "site")
    image = tmp_path / "built-image"
    shutil.copytree(out / "tests", image / "tests")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            site,
            *map(str, (image / "tests").glob("gradref-*.whl")),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    for files, expect in (
        ({"layers.py": _read("layers_correct.py")}, 1.0),
        ({"a.txt": "x"}, 0.0),
        ({"layers.py": _read("layers_buggy.py")}, None),
    ):
        fresh_container(image, root)
        (root / "student").mkdir()
        for name, text in files.items():
            (root / "student" / name).write_text(text)
        proc = subprocess.run(
            ["bash", str(root / "tests" / "run.sh")],
            env=_env("GRADREF_PL_ROOT", str(root), site),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        data = json.loads((root / "results" / "results.json").read_text())
        check_prairielearn(data)
        if expect is None:
            assert 0 < data["score"] < 1
        else:
            assert data["score"] == expect, data
        assert proc.stdout.startswith("gradref ")
        for test in data["tests"]:
            assert "values against the JAX oracle" in test["description"] or test["description"].endswith("missing")


# ----- specs, gradebooks and JUnit -----


def test_hidden_functions_are_hidden_until_published(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'name = "quiz"\nconvention = "cs231n"\nfunctions = [\n  { name = "relu_forward", points = 1 },\n'
        '  { name = "relu_backward", points = 2, hidden = true },\n]\n'
    )
    (tmp_path / "s.py").write_text(_read("layers_correct.py"))
    out = tmp_path / "gs.json"
    assert main(["grade", str(tmp_path / "s.py"), "--assignment", str(spec), "--gradescope", str(out)]) == 0
    tests = {t["name"]: t for t in json.loads(out.read_text())["tests"]}
    assert (
        tests["relu_backward"]["visibility"] == "after_published" and tests["relu_forward"]["visibility"] == "visible"
    )
    assert tests["relu_backward"]["max_score"] == 2.0


@pytest.mark.parametrize(
    "text,words",
    [
        ('convention = "cs231n"\nfunctions = [{ name = "relu_fwd" }]\n', "did you mean relu_forward"),
        ('convention = "cs231n"\nfunctions = [{ name = "relu_forward", points = -1 }]\n', "at least 0"),
        ('convention = "pytorch"\nfunctions = [{ name = "relu_forward" }]\n', "convention must be"),
        ("this is not toml [", "not a readable TOML file"),
    ],
)
def test_a_bad_spec_is_one_sentence_and_exit_2(tmp_path, capsys, text, words):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    (tmp_path / "s.py").write_text(_read("layers_correct.py"))
    assert main(["grade", str(tmp_path / "s.py"), "--assignment", str(spec)]) == 2
    assert words in capsys.readouterr().err


def test_a_batch_writes_scores_and_a_gradebook(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "alice.py").write_text(_read("layers_correct.py"))
    (batch / "bob.py").write_text(_read("layers_buggy.py"))
    (batch / "carol.py").write_text("def relu_forward(x:\n")
    out = tmp_path / "reports"
    main(["grade", str(batch), "--batch", "--assignment", "cs231n-a1-layers", "--out", str(out), "--timeout", "5"])
    lines = (out / "gradebook.csv").read_text().splitlines()
    assert lines[0].startswith("submission,score,max_score,affine_forward,affine_backward")
    rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert rows["alice.py"][1:3] == ["9.0", "9.0"] and float(rows["bob.py"][1]) < 9.0
    assert rows["carol.py"][1:3] == ["0.0", "9.0"]
    with open(out / "summary.csv") as handle:
        summary = {row["submission"]: row for row in csv.DictReader(handle)}
    assert summary["carol.py"]["max_score"] == "9.0"  # what the gradebook says too


def test_junit_for_grade_and_check(tmp_path):
    path = tmp_path / "grade.xml"
    assert main(["grade", os.path.join(EXAMPLES, "layers_buggy.py"), "--junit", str(path), "--timeout", "5"]) == 1
    suite = ET.parse(path).getroot().find("testsuite")
    assert int(suite.get("failures")) > 0 and int(suite.get("tests")) > 50
    failing = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert any(c.get("classname") == "gradref.grade.affine_backward" for c in failing)
    check = tmp_path / "check.xml"
    assert main(["check", "--op", "relu", "--dtype", "float64", "--junit", str(check)]) == 0
    cases = list(ET.parse(check).getroot().iter("testcase"))
    assert [c.get("name") for c in cases] == ["relu[float64,cpu]"] and cases[0].find("failure") is None


def test_assignments_lists_the_built_in_specs(capsys):
    assert main(["assignments", "--json", "-"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {s["name"] for s in listed} == {
        "cs231n-a1",
        "cs231n-a1-layers",
        "cs231n-a2",
        "cs231n-a3",
        "textbook",
        "eecs498-a2",
        "eecs498-a3",
        "eecs498-rnn",
    }
    for spec in listed:
        names = [f["name"] for f in spec["functions"]]
        assert len(names) == len(set(names))


def test_from_an_installed_gradref_one_command_writes_the_bundle(gradescope_root, tmp_path):
    """A pip-installed gradref has no source tree: the bundle's wheel is built from the installed packages."""
    _, site, _ = gradescope_root
    bundle = tmp_path / "autograder.zip"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradref",
            "autograder",
            "gradescope",
            "--assignment",
            "cs231n-a2",
            "--out",
            str(bundle),
        ],
        env={**os.environ, "PYTHONPATH": site},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        wheel = next(n for n in names if n.startswith("gradref-") and n.endswith(".whl"))
        archive.extract(wheel, tmp_path)
    with zipfile.ZipFile(tmp_path / wheel) as built:
        inside = built.namelist()
    assert "gradref/grade/course/specs/cs231n-a2.toml" in inside and "gradref/grade/untrusted/worker.py" in inside
    assert "gradref/grade/course/support/cs231n/im2col.py" in inside  # the course support modules too


def test_the_gradescope_image_installs_gradref_into_a_virtual_environment(tmp_path, wheel):
    """Newer base images refuse pip into the system Python: setup.sh makes a venv of the image."""
    bundle = tmp_path / "autograder.zip"
    assert (
        main(["autograder", "gradescope", "--assignment", "cs231n-a1-layers", "--out", str(bundle), "--wheel", wheel])
        == 0
    )
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    env = {k: v for k, v in os.environ.items() if k not in ("GRADREF_PYTHON", "VIRTUAL_ENV")}
    env.update(GRADREF_AUTOGRADER_ROOT=str(root), GRADREF_SKIP_APT="1", GRADREF_PIP_ARGS="--no-deps --no-index")
    env["PATH"] = "/usr/bin:/bin"  # the image's own python3
    # gradref's dependencies from this environment (no network here); gradref itself goes into the venv.
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    if subprocess.run(["/usr/bin/python3", "-c", "import venv, ensurepip"], capture_output=True).returncode:
        pytest.skip("this machine's /usr/bin/python3 cannot make a virtual environment (python3-venv)")
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    assert setup.returncode == 0, setup.stderr
    assert list((root / "venv").glob("lib/python3*/site-packages/gradref/grade/untrusted/worker.py")), (
        "gradref is in the venv"
    )
    assert "venv/bin/python" in (root / "source" / "run_autograder").read_text()


def test_warm_computes_at_build_time_all_a_submission_would_store(tmp_path):
    """After `gradref autograder warm`, a submission of the assignment computes only its own unseen
    samples' answers (one per function) and compiles nothing: the published samples' answers and the
    compiled programs were made when the image was built."""
    env = {**os.environ, "GRADREF_CACHE_DIR": str(tmp_path / "cache")}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "gradref", *args], env=env, capture_output=True, text=True, timeout=600
        )

    def stored():
        return sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "cache").rglob("*") if p.is_file())

    # Two textbook layer classes: warm computes every target of the spec's convention, and the
    # textbook's has five (CS231n's 38 take 20 s more; what is stored when is the same question).
    spec = tmp_path / "layers.toml"
    spec.write_text(
        'name = "two-layers"\nconvention = "layers"\nfunctions = [{ name = "Affine" }, { name = "Relu" }]\n'
    )
    warm = run("autograder", "warm", "--assignment", str(spec))
    assert warm.returncode == 0 and "oracle answers" in warm.stdout, warm.stderr
    before = stored()
    assert any("oracle" in name for name in before) and any("xla" in name for name in before)
    graded = run("grade", os.path.join(EXAMPLES, "textbook_layers.py"), "--assignment", str(spec), "--json", "-")
    report = json.loads(graded.stdout)
    assert graded.returncode == 0 and report["passed"]
    added = sorted(set(stored()) - set(before))
    assert [name for name in added if "xla" in name] == [], "nothing is compiled per submission"
    assert len(added) <= len([r for r in report["results"] if r["status"] == "pass"]), added
