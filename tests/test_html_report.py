"""The HTML class page and student pages: counts and clusters equal what the JSON reports say, names are
text, and (with Chromium) the page renders offline with nothing running."""

import hashlib
import html.parser
import json
import os
import shutil
import subprocess

import pytest
from conftest import once_per_session
from test_mistakes import GENERIC, _grade_planted

from gradref import htmlreport
from gradref import report as report_command
from gradref.cli import main

XSS = "<img src=x onerror=alert(1)>.py"


@pytest.fixture(scope="module")
def class_reports(tmp_path_factory):
    """The planted batch of test_mistakes.py (over 100 course-style files), graded once per session."""
    return once_per_session(tmp_path_factory, "planted", _grade_planted)


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory, class_reports):
    folder = tmp_path_factory.mktemp("reports")
    for number, report in enumerate(class_reports.values()):
        (folder / f"r{number}.json").write_text(json.dumps(report))
    (folder / "broken.json").write_text("{ not json")
    return folder


class Collector(html.parser.HTMLParser):
    """The elements with data-* attributes, the text of ids, and every tag seen."""

    def __init__(self):
        super().__init__()
        self.data, self.ids, self.tags, self.text, self._id = [], {}, [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if any(k.startswith("data-") for k in attrs):
            self.data.append((tag, attrs))
        self._id = attrs.get("id")

    def handle_endtag(self, tag):
        self._id = None

    def handle_data(self, data):
        self.text.append(data)
        if self._id:
            self.ids[self._id] = self.ids.get(self._id, "") + data


def parsed(page):
    collector = Collector()
    collector.feed(page)
    return collector


def test_the_class_page_counts_what_the_json_reports_say(tmp_path, report_folder, class_reports):
    page_path = tmp_path / "class.html"
    assert main(["report", str(report_folder), "--html", str(page_path)]) == 0
    page = parsed(page_path.read_text())
    reports = list(class_reports.values())
    assert page.ids["students"] == str(len(reports) + 1)  # the unreadable one is listed, not lost
    assert page.ids["cannot"] == str(1 + sum("results" not in r for r in reports))
    named, passed = {}, {}
    for report in reports:
        for result in report.get("results", []):
            if result["status"] == "missing":
                continue
            passed.setdefault(result["name"], [0, 0])
            passed[result["name"]][0] += result["status"] == "pass"
            passed[result["name"]][1] += 1
            if result["status"] == "pass":
                continue  # a mistake is never listed under a function that passed
            for key in set(result["mistakes"]) - GENERIC:
                named[(result["name"], key)] = named.get((result["name"], key), 0) + 1
    shown = {(a["data-function"], a["data-key"]): int(a["data-count"]) for _, a in page.data if "data-key" in a}
    assert shown == named
    assert len(shown) > 60
    rows = {a["data-function"]: None for t, a in page.data if t == "tr" and "data-size" not in a}
    assert set(passed) <= set(rows)


def test_identical_unexplained_failures_form_one_cluster_with_a_line_of_code(class_reports):
    pairs = [(htmlreport.student_name(r), r) for r in class_reports.values()]
    clusters = htmlreport.class_summary(pairs)["clusters"]
    twins = [c for c in clusters if c["function"] == "sigmoid_backward" and c["quantity"] == "dx"]
    assert twins, clusters
    assert set(twins[0]["students"]) >= {"twin__a.py", "twin__b.py", "twin__reordered.py"}
    assert "uncatalogued__sigmoid_one_plus_s.py" in twins[0]["students"]
    assert "(1 + s)" in twins[0]["line"] or "(s + 1)" in twins[0]["line"]
    assert not twins[0]["identical_code"]  # the reordered one is written differently
    named = {(c["function"], c["sample"]) for c in clusters}
    assert ("affine_backward", "small") not in named  # a named mistake is never "unexplained"


def test_a_student_named_like_html_is_text_and_anonymise_hides_names(tmp_path, report_folder):
    page = tmp_path / "c.html"
    assert main(["report", str(report_folder), "--html", str(page)]) == 0
    text = page.read_text()
    assert XSS not in text and "&lt;img src=x onerror=alert(1)&gt;.py" in text
    assert not [a for t, a in parsed(text).tags if t == "img" or "onerror" in a]
    assert "<script" not in text and "Content-Security-Policy" in text
    assert main(["report", str(report_folder), "--html", str(page), "--anonymise"]) == 0
    hidden = page.read_text()
    key = report_command.class_key(page)
    assert "twin__a" not in hidden and "onerror" not in hidden and htmlreport.pseudonym("twin__a.py", key) in hidden
    key_file = tmp_path / report_command.KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_bytes()) == 32
    assert main(["report", str(report_folder), "--html", str(page), "--anonymise"]) == 0
    assert page.read_text() == hidden, "the same class keeps its pseudonyms"
    other = tmp_path / "other" / "c.html"
    other.parent.mkdir()
    assert main(["report", str(report_folder), "--html", str(other), "--anonymise"]) == 0
    assert htmlreport.pseudonym("twin__a.py", key) not in other.read_text(), "another class's key, other names"
    unsalted = "student-" + hashlib.sha256(b"twin__a.py").hexdigest()[:8]
    assert unsalted not in hidden, "a roster hashed without the key finds no one"


