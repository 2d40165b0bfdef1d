"""Notebook and zip submissions: graded exactly as the same code in a .py file, messages in cells,
zips unpacked safely."""

import io
import json
import os
import re
import stat
import zipfile

import nbformat
import pytest
from conftest import once_per_session
from notebooks import course_notebook

from gradref.cli import main
from gradref.grade import CannotGrade, Options, grade_file
from gradref.grade.front.batch import grade_folder
from gradref.grade.untrusted import notebook
from gradref.grade.untrusted import unzip as unzip_module

COURSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")
FAST = Options(timeout=5.0, memory_mb=800)

# (name, course file, edits): correct files and real-style bugs, each graded as a .py and as a notebook.
VARIANTS = [
    ("layers", "layers_student.py", []),
    ("conv", "conv_student.py", []),
    ("seq", "seq_student.py", []),
    (
        "layers_db_keepdims",
        "layers_student.py",
        [("db = np.sum(dout, axis=0)", "db = np.sum(dout, axis=0, keepdims=True)")],
    ),
    (
        "conv_pad_slice",
        "conv_student.py",
        [("dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp[:, :, pad:-pad, pad:-pad]")],
    ),
    (
        "seq_raises",
        "seq_student.py",
        [("da = dnext_h * (1 - next_h ** 2)", "da = dnext_h * (1 - next_h ** 2) + undefined_name")],
    ),
]


def source(course_file, edits=()):
    with open(os.path.join(COURSE, course_file)) as handle:
        text = handle.read()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def _grade_both(folder):
    batch = folder / "batch"
    batch.mkdir()
    for name, course_file, edits in VARIANTS:
        text = source(course_file, edits)
        (batch / f"{name}.py").write_text(text)
        (batch / f"{name}.ipynb").write_text(course_notebook(text))
    grade_folder(str(batch), FAST, jobs=2, out=str(folder / "reports"))
    return {p.name: json.loads(p.read_text()) for p in (folder / "reports").iterdir() if p.suffix == ".json"}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    return once_per_session(tmp_path_factory, "notebooks", _grade_both)


# Where a diagnosis points: a file's line, or a notebook's cell and its line; the same place either way.
PLACE = re.compile(r"^(line \d+ of \S+|cell \d+ \(.*?\), line \d+) `")


def verdicts(report):
    return {
        r["name"]: (r["status"], r["mistakes"], [PLACE.sub("a line `", d) for d in r["diagnosis"]], r.get("points"))
        for r in report["results"]
    }


@pytest.mark.parametrize("name", [v[0] for v in VARIANTS])
def test_a_notebook_grades_exactly_as_the_file_does(both, name):
    as_file, as_notebook = both[f"{name}.py.json"], both[f"{name}.ipynb.json"]
    assert verdicts(as_notebook) == verdicts(as_file)
    assert as_notebook["files"] == [f"{name}.ipynb"]
    left_out = {c["first_line"] for c in as_notebook["notebook_cells_left_out"]}
    assert "print 'loss:', loss" in left_out and "import matplotlib.pyplot as plt" in left_out


def test_a_bug_in_a_notebook_is_named_and_fails_as_in_the_file(both):
    notebook = {r["name"]: r for r in both["conv_pad_slice.ipynb.json"]["results"]}
    assert notebook["conv_backward_naive"]["status"] == "fail"
    assert "pad_slice" in notebook["conv_backward_naive"]["mistakes"]


def test_a_message_names_the_cell_and_its_line_not_a_file_line(both):
    message = next(r for r in both["seq_raises.ipynb.json"]["results"] if r["name"] == "rnn_step_backward")["message"]
    assert (
        "NameError" in message
        and "cell " in message
        and "('def rnn_step_backward(dnext_h, cache):'), line 3" in message
    )
    assert "seq_raises.py" not in message and "line 3 of" not in message


def notebook_file(tmp_path, cells, name="hw.ipynb"):
    path = tmp_path / name
    path.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])))
    return path


RELU = "import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"


