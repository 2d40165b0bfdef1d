"""`gradref similar` (issue 39): code fingerprints that ignore names, comments, layout and statement
order; rare shared mistakes weigh more than common ones; the starter is subtracted; a planted copy of a
shipped example ranks above the independent examples; JSON, CSV and an HTML page with nothing to run."""

import json
import math
import os
import shutil

import pytest
from test_html_report import chromium, headless

from bench import obfuscate
from gradref import similar, similarity
from gradref.cli import main
from gradref.similar import grader_digest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")

AFFINE = """
def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db
"""


def test_fingerprints_ignore_names_comments_layout_and_statement_order():
    original = similarity.fingerprints(AFFINE)
    renamed = AFFINE.replace("dout", "g").replace("cache", "c").replace("dw", "grad_w")
    commented = AFFINE.replace("    dx =", "    # the input's gradient\n\n    dx =")
    reordered = AFFINE.replace(
        "    dw = x.reshape(x.shape[0], -1).T.dot(dout)\n    db = np.sum(dout, axis=0)\n",
        "    db = np.sum(dout, axis=0)\n    dw = x.reshape(x.shape[0], -1).T.dot(dout)\n",
    )
    for variant in (renamed, commented, reordered):
        assert set(similarity.fingerprints(variant)) == set(original)
    other = AFFINE.replace("np.sum(dout, axis=0)", "np.mean(dout, axis=0)")  # an operator or call is not a name
    assert set(similarity.fingerprints(other)) != set(original)


def test_the_starter_is_subtracted():
    starter = similarity.Document("starter", prints={"affine_backward": similarity.fingerprints(AFFINE)})
    student = similarity.Document("s", prints={"affine_backward": similarity.fingerprints(AFFINE + "\n")})
    similarity.subtract_starter([student], starter)
    assert student.prints["affine_backward"] == {}


def test_without_a_starter_the_courses_scaffolding_is_subtracted():
    """What every student keeps from the course's starter (out, cache = None, None; return dx, dw, db;
    an update rule's config defaults) is no evidence: the built-in starter takes it out of each function."""
    scaffold = "def affine_backward(dout, cache):\n    dx, dw, db = None, None, None\n    return dx, dw, db\n"
    kept = "def affine_backward(dout, cache):\n    dx, dw, db = None, None, None\n    dx = dout @ cache[1].T\n    return dx, dw, db\n"
    documents = [similarity.document_of(text, name) for name, text in (("a", scaffold), ("b", kept))]
    before = len(documents[1].prints["affine_backward"])
    similarity.subtract_starter(documents, similarity.builtin_starter())
    assert documents[0].prints["affine_backward"] == {}
    assert 0 < len(documents[1].prints["affine_backward"]) < before  # its own line stays
    starter = similarity.builtin_starter()
    assert {"conv_forward_naive", "batchnorm_backward", "softmax_loss", "adam"} <= set(starter.sources)


def _report(*fingerprints, mistakes=("generic",)):
    checks = [{"name": "dx [small]", "passed": False, "fingerprint": f} for f in fingerprints]
    result = {"name": "relu_backward", "status": "fail", "checks": checks, "mistakes": list(mistakes)}
    return {"results": [result]} if fingerprints else {}


def test_a_rare_shared_mistake_weighs_more_than_a_common_one():
    reports = {f"s{i}": _report("common") if i < 6 else _report() for i in range(10)}  # half the class
    reports.update({"r1": _report("rare"), "r2": _report("rare")})
    pairs = {(p["a"], p["b"]): p for p in similarity.score_pairs([], reports)}
    rare, common = pairs[("r1", "r2")], pairs[("s0", "s1")]
    assert rare["behaviour"] > 3 * common["behaviour"] > 0
    assert "2 of 12 students" in rare["functions"][0]["shared_result"]
    assert ("s6", "s7") not in pairs and all(p["code"] == 0 for p in pairs.values())  # right results weigh nothing