def test_a_report_command_without_reports_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--html", str(tmp_path / "x.html")]) == 2
    assert "no JSON reports" in capsys.readouterr().err


def test_a_students_page_has_a_heat_map_of_where_it_is_wrong(tmp_path, class_reports):
    name = "uncatalogued__pool_loop_one_row_short.py"  # the loop over output rows stops one short
    report = next(r for r in class_reports.values() if r["submission"].endswith(name))
    backward = next(r for r in report["results"] if r["name"] == "max_pool_backward_naive")
    heat = next(h for h in backward["heatmaps"] if h["quantity"] == "dx")
    assert heat["axes"] == ["row", "column"] and len(heat["grid"]) == heat["shape"][2]
    assert max(heat["grid"][0]) < 1e-9 < max(heat["grid"][-1])  # right at the top, wrong at the bottom
    page = htmlreport.student_page(name, report)
    assert page.count('class="heatmap"') >= 1 and "<svg" in page and "max_pool_backward_naive" in page


def test_grade_batch_writes_the_class_page_and_a_page_per_student(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    relu = "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
    (batch / "ann.py").write_text(relu + "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n")
    (batch / "bob.py").write_text(relu + "def relu_backward(dout, cache):\n    return dout * (cache < 0)\n")
    out, page = tmp_path / "out", tmp_path / "class.html"
    code = main(["grade", str(batch), "--batch", "--out", str(out), "--html", str(page), "--timeout", "5"])
    assert code == 1 and page.exists()
    assert (out / "students" / "ann.py.html").exists() and (out / "students" / "bob.py.html").exists()
    text = page.read_text()
    assert "the ReLU mask is on the wrong side" in text  # the catalogue's words ...
    assert '<span class="key">mask_wrong_side</span>' in text  # ... the key only as a label for staff


def test_a_student_named_class_never_lands_on_the_class_page(tmp_path):
    batch = tmp_path / "batch"
    (batch / "class").mkdir(parents=True)
    (batch / "class" / "layers.py").write_text(
        "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    page = out / "class.html"
    assert main(["grade", str(batch), "--batch", "--out", str(out), "--html", str(page), "--timeout", "5"]) == 0
    assert "what the class got wrong" in page.read_text()
    assert "what the class got wrong" not in (out / "students" / "class.html").read_text()
    clash = ["grade", str(batch), "--batch", "--out", str(out), "--html", str(out / "students" / "class.html")]
    assert main(clash) == 2


def _report(name, results, **fields):
    return {"submission": f"/class/{name}", "score": 0.0, "max_score": 1.0, "results": results, **fields}


def _result(name, status, mistakes=(), warnings=(), checks=(), heatmaps=()):
    return {
        "name": name,
        "status": status,
        "message": "",
        "mistakes": list(mistakes),
        "warnings": list(warnings),
        "checks": list(checks),
        "heatmaps": list(heatmaps),
    }


def _wrong(sample, fingerprint):
    return {"name": f"dx [{sample}]", "passed": False, "fingerprint": fingerprint, "detail": "got 2, want 1;"}


def test_mistakes_read_in_plain_words_and_a_passing_function_lists_none():
    wrong = _result("affine_backward", "fail", mistakes=["db_keepdims"])
    passing = _result("relu_backward", "pass", mistakes=["mask_wrong_side"])
    page = htmlreport.class_page([("ann.py", _report("ann.py", [wrong, passing]))])
    assert "db keeps the shape (1, M)" in page and '<span class="key">db_keepdims</span>' in page
    assert "mask_wrong_side" not in page and "mask is on the wrong side" not in page
    assert htmlreport.mistake_words("relu_backward", "no_such_key") == "no such key"
    student = htmlreport.student_page("ann.py", _report("ann.py", [wrong, passing]))
    assert '<span class="key">db_keepdims</span>' in student and "mask_wrong_side" not in student


def test_warnings_are_said_per_function_in_plain_words_with_a_count():
    overflow = "dx [huge_scores]: got nan at (0, 1), want 0.1"
    reports = [
        (f"s{i}.py", _report(f"s{i}.py", [_result("softmax_loss", "pass", warnings=[overflow])])) for i in range(4)
    ]
    reports.append(
        ("w.py", _report("w.py", [_result("relu_backward", "pass", warnings=["relu_backward writes into dout"])]))
    )
    summary = htmlreport.class_summary(reports)
    assert summary["warnings"]["softmax_loss"] == {
        "softmax_loss overflows at scores near 1000 (dx)": ["s0.py", "s1.py", "s2.py", "s3.py"]
    }
    page = htmlreport.class_page(reports)
    assert "softmax_loss overflows at scores near 1000 (dx): 4 students" in page
    assert "relu_backward writes into dout: 1 student<" in page
    assert summary["mistakes"] == {}


def test_students_who_could_not_be_graded_have_their_own_bar():
    assert htmlreport.score_bins([0.0, 0.55, 1.0, 1.0], not_graded=3) == (
        ["ungraded"] + [f"{10 * i}-{10 * i + 10}" for i in range(10)],
        [3, 1, 0, 0, 0, 0, 1, 0, 0, 0, 2],
    )
    page = htmlreport.class_page([("gone.py", {"submission": "/class/gone.py", "error": "not a zip"})])
    assert "<h2>Scores</h2>" in page and ">ungraded<" in page


def test_one_cluster_row_per_group_of_identical_wrong_outputs_with_its_samples():
    def wrong_on_two_samples(name):
        checks = [_wrong("small", "f-small"), _wrong("kdim", "f-kdim")]
        return name, _report(name, [_result("sigmoid_backward", "fail", checks=checks)])

    summary = htmlreport.class_summary([wrong_on_two_samples("a.py"), wrong_on_two_samples("b.py")])
    assert len(summary["clusters"]) == 1
    cluster = summary["clusters"][0]
    assert cluster["samples"] == ["kdim", "small"] and cluster["students"] == ["a.py", "b.py"]


def test_no_heat_map_for_a_function_that_passed_or_for_a_scalar_loss():
    grid = {
        "quantity": "dx",
        "sample": "small",
        "shape": [2, 3],
        "axes": ["row", "column"],
        "grid": [[0, 1, 0], [1, 0, 1]],
    }
    scalar = {**grid, "quantity": "loss", "shape": [], "grid": [[1.0]]}
    failing = _result("affine_backward", "fail", heatmaps=[grid])
    page = htmlreport.student_page(
        "a.py", _report("a.py", [failing, _result("relu_backward", "pass", heatmaps=[grid])])
    )
    assert page.count('class="heatmap"') == 1
    loss = _result("softmax_loss", "fail", heatmaps=[scalar])
    assert 'class="heatmap"' not in htmlreport.student_page("a.py", _report("a.py", [loss]))


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(profile):
    """Chromium with no screen and no network (anything a page fetched would fail)."""
    return [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
    ]


@pytest.mark.skipif(not chromium(), reason="needs Chromium (make installs it: apt-get install chromium)")
def test_the_class_page_renders_offline_in_chromium_with_nothing_running(tmp_path, report_folder, class_reports):
    page = tmp_path / "class.html"
    assert main(["report", str(report_folder), "--html", str(page)]) == 0
    browser = headless(tmp_path / "profile")
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    rendered = parsed(dom)
    assert rendered.ids["students"] == str(len(class_reports) + 1)
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in dom and not [t for t, a in rendered.tags if t == "img"]
    assert dom.count('class="cluster"') == len(
        htmlreport.class_summary([(htmlreport.student_name(r), r) for r in class_reports.values()])["clusters"]
    )

    def screenshot(html_page, size):
        shot = html_page.with_suffix(".png")
        subprocess.run(
            [*browser, f"--screenshot={shot}", f"--window-size={size}", html_page.as_uri()],
            capture_output=True,
            timeout=120,
        )
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        return shot

    shot = screenshot(page, "1280,2400")
    student = tmp_path / "student.html"
    name = "uncatalogued__pool_loop_one_row_short.py"
    report = next(r for r in class_reports.values() if r["submission"].endswith(name))
    student.write_text(htmlreport.student_page(name, report))
    student_shot = screenshot(student, "1100,1000")
    if os.environ.get("GRADREF_SCREENSHOTS"):  # the README's pictures: GRADREF_SCREENSHOTS=docs/images
        shutil.copy(shot, os.path.join(os.environ["GRADREF_SCREENSHOTS"], "class-report.png"))
        shutil.copy(student_shot, os.path.join(os.environ["GRADREF_SCREENSHOTS"], "student-heatmap.png"))


def test_a_students_page_shows_the_line_pointed_at_beside_its_heat_map():
    grid = {
        "quantity": "dx",
        "sample": "small",
        "shape": [2, 3],
        "axes": ["row", "column"],
        "grid": [[0, 1, 0], [1, 0, 0]],
    }
    failing = _result("tanh_backward", "fail", mistakes=["first_wrong_value"], heatmaps=[grid])
    failing["where"] = {"line": 7, "code": "dx = dout * (1 - out) ** 2 <b>", "file": "layers.py"}
    page = htmlreport.student_page("ann.py", _report("ann.py", [failing]))
    assert (
        '<p class="where">tanh_backward: line 7 of layers.py: <code>dx = dout * (1 - out) ** 2 &lt;b&gt;</code></p>'
        in page
    )
    assert page.index('class="where"') < page.index('class="heatmap"')
    assert '<span class="key">first_wrong_value</span>' not in page  # a place, not a named mistake