def test_a_definition_that_needs_a_left_out_cell_is_told_which_cell(tmp_path):
    path = notebook_file(
        tmp_path,
        [
            RELU,
            "scale = np.ones(1)  # a constant made by a call: the cell is left out",
            "def relu_backward(dout, cache):\n    return dout * (cache > 0) * scale\n",
        ],
    )
    backward = {r["name"]: r for r in grade_file(str(path), FAST)["results"]}["relu_backward"]
    assert backward["status"] == "error"
    assert "relu_backward uses scale, which only cell 2 ('scale = np.ones(1)" in backward["message"], backward[
        "message"
    ]


BACKWARD_CELL = "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"


@pytest.mark.parametrize(
    "cells",
    [
        ["%%time\n" + RELU + "\n" + BACKWARD_CELL],
        ["%%capture\n" + RELU, BACKWARD_CELL],
        ["%%writefile layers.py\n" + RELU + "\n" + BACKWARD_CELL, "from layers import *\nrelu_forward(np.ones(3))"],
        ["%%writefile -a helpers.py\n" + RELU, "import helpers\nfrom helpers import relu_forward\n" + BACKWARD_CELL],
    ],
    ids=["time", "capture", "writefile", "writefile-append"],
)
def test_a_cell_magic_whose_body_is_python_is_graded_as_that_python(tmp_path, cells):
    """`%%time` and `%%capture` run their body as Python; `%%writefile layers.py` writes it as the
    module a later cell imports: their functions are the notebook's."""
    report = grade_file(str(notebook_file(tmp_path, cells)), FAST)
    statuses = {r["name"]: r["status"] for r in report["results"] if r["status"] != "missing"}
    assert statuses == {"relu_forward": "pass", "relu_backward": "pass"}, report["results"][:2]


def test_a_cell_magic_of_another_language_is_left_out_whole(tmp_path):
    path = notebook_file(tmp_path, [RELU + BACKWARD_CELL, "%%bash\nls -la\ndef relu_forward(x): return x"])
    report = grade_file(str(path), FAST)
    assert {r["name"]: r["status"] for r in report["results"]}["relu_forward"] == "pass"
    assert [(c["cell"], c["why"]) for c in report["notebook_cells_left_out"]] == [(2, "a cell magic runs it")]


def test_annotate_writes_a_feedback_cell_after_each_graded_function(tmp_path):
    path = notebook_file(
        tmp_path, [RELU, "def relu_backward(dout, cache):\n    return dout * (cache < 0)\n", "print(1)"]
    )
    out = tmp_path / "annotated.ipynb"
    assert main(["grade", str(path), "--annotate", str(out)]) == 1
    annotated = nbformat.read(str(out), as_version=4)
    nbformat.validate(annotated)
    kinds = [(c.cell_type, c.source.split("\n")[0][:40]) for c in annotated.cells]
    assert kinds[1][0] == "markdown" and "`relu_forward`" in kinds[1][1] and "pass" in annotated.cells[1].source
    assert kinds[3][0] == "markdown" and "`relu_backward`" in annotated.cells[3].source
    assert "**fail**" in annotated.cells[3].source and kinds[4] == ("code", "print(1)")


def test_a_cell_too_large_for_code_is_left_out_before_it_is_parsed(tmp_path, monkeypatch):
    parsed = []
    real_parse = notebook.ast.parse
    monkeypatch.setattr(
        notebook.ast, "parse", lambda text, *a, **k: parsed.append(len(text)) or real_parse(text, *a, **k)
    )
    huge = "\n".join(f"c{i} = {i}" for i in range(300_000))  # about 3 MB of constants in one cell
    path = notebook_file(tmp_path, [RELU, huge, "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"])
    converted = notebook.convert(notebook.read(str(path)))
    assert max(parsed) < notebook.MAX_CELL_BYTES
    assert [(cell.number, why.split(",")[0]) for cell, why in converted.left_out] == [
        (2, f"it is {len(huge) >> 10} KB")
    ]
    assert "def relu_backward" in converted.source
    report = {r["name"]: r for r in grade_file(str(path), FAST)["results"]}
    assert report["relu_backward"]["status"] == "pass"


