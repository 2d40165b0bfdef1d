"""README and docs/: every code block runs as printed, and the generated pages are in step with the code.

A fenced block says what it is by its language:
- `python`: run as a script; one whose first line is `# NAME.py` is written as that file instead, for the
  `console` blocks after it to use;
- `console`: each `$ COMMAND` line runs in a folder holding a copy of examples/ and the files above it;
  it must run (no exit 2, no traceback), and every word of the output printed under it must appear in
  its real output (numbers, column widths and timings may differ; so may the isolation's name);
- `sh`: `make TARGET` lines are dry-run (`make -n TARGET`); other lines run as commands;
- `toml`: parsed; one with `name` and `functions` is loaded as an assignment spec;
- `text`: not code (a synopsis, a formula, a JSON shape, output measured on another machine); a
  synopsis line `gradref COMMAND [...]` may name only options that command has.
"""

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import once_per_session

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
KINDS = ("python", "console", "sh", "toml", "text")
FILE_LINE = re.compile(r"#\s*([\w.-]+\.py)\s*$")
WORD = re.compile(r"[A-Za-z_][A-Za-z_']+")
MACHINE_WORDS = {"bwrap", "process"}  # the isolation this machine gives: named in the output, not in a rule
COMMAND_TIMEOUT_S = 600


def fenced_blocks(path):
    """(language, body, line number) of every fenced block in a Markdown file."""
    text = path.read_text()
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


BLOCKS = [(path, *block) for path in DOCUMENTS for block in fenced_blocks(path)]


def block_id(path, line):
    return f"{path.relative_to(ROOT)}:{line}"


def blocks_of(kind, keep=lambda body: True):
    """Test parameters (path, line, body) for the blocks of one kind, each named by its file and line."""
    return [pytest.param(p, n, b, id=block_id(p, n)) for p, lang, b, n in BLOCKS if lang == kind and keep(b)]


def written_as(body):
    """The file name a python block is written as (its first line `# NAME.py`), else None."""
    match = FILE_LINE.fullmatch(body.split("\n", 1)[0].strip())
    return match.group(1) if match else None


def files_before(path, line):
    """{name: text} of the `# NAME.py` python blocks above `line` in the same document."""
    return {
        written_as(body): body
        for language, body, at in fenced_blocks(path)
        if at < line and language == "python" and written_as(body)
    }


def run_in_workdir(tmp_path_factory, command, files):
    """Run `command` (bash) once per test session in a folder with examples/ and `files`; the result
    {"code", "output"} is shared by every test (and xdist worker) that asks for the same command."""
    key = hashlib.sha256(repr((command, sorted(files.items()))).encode()).hexdigest()[:16]

    def compute(folder):
        work = folder / "work"
        shutil.copytree(ROOT / "examples", work / "examples")
        for name, text in files.items():
            (work / name).write_text(text)
        # As a new user's shell after the README's `. .venv/bin/activate`, in a copy of the repository
        # root's examples/: nothing else on the import path, so a block that only works inside
        # examples/ fails here as it would for them.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env["VIRTUAL_ENV"], env["COLUMNS"] = str(Path(sys.executable).parent.parent), "130"
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        return {"code": proc.returncode, "output": proc.stdout + proc.stderr}

    return once_per_session(tmp_path_factory, f"doc-{key}", compute)


def console_steps(body):
    """(command, printed output) for each `$ ` line of a console block."""
    steps = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:].split("  #")[0].strip(), []])
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(printed)) for command, printed in steps]


def missing_words(printed, output):
    want = set(WORD.findall(printed)) - MACHINE_WORDS
    return sorted(want - set(WORD.findall(output)))


def test_every_block_says_what_it_is():
    untagged = [block_id(path, line) for path, language, _, line in BLOCKS if language not in KINDS]
    assert untagged == [], f"give these blocks one of {KINDS}: {untagged}"


@pytest.mark.parametrize("path, line, body", blocks_of("console"))
def test_console_block_runs_as_printed(tmp_path_factory, path, line, body):
    steps = console_steps(body)
    assert steps, "a console block shows at least one `$ COMMAND`"
    for command, printed in steps:
        result = run_in_workdir(tmp_path_factory, command, files_before(path, line))
        assert result["code"] != 2 and "Traceback" not in result["output"], (command, result["output"][-3000:])
        assert missing_words(printed, result["output"]) == [], (command, result["output"][-3000:])


@pytest.mark.parametrize("path, line, body", blocks_of("python", lambda b: not written_as(b)))
def test_python_block_runs(tmp_path_factory, path, line, body):
    files = {**files_before(path, line), "doc_block.py": body}
    result = run_in_workdir(tmp_path_factory, f"{sys.executable} doc_block.py", files)
    assert result["code"] == 0, result["output"][-3000:]


@pytest.mark.parametrize("path, line, body", blocks_of("sh"))
def test_shell_block_runs(path, line, body):
    for command in filter(None, (c.split("#")[0].strip() for c in body.splitlines())):
        words = command.split()
        if words[0] == "make":
            proc = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
        else:
            proc = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])


@pytest.mark.parametrize("path, line, body", blocks_of("toml"))
def test_toml_block_is_valid(tmp_path, path, line, body):
    from gradref.grade.course import assignments

    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(body)
    if "functions" in body and "name" in body:
        spec = assignments.load(str(spec_file))
        assert spec.items, "the spec names functions"


def _options_of(command):
    from gradref.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return set(sub.choices[command]._option_string_actions)


def synopses(body):
    """(subcommand, options named) for each `gradref SUB [...]` line and its indented continuation."""
    found, current = [], None
    for line in body.splitlines():
        words = line.split()
        if line.startswith("gradref ") and len(words) > 1 and not words[1].startswith("-"):
            current = [words[1], set()]
            found.append(current)
        elif not line.startswith(" "):
            current = None
        if current is not None:
            current[1].update(re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", line.split("#")[0]))
    return found


@pytest.mark.parametrize("path, line, body", blocks_of("text", lambda b: "gradref " in b))
def test_synopsis_names_real_options(path, line, body):
    for command, options in synopses(body):
        unknown = sorted(options - _options_of(command))
        assert unknown == [], f"gradref {command} has no {unknown}"


def test_generated_pages_are_in_step_with_the_code():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for name, page in generate.PAGES.items():
        assert (ROOT / "docs" / name).read_text() == page(), f"docs/{name} is stale: run python docs/generate.py"


def test_every_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    unlinked = [p.name for p in DOCUMENTS[1:] if f"docs/{p.name}" not in readme]
    assert unlinked == []


# ----- the checks above can fail -----


def test_a_word_the_output_lacks_is_caught():
    assert missing_words("4 passed, 0 failed", "4 passed, 0 failed") == []
    assert missing_words("4 passed, 0 failed", "4 passed, 0 broken") == ["failed"]


def test_a_synopsis_with_an_option_that_does_not_exist_is_caught():
    ((command, options),) = synopses("gradref check [--op NAME] [--colour]\n              [--dtype X]")
    assert command == "check" and options - _options_of("check") == {"--colour"}
