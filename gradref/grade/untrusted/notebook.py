"""Notebook submissions: the code of an .ipynb that a layers.py would hold, as a .py file.

A notebook is read with nbformat. Its code cells are taken statement by statement: imports, function
and class definitions and assignments that call nothing (constants) are kept; everything else (a
cell that trains, plots, loads data, downloads, mounts a drive, or checks a function by calling it)
is left out. IPython magics and shell escapes (`%matplotlib inline`, `!pip install ...`) are
blanked first, and a cell that still does not parse is left out whole. The kept statements keep
their cells' order; each line of the .py knows its cell and line, so every message names the cell
(its number and first line) instead of a line of a file nobody wrote.
"""

import ast
import builtins
import copy
import os
import re
from dataclasses import dataclass, field

MAGIC = re.compile(r"^\s*(%|!|[A-Za-z_][A-Za-z0-9_]*\s*=\s*[!%])")
MAX_NOTEBOOK_BYTES = 8 << 20  # outputs (plots) make notebooks far larger than their code
# Parsing costs about 500 bytes of the grader's memory per byte of source: each cell is measured before
# it is parsed, and the code taken from a notebook is held to what a .py file may hold.
MAX_CELL_BYTES = 256 << 10
MAX_CODE_BYTES = 1 << 20


class NotANotebook(ValueError):
    """The file is no readable notebook; the message is one sentence."""


@dataclass
class Cell:
    number: int  # 1-based, counting every cell as the notebook shows them
    first_line: str

    def label(self):
        return f"cell {self.number} ('{self.first_line}')"


@dataclass
class Converted:
    """A notebook's gradable code as a .py source, and how to say where a line came from."""

    source: str
    lines: list  # (Cell, line in the cell) for each line of `source`
    cell_of: dict  # defined name -> the Cell that defines it
    left_out: list  # (Cell, why) for each cell left out, or partly left out
    needs: dict = field(default_factory=dict)  # defined name -> the sentence on a left-out cell it uses

    def where(self, line):
        """'cell 4 ('def affine_forward(x, w, b):'), line 3' for a line of the .py."""
        if 1 <= line <= len(self.lines):
            cell, inner = self.lines[line - 1]
            return f"{cell.label()}, line {inner}"
        return f"line {line}"


def read(path):
    """The notebook at `path` (nbformat's NotebookNode); NotANotebook when it is not one."""
    import nbformat  # here, not at the top: grading a .py file never pays for it

    if os.path.getsize(path) > MAX_NOTEBOOK_BYTES:
        raise NotANotebook(
            f"{os.path.basename(path)} is over {MAX_NOTEBOOK_BYTES >> 20} MB, more than a notebook of code"
        )
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds on a broken file
        raise NotANotebook(f"{os.path.basename(path)} is not a readable notebook ({_why_unreadable(error)})") from None


def _why_unreadable(error):
    """What is wrong with a file nbformat cannot read, in words rather than an exception's name."""
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if type(error).__name__ in ("NotJSONError", "JSONDecodeError"):
        return "it is not JSON: save the notebook from Jupyter again"
    return "its JSON is not in Jupyter's notebook format: save it from Jupyter again"


def _first_line(text):
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _blank_magics(text):
    """The cell with IPython magic and shell lines blanked (line numbers kept); None for a cell magic."""
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return None
    return "\n".join("" if MAGIC.match(line) else line for line in lines)


def _calls_something(node):
    return any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(node))


BUILTIN_NAMES = frozenset(dir(builtins))