HOSTILE_TEXT = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) "
    "![](http://example.invalid/track.png) ``` \n**gradref** `relu_backward` (1/1): **pass**"
)


def test_annotate_shows_what_the_student_wrote_as_text(tmp_path):
    """An exception's text is the student's: in the feedback cell it sits inside a fenced block longer
    than any run of backticks it holds, so no HTML, link, image or fake verdict line of theirs renders."""
    raising = f"def relu_backward(dout, cache):\n    raise ValueError({HOSTILE_TEXT!r})\n"
    path = notebook_file(tmp_path, [RELU, raising])
    out = tmp_path / "annotated.ipynb"
    assert main(["grade", str(path), "--annotate", str(out)]) == 1
    cell = nbformat.read(str(out), as_version=4).cells[3].source
    assert "<script>" in cell, cell  # quoted, not dropped
    lines = cell.split("\n")
    opening = next(i for i, line in enumerate(lines) if line.startswith("```"))
    fence = lines[opening].removesuffix("text")
    closing = max(i for i, line in enumerate(lines) if line == fence)
    assert len(fence) > 3, "longer than the student's own ```"
    outside = lines[:opening] + lines[closing + 1 :]
    assert not any(mark in line for line in outside for mark in ("<", "](", "javascript", "onerror")), outside
    assert sum("**pass**" in line for line in outside) == 0 and "**error**" in lines[0]


def test_annotate_on_a_py_file_is_refused_in_a_sentence(tmp_path, capsys):
    (tmp_path / "a.py").write_text(RELU)
    assert main(["grade", str(tmp_path / "a.py"), "--annotate", str(tmp_path / "x.ipynb")]) == 2
    assert "is not an .ipynb file" in capsys.readouterr().err


def test_a_notebook_beside_py_files_in_a_students_folder_is_one_submission(tmp_path):
    student = tmp_path / "mary"
    student.mkdir()
    (student / "helpers.py").write_text("import numpy as np\n\ndef positive(x):\n    return x > 0\n")
    notebook_file(
        student,
        [
            RELU + "from helpers import positive\n",
            "def relu_backward(dout, cache):\n    return dout * positive(cache)\n",
        ],
        name="layers.ipynb",
    )
    report = grade_file(str(student), FAST)
    statuses = {r["name"]: r["status"] for r in report["results"] if r["status"] != "missing"}
    assert statuses == {"relu_forward": "pass", "relu_backward": "pass"}
    assert report["files"] == ["layers.ipynb"]


# ----- .py files exported from a notebook -----

BACKWARD = "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
TRIES_IT_OUT = "data = load_cifar10('datasets')\nout, _ = relu_forward(data['X_train'])\nplt.plot(out)\nplt.show()\n"
EXPORTS = {
    # jupyter nbconvert --to script (and "Download as Python"): magics become get_ipython() calls
    "nbconvert": "#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\n"
    + RELU
    + "import matplotlib.pyplot as plt\nget_ipython().run_line_magic('matplotlib', 'inline')\n\n\n# In[2]:\n\n\n"
    + TRIES_IT_OUT
    + "\n\n# In[ ]:\n\n\n"
    + BACKWARD,
    # VS Code, jupytext and Spyder cells; a markdown cell is comments
    "percent": "# %% [markdown]\n# # Layers\n\n# %%\n"
    + RELU
    + "import matplotlib.pyplot as plt\n\n# %%\n"
    + TRIES_IT_OUT
    + "\n# %%\n"
    + BACKWARD,
    # Colab's download: a banner, the magics and shell lines left as they were, no cell markers
    "colab": '# -*- coding: utf-8 -*-\n"""hw.ipynb\n\nAutomatically generated by Colab.\n"""\n\n'
    "!pip install -q tqdm\n%matplotlib inline\n"
    + RELU
    + "import matplotlib.pyplot as plt\n\n"
    + TRIES_IT_OUT
    + "\n"
    + BACKWARD,
}


EXPORTS["nbconvert, saved with a byte order mark"] = "\ufeff" + EXPORTS["nbconvert"]