def test_a_mistake_the_catalogue_names_is_no_rare_evidence_however_few_made_it():
    # Two of 42 made the same wrong result: one a mistake the catalogue lists (students make it on their
    # own), the other a wrong value nothing names (a constant of their own, say).
    reports = {f"s{i}": _report() for i in range(34)}
    reports.update({n: _report("kdim", mistakes=["db_keepdims"]) for n in ("k1", "k2")})
    reports.update({n: _report("near", mistakes=[]) for n in ("n1", "n2")})
    for name in ("n1", "n2"):  # right but for a k-dimensional x: a near miss, named as well as any
        reports[name]["results"][0]["near_miss"] = "kdim_only"
    reports.update({n: _report("own", mistakes=["generic", "first_wrong_value"]) for n in ("o1", "o2")})
    # A margin of their own (3.2, say): the catalogue names it, but the constant is theirs.
    reports.update({n: _report("margin", mistakes=["margin_not_one"]) for n in ("m1", "m2")})
    pairs = {(p["a"], p["b"]): p for p in similarity.score_pairs([], reports)}
    named, near, own = pairs[("k1", "k2")], pairs[("n1", "n2")], pairs[("o1", "o2")]
    assert pairs[("m1", "m2")]["behaviour"] == pytest.approx(math.log2(41), abs=1e-3)
    assert (
        named["behaviour"] == near["behaviour"] == pytest.approx(-math.log2(similarity.NAMED_MISTAKE_CHANCE), abs=1e-3)
    )
    assert own["behaviour"] == pytest.approx(math.log2(41), abs=1e-3) and own["behaviour"] > 1.5 * named["behaviour"]
    assert "catalogue lists" in named["functions"][0]["shared_result"]
    assert "catalogue" not in own["functions"][0]["shared_result"]


def test_a_public_solutions_wrong_results_count_in_how_rare_a_shared_one_is():
    reports = {f"s{i}": _report() for i in range(8)}
    reports.update({"r1": _report("rare"), "r2": _report("rare"), "o": _report("own")})
    alone = {(p["a"], p["b"]): p for p in similarity.score_pairs([], reports)}
    public = [similarity.Document(f"pub/{n}.py", public=True) for n in ("p0", "p1", "p2")]
    public[0].behaviour = public[1].behaviour = similarity.behaviour_keys(_report("rare"))
    public[2].behaviour = similarity.behaviour_keys(_report("own"))
    pairs = {(p["a"], p["b"]): p for p in similarity.score_pairs(public, reports)}
    # Two public files make it too: 4 of 14 hold it, no longer 2 of 11.
    assert alone[("r1", "r2")]["behaviour"] == pytest.approx(math.log2(10), abs=1e-3)
    assert pairs[("r1", "r2")]["behaviour"] == pytest.approx(math.log2(13 / 3), abs=1e-3)
    said = pairs[("r1", "r2")]["functions"][0]["shared_result"]
    assert "2 of 11 students and 2 of 3 public files hold" in said
    # A result one student shares with one public file only: the match names the file.
    own = pairs[("o", "pub/p2.py")]
    assert own["public"] and own["behaviour"] == pytest.approx(math.log2(13), abs=1e-3)
    assert ("pub/p0.py", "pub/p1.py") not in pairs  # two public files are nobody's pair


