"""The HTML class page and student pages: counts and clusters equal what the JSON reports say, names are
text, and (with Chromium) the page renders offline with nothing running."""

import html.parser
import json
import os
import shutil
import subprocess

import pytest
from conftest import once_per_session
from test_mistakes import GENERIC, _grade_planted

from gradref import htmlreport
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
    assert "twin__a" not in hidden and "onerror" not in hidden and htmlreport.pseudonym("twin__a.py") in hidden


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
    assert (out / "ann.py.html").exists() and (out / "bob.py.html").exists()
    assert "mask_wrong_side" in page.read_text()


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not chromium(), reason="needs Chromium (make installs it: apt-get install chromium)")
def test_the_class_page_renders_offline_in_chromium_with_nothing_running(tmp_path, report_folder, class_reports):
    page = tmp_path / "class.html"
    assert main(["report", str(report_folder), "--html", str(page)]) == 0
    browser = [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--proxy-server=127.0.0.1:9",  # no network: anything fetched would fail
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
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