@pytest.mark.parametrize("style", sorted(EXPORTS))
def test_a_py_exported_from_a_notebook_is_graded_as_the_notebook_would_be(tmp_path, style):
    """The code that loads data and tries the functions out is left out, as a notebook's cell would be,
    and the report says which lines; the functions are graded."""
    path = tmp_path / "hw.py"
    path.write_text(EXPORTS[style])
    report = grade_file(str(path), FAST)
    statuses = {r["name"]: r["status"] for r in report["results"] if r["status"] != "missing"}
    assert statuses == {"relu_forward": "pass", "relu_backward": "pass"}, report["results"][:2]
    lines = EXPORTS[style].splitlines()
    tried = lines.index("data = load_cifar10('datasets')") + 1
    left_out = report["notebook_cells_left_out"]
    assert all(c["notebook"] == "hw.py" for c in left_out) and report["files"] == ["hw.py"]
    assert any(
        c["line"] <= tried
        and re.search(rf"runs code|run code .* left out \(lines {tried}-{tried + 3} of hw\.py", c["why"])
        for c in left_out
    ), left_out


def test_a_message_about_an_exported_py_names_the_line_of_the_students_own_file(tmp_path):
    text = EXPORTS["nbconvert"].replace("return dout * (cache > 0)", "return dout * (cache > 0) * scale")
    path = tmp_path / "hw.py"
    path.write_text(text)
    backward = {r["name"]: r for r in grade_file(str(path), FAST)["results"]}["relu_backward"]
    line = text.splitlines().index("    return dout * (cache > 0) * scale") + 1
    assert backward["status"] == "error" and f"line {line} of hw.py" in backward["message"], backward["message"]
    assert "cell" not in backward["message"], backward["message"]


def test_a_py_with_top_level_code_of_its_own_is_graded_as_written(tmp_path):
    """Only a file exported from a notebook is read as one: a layers.py whose constant is made by a
    call keeps it."""
    path = tmp_path / "layers.py"
    path.write_text(
        RELU.replace("import numpy as np\n", "import numpy as np\n\nZERO = float(np.zeros(1)[0])\n")
        + BACKWARD.replace("> 0", "> ZERO")
    )
    report = grade_file(str(path), FAST)
    statuses = {r["name"]: r["status"] for r in report["results"] if r["status"] != "missing"}
    assert statuses == {"relu_forward": "pass", "relu_backward": "pass"}
    assert "notebook_cells_left_out" not in report


def test_an_exported_py_beside_a_layers_py_in_a_folder_is_read_as_a_notebook(tmp_path):
    student = tmp_path / "mary"
    student.mkdir()
    (student / "layers.py").write_text(RELU)
    (student / "ReLU.py").write_text("# In[1]:\n\n\nimport numpy as np\n\n\n# In[2]:\n\n\n" + TRIES_IT_OUT + BACKWARD)
    report = grade_file(str(student), FAST)
    statuses = {r["name"]: r["status"] for r in report["results"] if r["status"] != "missing"}
    assert statuses == {"relu_forward": "pass", "relu_backward": "pass"}, report["results"][:2]
    assert {c["notebook"] for c in report["notebook_cells_left_out"]} == {"ReLU.py"}


JUPYTEXT_HEADER = (
    "# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n#       format_name: percent\n# ---\n\n"
)


def test_a_notebook_and_the_py_jupytext_pairs_with_it_are_one_submission(tmp_path):
    """jupytext keeps a notebook and a .py of the same code side by side: the same definitions twice
    are one function; definitions that differ are two copies, refused in the student's own names."""
    student = tmp_path / "mary"
    student.mkdir()
    notebook_file(student, [RELU + "\n" + BACKWARD_CELL, "relu_forward(np.ones(3))"], name="layers.ipynb")
    paired = JUPYTEXT_HEADER + "# %%\n" + RELU + "\n" + BACKWARD_CELL + "\n# %%\nrelu_forward(np.ones(3))\n"
    (student / "layers.py").write_text(paired)
    report = grade_file(str(student), FAST)
    statuses = {r["name"]: r["status"] for r in report["results"] if r["status"] != "missing"}
    assert statuses == {"relu_forward": "pass", "relu_backward": "pass"}, report["results"][:2]
    (student / "layers.py").write_text(paired.replace("(cache > 0)", "(cache >= 0)"))
    with pytest.raises(CannotGrade) as raised:
        grade_file(str(student), FAST)
    assert str(raised.value).startswith("layers.py and layers.ipynb both define relu_backward"), raised.value