def test_public_files_are_graded_once_and_again_when_the_grader_changes(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    shutil.copy(os.path.join(EXAMPLES, "layers_correct.py"), public / "a.py")
    shutil.copy(os.path.join(EXAMPLES, "my_layers.py"), public / "b.py")
    paths, graded = [str(public / "a.py"), str(public / "b.py")], []

    def grade(todo):
        graded.append(list(todo))
        return {todo[0]: _report("rare")}  # the second cannot be graded: it has no wrong results

    first = similarity.read_public(paths, str(tmp_path / "index"), grade, "v1")
    again = similarity.read_public(paths, str(tmp_path / "index"), grade, "v1")
    assert graded == [paths] and [d.behaviour for d in again] == [d.behaviour for d in first]
    assert first[0].behaviour == similarity.behaviour_keys(_report("rare")) and first[1].behaviour == {}
    similarity.read_public(paths, str(tmp_path / "index"), grade, "v2")  # another grader: graded again
    assert graded == [paths, paths]
    assert grader_digest("eecs498-a3") == grader_digest("eecs498-a3") != grader_digest("")
    assert all(d.behaviour is None for d in similarity.read_public(paths, str(tmp_path / "index")))


def _wrong(function, fingerprint):
    check = {"name": "out [small]", "passed": False, "fingerprint": fingerprint}
    return {"name": function, "status": "fail", "checks": [check], "mistakes": ["generic"]}


def test_a_wrong_forward_and_the_backward_it_breaks_are_one_mistake_not_two():
    """A wrong forward hands its backward a wrong cache: the pair that shares both shares one mistake.
    Two ops that are each wrong are two."""
    reports = {f"s{i}": {} for i in range(30)}
    one_op = [_wrong("affine_forward", "f"), _wrong("affine_backward", "b")]
    two_ops = [_wrong("affine_backward", "b2"), _wrong("relu_backward", "r2")]
    reports.update({n: {"results": one_op} for n in ("a1", "a2")})
    reports.update({n: {"results": two_ops} for n in ("t1", "t2")})
    pairs = {(p["a"], p["b"]): p for p in similarity.score_pairs([], reports)}
    bits = math.log2(33)  # 2 of 34 students share each wrong result
    assert pairs[("a1", "a2")]["behaviour"] == pytest.approx(bits, abs=1e-3)
    assert pairs[("t1", "t2")]["behaviour"] == pytest.approx(2 * bits, abs=1e-3)
    assert {f["name"] for f in pairs[("a1", "a2")]["functions"]} == {"affine_forward", "affine_backward"}
    assert [similarity.op_of(n) for n in ("conv_backward_naive", "Linear.forward", "svm_loss_naive")] == [
        "conv",
        "Linear",
        "svm_loss_naive",
    ]


def test_one_function_copied_mistake_and_all_outranks_a_little_shared_in_many_ops():
    """Honest students who write alike share a little in many ops; a copier who rewrote everything but
    one function shares much in that one. Read as copied in part (each op copied with chance PART),
    the one function stands out; a sum over ops would rank the honest pair first (15 bits to 9)."""
    one, how_one = similarity.reading({"svm_loss": 9.0}, apart=9)  # the other nine ops rewritten
    many, how_many = similarity.reading(dict.fromkeys(["affine", "relu", "conv", "dropout", "adam"], 3.0), apart=5)
    assert how_one == how_many == "part" and one > many > 0
    part = similarity.PART
    assert one == pytest.approx(math.log2(part * 2**9 + 1 - part), abs=1e-9)


def test_a_whole_copy_is_read_whole_and_each_op_written_apart_counts_against_it():
    ten = ["affine", "relu", "conv", "dropout", "adam", "svm_loss", "softmax_loss", "batchnorm", "max_pool", "sgd"]
    whole, how = similarity.reading(dict.fromkeys(ten, 3.0))
    assert how == "whole" and whole == pytest.approx(30.0)
    eight, how = similarity.reading(dict.fromkeys(ten[:8], 3.0), apart=2)
    assert how == "whole" and eight == pytest.approx(24.0 + 2 * math.log2(similarity.WHOLE_MISS))


RELU_OWN = """
def relu_backward(dout, cache):
    return dout * (cache > {})
"""


def test_an_op_both_wrote_apart_counts_against_a_whole_copy_and_one_written_alike_does_not():
    """Two students who write affine_backward alike and relu_backward each their own way look less
    like a whole copy than two who write both alike, however common relu's one form is."""
    others = [similarity.document_of(f"def affine_backward(d, c):\n    return d * {i}\n", f"s{i}") for i in range(8)]
    alike = [similarity.document_of(AFFINE + RELU_OWN.format(0), n) for n in ("a1", "a2")]
    apart = [similarity.document_of(AFFINE + RELU_OWN.format(k), n) for n, k in (("p1", "-1"), ("p2", "x.T"))]
    pairs = {(p["a"], p["b"]): p for p in similarity.score_pairs(others + alike + apart, {})}
    same, different = pairs[("a1", "a2")], pairs[("p1", "p2")]
    assert same["reading"] == "whole" and same["score"] == pytest.approx(same["code"], abs=1e-3)
    assert different["score"] < different["code"] and different["score"] < same["score"]


RELU = """
def relu_backward(dout, cache):
    mask = (cache > 0).astype(dout.dtype)
    grad = dout * mask
    return grad
"""
FORWARD = """
def affine_forward(x, w, b):
    flat = x.reshape(x.shape[0], -1)
    scores = flat.dot(w) + b
    return scores, (x, w, b)
"""


def test_an_ops_forward_and_backward_in_one_style_are_one_coincidence_of_code_not_two():
    """Two students who write an op's forward and backward alike share one choice of style: the pair's
    code score is the larger of the two functions', not their sum; two ops shared are two."""
    own = "def {}(a, b, c=None):\n    return a {} b\n"  # twenty other students, each with versions of their own
    others = [
        similarity.document_of(
            "\n".join(own.format(f, op) for f in ("affine_forward", "affine_backward", "relu_backward")), f"s{i}"
        )
        for i, op in enumerate(["+", "-", "*", "/", "//", "%", "**", "@", "<", ">"] * 2)
    ]
    one_op = [similarity.document_of(FORWARD + AFFINE, n) for n in ("a1", "a2")]
    two_ops = [similarity.document_of(AFFINE + RELU, n) for n in ("t1", "t2")]
    pairs = {(p["a"], p["b"]): p for p in similarity.score_pairs(others + one_op + two_ops, {})}
    one, two = pairs[("a1", "a2")], pairs[("t1", "t2")]
    by_function = {f["name"]: f["code"] for f in one["functions"]}
    assert by_function["affine_forward"] > 0 and by_function["affine_backward"] > 0
    assert one["code"] == pytest.approx(max(by_function.values()), abs=1e-3)
    by_function = {f["name"]: f["code"] for f in two["functions"]}
    assert two["code"] == pytest.approx(by_function["affine_backward"] + by_function["relu_backward"], abs=1e-3)


@pytest.fixture(scope="module")
def shipped_class(tmp_path_factory):
    """The shipped examples as a class, with a copy of one planted under every obfuscation at once."""
    folder = tmp_path_factory.mktemp("similar") / "class"
    shutil.copytree(EXAMPLES, folder)
    with open(os.path.join(EXAMPLES, "layers_buggy.py")) as handle:
        source = handle.read()
    (folder / "zz_copied.py").write_text("import numpy as np\n" + obfuscate.all_of_them(source, 7))
    out = folder.parent / "out"
    out.mkdir()
    code = main(
        [
            "similar",
            str(folder),
            "--json",
            str(out / "pairs.json"),
            "--csv",
            str(out / "pairs.csv"),
            "--html",
            str(out / "pairs.html"),
            "--jobs",
            "2",
        ]
    )
    assert code == 0
    return json.loads((out / "pairs.json").read_text()), out


def test_a_planted_copy_of_an_example_is_the_top_pair(shipped_class):
    report, _ = shipped_class
    first = report["pairs"][0]
    assert {first["a"], first["b"]} == {"layers_buggy.py", "zz_copied.py"}, report["pairs"][:3]
    # A copy of the whole file shares evidence in every op: read as copied whole, it scores all of it.
    assert (
        first["behaviour"] > 0
        and first["code"] > 0
        and first["reading"] == "whole"
        and first["score"] == pytest.approx(first["behaviour"] + first["code"], abs=1e-2)
    )
    assert [p["score"] for p in report["pairs"]] == sorted((p["score"] for p in report["pairs"]), reverse=True)
    driving = first["functions"][0]
    assert driving["lines"]["zz_copied.py"] and driving["lines"]["layers_buggy.py"]


def test_the_page_has_no_script_escapes_everything_and_marks_the_matching_lines(shipped_class):
    _, out = shipped_class
    page = (out / "pairs.html").read_text()
    assert "<script" not in page.lower() and "Content-Security-Policy" in page
    assert "<mark>" in page and "never a verdict" in page
    assert "The evidence is spread over the ops both wrote." in page  # the top pair's reading, in words
    assert (out / "pairs.csv").read_text().startswith("a,b,score,behaviour,code,functions,reading\n")


def test_public_solutions_are_compared_and_named_by_their_path(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(os.path.join(EXAMPLES, "layers_correct.py"), folder / "alice.py")
    shutil.copy(os.path.join(EXAMPLES, "my_layers.py"), folder / "bob.py")
    public = tmp_path / "public" / "repo"
    public.mkdir(parents=True)
    with open(os.path.join(EXAMPLES, "layers_correct.py")) as handle:
        (public / "layers.py").write_text("import numpy as np\n" + obfuscate.renamed(handle.read(), 3))
    out = tmp_path / "pairs.json"
    assert main(["similar", str(folder), "--against", str(tmp_path / "public"), "--json", str(out), "--jobs", "1"]) == 0
    first = json.loads(out.read_text())["pairs"][0]
    assert {first["a"], first["b"]} == {"alice.py", str(public / "layers.py")}
    assert first["public"] is True


def test_bad_input_is_one_sentence_and_exit_2(tmp_path, capsys, monkeypatch):
    assert main(["similar", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "c").mkdir()
    shutil.copy(os.path.join(EXAMPLES, "my_layers.py"), tmp_path / "c" / "a.py")
    assert main(["similar", str(tmp_path / "c"), "--starter", str(tmp_path / "missing.py")]) == 2
    assert "--starter" in capsys.readouterr().err
    graded = []
    monkeypatch.setattr(similar, "_reports", lambda *a: graded.append(a) or {})
    assert main(["similar", str(tmp_path / "c"), "--against", str(tmp_path / "missing")]) == 2
    assert "--against" in capsys.readouterr().err and graded == []  # said before anything is graded


def test_a_batch_with_similar_lists_the_pairs_on_the_class_page_under_pseudonyms(tmp_path):
    folder = tmp_path / "class"
    shutil.copytree(EXAMPLES, folder)
    with open(os.path.join(EXAMPLES, "layers_buggy.py")) as handle:
        (folder / "zz_copied.py").write_text("import numpy as np\n" + obfuscate.renamed(handle.read(), 1))
    out, page = tmp_path / "reports", tmp_path / "class.html"
    args = ["grade", str(folder), "--batch", "--similar", "--out", str(out), "--html", str(page), "--jobs", "2"]
    assert main(args + ["--anonymise"]) in (0, 1)
    first = json.loads((out / "similar.json").read_text())["pairs"][0]
    assert {first["a"], first["b"]} == {"layers_buggy.py", "zz_copied.py"}
    text = page.read_text()
    assert "Similar pairs" in text and "never a verdict" in text
    assert "zz_copied" not in text and "layers_buggy" not in text  # --anonymise holds there too


def test_the_public_folder_is_indexed_once(tmp_path, monkeypatch):
    public = tmp_path / "public"
    public.mkdir()
    shutil.copy(os.path.join(EXAMPLES, "layers_correct.py"), public / "a.py")
    shutil.copy(os.path.join(EXAMPLES, "my_layers.py"), public / "b.py")
    paths = [str(public / "a.py"), str(public / "b.py")]
    first = similarity.read_public(paths, str(tmp_path / "index"))
    read = []
    monkeypatch.setattr(similarity, "read_document", lambda *a, **k: read.append(a) or similarity.Document(a[1]))
    again = similarity.read_public(paths, str(tmp_path / "index"))
    assert read == [] and [d.prints for d in again] == [d.prints for d in first]
    assert again[0].sources == first[0].sources and all(d.public for d in again)
    (public / "b.py").write_text("def relu_forward(x):\n    return x, x\n")  # changed: read again
    similarity.read_public(paths, str(tmp_path / "index"))
    assert [a[0] for a in read] == [str(public / "b.py")]


@pytest.mark.skipif(not chromium(), reason="needs Chromium (make installs it: apt-get install chromium)")
def test_the_shipped_examples_with_two_planted_copies_top_the_page_in_chromium(tmp_path):
    import subprocess

    folder = tmp_path / "class"
    shutil.copytree(EXAMPLES, folder)
    for name, original, obfuscation in (
        ("copy_a.py", "layers_buggy.py", lambda text: obfuscate.all_of_them(text, 1)),
        ("copy_b.py", "my_layers.py", lambda text: obfuscate.commented(obfuscate.renamed(text, 2))),
    ):
        with open(os.path.join(EXAMPLES, original)) as handle:
            (folder / name).write_text("import numpy as np\n" + obfuscation(handle.read()))
    page = tmp_path / "pairs.html"
    assert main(["similar", str(folder), "--html", str(page), "--json", str(tmp_path / "p.json"), "--jobs", "2"]) == 0
    top = [{p["a"], p["b"]} for p in json.loads((tmp_path / "p.json").read_text())["pairs"][:2]]
    assert top == [{"copy_a.py", "layers_buggy.py"}, {"copy_b.py", "my_layers.py"}]
    browser = headless(tmp_path / "profile")
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    rows = dom.split('<table id="pairs">')[1].split("</table>")[0].split("<tr>")[2:4]
    assert "copy_a.py" in rows[0] and "layers_buggy.py" in rows[0], rows
    assert "copy_b.py" in rows[1] and "my_layers.py" in rows[1], rows
    shot = tmp_path / "pairs.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=1300,1100", page.as_uri()], capture_output=True, timeout=120
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("GRADREF_SCREENSHOTS"):  # docs/images/similar.png: GRADREF_SCREENSHOTS=docs/images
        shutil.copy(shot, os.path.join(os.environ["GRADREF_SCREENSHOTS"], "similar.png"))


def test_functions_are_cut_out_as_ast_would_cut_them():
    """functions_of splits the text once: the sources are what ast.get_source_segment gives, with
    non-ASCII text, Windows line ends, a form feed and methods."""
    import ast

    text = (
        "import numpy as np\r\n\r\ndef relu_backward(dout, cache):\r\n    s = 'é → ∂'\r\n    return dout * (cache > 0)  # ∂\r\n"
        "\x0c\nclass Linear:\n    def forward(x, w):  # ü\n        return x @ w, (x, w)\n\n"
        "def affine_forward(x, w, b): return x.reshape(len(x), -1) @ w + b, 'ß'\n"
    )
    tree = ast.parse(text)
    nodes = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    nodes["Linear.forward"] = next(n for n in tree.body if isinstance(n, ast.ClassDef)).body[0]
    found = similarity.functions_of(text)
    assert set(found) == set(nodes)
    for name, node in nodes.items():
        assert found[name] == (ast.get_source_segment(text, node), node.lineno), name