def _kept(node, bound):
    """Whether a top-level statement is what a layers.py holds: imports, definitions, and constants
    (assignments that call nothing and read only names the kept code binds). Costs the statement's
    own size, never the size of what came before (a notebook of many constants stays linear)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        read = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        return not _calls_something(node.value) and all(n in bound or n in BUILTIN_NAMES for n in read)
    return False


def _assigned(node):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _globals_used(node):
    """Names a definition reads that it does not bind itself (its arguments, locals, builtins aside)."""
    bound = {
        a.arg
        for n in ast.walk(node)
        if isinstance(n, ast.arguments)
        for a in (
            *n.posonlyargs,
            *n.args,
            *n.kwonlyargs,
            *([n.vararg] if n.vararg else []),
            *([n.kwarg] if n.kwarg else []),
        )
    }
    bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {n.name for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n is not node}
    loaded = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - bound - BUILTIN_NAMES


def convert(notebook):
    """The notebook's gradable code (see the module docstring) as a Converted."""
    out, lines, cell_of, left_out, left_names, bound, definitions = [], [], {}, [], {}, set(), []
    parsed = 0
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        this = Cell(number, _first_line(cell.source))
        size = len(cell.source.encode("utf-8", "surrogateescape"))
        if size > MAX_CELL_BYTES:
            left_out.append(
                (this, f"it is {size >> 10} KB, over the {MAX_CELL_BYTES >> 10} KB a cell of code may hold")
            )
            continue
        parsed += size
        if parsed > MAX_CODE_BYTES:
            left_out.append(
                (this, f"the cells before it already hold {MAX_CODE_BYTES >> 20} MB of code, all a notebook may")
            )
            continue
        text = _blank_magics(cell.source)
        if text is None:
            left_out.append((this, "a cell magic runs it"))
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            left_out.append((this, f"it has a syntax error on its line {error.lineno}: {error.msg}"))
            continue
        cell_lines = text.splitlines()
        dropped = kept = False
        for node in tree.body:
            if not _kept(node, bound):
                dropped = True
                for name in _assigned(node):
                    left_names.setdefault(name, this)
                continue
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            for inner in range(start, node.end_lineno + 1):
                out.append(cell_lines[inner - 1])
                lines.append((this, inner))
            kept = True
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                definitions.append(node)
            for name in _assigned(node):
                cell_of[name] = this
                bound.add(name)
        if dropped:
            runs = "runs code (loads data, trains, plots or checks by calling)"
            left_out.append((this, f"its statements that {runs} were left out" if kept else f"it {runs}"))
    converted = Converted("\n".join(out) + "\n", lines, cell_of, left_out)
    _note_needs(converted, definitions, bound, left_names)
    return converted


def _note_needs(converted, definitions, kept, left_names):
    """For each kept definition that reads a name only a left-out statement binds (not one the kept
    code binds as well): one sentence."""
    for node in definitions:
        missing = sorted(n for n in _globals_used(node) if n not in kept and n in left_names)
        if missing:
            cell = left_names[missing[0]]
            converted.needs[node.name] = (
                f"{node.name} uses {missing[0]}, which only {cell.label()} defines, and that cell was left out "
                "because it runs code: define it in a cell of imports, functions and constants"
            )


LINE_OF_FILE = r"line (\d+) of {name}"


def relabel(text, name, converted):
    """A message with 'line N of name.py' said as the notebook's cell and line."""
    return re.sub(LINE_OF_FILE.format(name=re.escape(name)), lambda m: converted.where(int(m.group(1))), text)


def annotate(notebook, converted, report):
    """A copy of the notebook with a feedback cell after each graded function's defining cell."""
    import nbformat

    annotated = copy.deepcopy(notebook)
    by_cell = {}
    for result in report.get("results", []):
        cell = converted.cell_of.get(result["name"])
        if cell is not None and result["status"] != "missing":
            by_cell.setdefault(cell.number, []).append(result)
    for number in sorted(by_cell, reverse=True):  # from the end, so that the numbers stay right
        text = "\n".join(_feedback_line(r) for r in by_cell[number])
        annotated.cells.insert(number, nbformat.v4.new_markdown_cell(text, metadata={"gradref": True}))
    return annotated


def _feedback_line(result):
    """A feedback cell's text. The message quotes what the student wrote (an exception's text, code), so
    it goes in a fenced block longer than any run of backticks in it: Markdown shows it as text, never
    as HTML, a link, an image or a line of gradref's own."""
    points = f" ({result['points']:g}/{result['max_points']:g})" if "points" in result else ""
    status = str(result["status"])
    status = f"**{status}**" if status.replace(" ", "").isalpha() else _code_span(status)
    message = str(result.get("message", ""))
    fence = "`" * max(3, 1 + _longest_backticks(message))
    return f"**gradref** {_code_span(str(result['name']))}{points}: {status}\n\n{fence}text\n{message}\n{fence}\n"


def _longest_backticks(text):
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code_span(text):
    """`text` as a Markdown code span whatever backticks it holds."""
    ticks = "`" * (1 + _longest_backticks(text))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"