# ----- zip uploads -----


def make_zip(path, members):
    """members: name -> text, or (text, unix mode) for a link."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, tuple):
                info = zipfile.ZipInfo(name)
                info.external_attr = content[1] << 16
                archive.writestr(info, content[0])
            else:
                archive.writestr(name, content)
    return str(path)


def test_a_zip_of_a_students_folder_grades_as_the_folder(tmp_path):
    upload = make_zip(
        tmp_path / "mary.zip",
        {
            "hw1/layers.py": RELU + "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n",
            "hw1/notes.txt": "x",
        },
    )
    report = grade_file(upload, FAST)
    assert report["passed"] and report["submission"] == upload


@pytest.mark.parametrize(
    "members,words",
    [
        ({"../evil.py": RELU}, "a path that leaves the submission's folder"),
        ({"/etc/evil.py": RELU}, "a path that leaves the submission's folder"),
        ({"a/../../evil.py": RELU}, "a path that leaves the submission's folder"),
        ({"layers.py": RELU, "link.py": ("/etc/passwd", stat.S_IFLNK | 0o777)}, "holds a link"),
    ],
)
def test_a_zip_whose_entries_leave_the_folder_or_link_out_is_refused(tmp_path, members, words):
    with pytest.raises(CannotGrade, match=words):
        grade_file(make_zip(tmp_path / "up.zip", members), FAST)
    assert not (tmp_path / "evil.py").exists() and not os.path.exists("/etc/evil.py")


@pytest.mark.parametrize(
    "members,words",
    [
        ({"hw/layers.py": RELU, "hw/layers.py/x.py": RELU}, "could not be unpacked"),  # a file, then a folder of it
        ({"/".join(["d"] * 3000) + "/layers.py": RELU}, "folders deep"),
        ({"a" * 300 + "/layers.py": RELU}, "a name of 300 characters"),
    ],
)
def test_a_zip_the_disk_cannot_hold_as_it_is_gets_one_sentence_and_a_report(tmp_path, members, words):
    upload = make_zip(tmp_path / "up.zip", members)
    with pytest.raises(CannotGrade, match=words) as refused:
        grade_file(upload, FAST)
    assert len(str(refused.value)) < 300, "one sentence, not the member's whole name"
    batch = tmp_path / "batch"
    batch.mkdir()
    os.replace(upload, batch / "up.zip")
    (batch / "right.py").write_text(RELU)
    out = tmp_path / "out"
    assert main(["grade", str(batch), "--batch", "--out", str(out), "--timeout", "5"]) == 1
    assert json.loads((out / "up.zip.json").read_text())["error"].startswith("up.zip")
    assert (out / "right.py.json").exists()


def test_a_zip_bomb_is_refused_before_it_fills_the_disk(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("layers.py", "w", force_zip64=True) as member:
            block = b"#" * (1 << 20)
            for _ in range(200):  # 200 MB of one byte, packed to about 200 KB
                member.write(block)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(CannotGrade, match="zip bomb|more than"):
        grade_file(str(bomb), FAST)


def test_a_zip_with_too_many_entries_or_not_a_zip_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(unzip_module, "MAX_MEMBERS", 3)
    with pytest.raises(CannotGrade, match="more than the 3"):
        grade_file(make_zip(tmp_path / "many.zip", {f"f{i}.py": "x = 1\n" for i in range(5)}), FAST)
    (tmp_path / "fake.zip").write_bytes(b"PK not really")
    with pytest.raises(CannotGrade, match="is not a readable zip file"):
        grade_file(str(tmp_path / "fake.zip"), FAST)


def test_a_batch_grades_notebooks_and_zips_beside_py_files(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "ann.py").write_text(RELU)
    notebook_file(batch, [RELU], name="bob.ipynb")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cy/layers.py", RELU)
    (batch / "cy.zip").write_bytes(buffer.getvalue())
    assert main(["grade", str(batch), "--batch", "--out", str(tmp_path / "out"), "--timeout", "5"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert {"ann.py.json", "bob.ipynb.json", "cy.zip.json"} <= set(names)


NOT_JSON = "it is not JSON: save the notebook from Jupyter again"


@pytest.mark.parametrize(
    "content,why",
    [
        (b"{ not json", NOT_JSON),
        (b'{"cells": "x"}', "its JSON is not in Jupyter's notebook format"),
        (b"[]", "its JSON is not in Jupyter's notebook format"),
        (b"\xff\xfe{", "it is not UTF-8 text"),
    ],
)
def test_an_unreadable_notebook_is_said_in_words_not_an_exceptions_name(tmp_path, content, why):
    path = tmp_path / "hw.ipynb"
    path.write_bytes(content)
    with pytest.raises(notebook.NotANotebook) as raised:
        notebook.read(str(path))
    assert str(raised.value).startswith(f"hw.ipynb is not a readable notebook ({why}"), raised.value
    assert "Error" not in str(raised.value)


def test_a_broken_notebook_beside_the_code_is_left_out_and_said(tmp_path, capsys):
    """An assignment folder's notebook that is not valid JSON never costs the student the .py files
    beside it; a folder of nothing but a broken notebook still cannot be graded."""
    folder = tmp_path / "assignment1"
    folder.mkdir()
    (folder / "layers.py").write_text(source("layers_student.py"))
    (folder / "two_layer_net.ipynb").write_text("{ not json")
    report = grade_file(str(folder), Options(timeout=5.0))
    assert report["passed"], [r["message"] for r in report["results"] if r["status"] != "pass"][:3]
    assert report["unreadable_notebooks"] == [f"two_layer_net.ipynb is not a readable notebook ({NOT_JSON})"]
    assert main(["grade", str(folder), "--timeout", "5"]) == 0
    assert (
        f"two_layer_net.ipynb is not a readable notebook ({NOT_JSON}): left out, the rest graded"
        in capsys.readouterr().out
    )
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "two_layer_net.ipynb").write_text("{ not json")
    with pytest.raises(CannotGrade, match="not a readable notebook"):
        grade_file(str(alone), Options(timeout=5.0))


def test_a_line_pointed_at_in_a_notebook_names_its_cell(both):
    results = both["layers_db_keepdims.ipynb.json"]["results"]
    pointed = [r for r in results if r.get("where")]
    assert pointed, [(r["name"], r["status"]) for r in results if r["status"] == "fail"]
    where = pointed[0]["where"]
    assert where["file"].endswith("layers_db_keepdims.ipynb") and isinstance(where["cell"], int)
    assert any(d.startswith("cell ") for d in pointed[0]["diagnosis"]), pointed[0]["diagnosis"]
    assert not any(".py`" in d or ".py " in d for d in pointed[0]["diagnosis"])


@pytest.mark.parametrize(
    "upload,words",
    [
        ("hw.ipynb", "once the code that loads data, trains, plots or tries the functions out is left out (2 cells)"),
        ("hw.py", "once the code that loads data, trains, plots or tries the functions out is left out (1 cell)"),
        ("hw.zip", "its files are empty (no code at all)"),
    ],
)
def test_a_refusal_names_the_upload_not_the_folder_it_was_unpacked_in(tmp_path, upload, words):
    if upload == "hw.ipynb":
        path = notebook_file(tmp_path, ["data = load_cifar10('datasets')", "plt.plot(data['X'])"])
    elif upload == "hw.py":
        path = tmp_path / upload
        path.write_text("# In[1]:\n\n\ndata = load_cifar10('datasets')\n")
    else:
        path = make_zip(tmp_path / upload, {"hw/layers.py": "# TODO\n"})
    with pytest.raises(CannotGrade) as raised:
        grade_file(str(path), FAST)
    assert str(raised.value).startswith(f"nothing to grade in {path}: {words}"), raised.value
    assert "gradref-staged" not in str(raised.value)
