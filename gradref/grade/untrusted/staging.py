"""What is graded: a .py file or a folder as it is; a notebook, a zip upload, or a folder holding
notebooks, first turned into .py files in a private temporary folder (notebook.py, unzip.py). A zip
is unpacked only as the upload itself, never from inside a folder or another zip (one zip, one set
of caps).
"""

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from . import notebook as nb
from . import unzip
from .refusal import CannotGrade
from .sandbox import python_files

SUFFIXES = (".py", ".ipynb", ".zip")  # what a submission may be


@dataclass
class Staged:
    """The path to grade, and for each .py made from a notebook: (the notebook's own relative path,
    nb.Converted, the notebook)."""

    path: str
    notebooks: dict = field(default_factory=dict)
    unreadable: list = field(default_factory=list)  # "name.ipynb is not a readable notebook (...)" left out

    def original(self, rel):
        """The student's own name for a file of the staged submission."""
        return self.notebooks[rel][0] if rel in self.notebooks else rel


def gradable_suffix(path):
    return path.endswith(SUFFIXES)


@contextlib.contextmanager
def staged(path):
    """A Staged submission; CannotGrade with one sentence for a notebook or zip that cannot be read."""
    lone = os.path.isfile(path) and not os.path.islink(path)
    cells = _exported(path) if lone and path.endswith(".py") else None  # read once, here
    if lone and not path.endswith((".ipynb", ".zip")) and cells is None:
        yield Staged(path)
        return
    if not lone and not (os.path.isdir(path) and not os.path.islink(path) and _holds_notebooks(path)):
        yield Staged(path)
        return
    with tempfile.TemporaryDirectory(prefix="gradref-staged-") as scratch:
        root = os.path.join(scratch, _folder_name(path))
        if lone and path.endswith(".zip"):
            unzip.unpack(path, root)
            yield _stage_folder(_single_entry(root))
        elif lone and path.endswith(".ipynb"):
            os.makedirs(root)
            yield _stage_notebook(path, root)
        elif lone:  # a .py exported from a notebook
            os.makedirs(root)
            stage = Staged(os.path.join(root, os.path.basename(path)))
            _write_converted(stage, root, os.path.basename(path), cells)
            yield stage
        else:
            _copy_code(path, root)
            yield _stage_folder(root)


def _folder_name(path):
    base = os.path.basename(os.path.normpath(path))
    return os.path.splitext(base)[0] if base.endswith((".zip", ".ipynb")) else base


def _single_entry(root):
    """A zip of one folder (or one file) is that folder (or file)."""
    entries = [e for e in os.listdir(root) if not e.startswith(".")]
    if len(entries) == 1:
        inner = os.path.join(root, entries[0])
        if os.path.isdir(inner) or gradable_suffix(inner):
            return inner
    return root


def _holds_notebooks(folder):
    """Whether a folder holds a notebook, or a .py exported from one."""
    try:
        return bool(python_files(folder, suffixes=(".ipynb",))) or any(
            _exported(os.path.join(folder, rel)) is not None for rel in python_files(folder)
        )
    except ValueError:
        return False


def _exported(path):
    """The cells of a .py exported from a notebook (notebook.exported_cells); None for any other .py,
    and for one that cannot be read as text (grading says why)."""
    try:
        if os.path.islink(path) or os.path.getsize(path) > nb.MAX_CODE_BYTES:
            return None
        with open(path, encoding="utf-8-sig") as handle:
            return nb.exported_cells(handle.read(), os.path.basename(path))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def _copy_code(folder, root):
    """Copy a student's .py and .ipynb files (no links, nothing else) into root."""
    try:
        files = python_files(folder, suffixes=(".py", ".ipynb"))
    except ValueError as error:
        raise CannotGrade(str(error)) from None
    for rel in files:
        os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        shutil.copyfile(os.path.join(folder, rel), os.path.join(root, rel), follow_symlinks=False)


def _stage_folder(path):
    """Convert the notebooks of a folder in place (a lone file is staged alone)."""
    if os.path.isfile(path):
        if not path.endswith(".py"):
            return _stage_notebook(path, os.path.dirname(path))
        stage = Staged(path)
        _convert_exported(stage, os.path.dirname(path), os.path.basename(path))
        return stage
    stage = Staged(path)
    try:
        notebooks = python_files(path, suffixes=(".ipynb",))
        scripts = python_files(path)
    except ValueError as error:
        raise CannotGrade(str(error)) from None
    for rel in scripts:
        _convert_exported(stage, path, rel)
    for rel in notebooks:
        folder = os.path.dirname(rel)
        made = os.path.join(folder, _py_name(os.path.join(path, folder), os.path.basename(rel)))
        try:
            stage.notebooks[made] = _convert(os.path.join(path, rel), os.path.join(path, made), rel)
        except CannotGrade as error:  # one broken notebook beside the rest: the rest is graded, and says so
            stage.unreadable.append(str(error))
    if stage.unreadable and not stage.notebooks and not python_files(path):
        raise CannotGrade(stage.unreadable[0])
    return stage


def _convert_exported(stage, folder, rel):
    """A .py exported from a notebook, converted in place (its staged copy) as a notebook is."""
    cells = _exported(os.path.join(folder, rel))
    if cells is not None:
        _write_converted(stage, folder, rel, cells)


def _write_converted(stage, folder, rel, cells):
    """The code of an exported notebook's cells written as folder/rel, and kept on the stage."""
    converted = nb.convert_cells(cells)
    with open(os.path.join(folder, rel), "w", encoding="utf-8") as handle:
        handle.write(converted.source)
    stage.notebooks[rel] = (rel, converted, None)


def _stage_notebook(notebook_path, folder):
    """A lone notebook as a .py of its own name in `folder`."""
    name = os.path.basename(notebook_path)
    stage = Staged(os.path.join(folder, _py_name(folder, name)))
    stage.notebooks[os.path.basename(stage.path)] = _convert(notebook_path, stage.path, name)
    return stage


def _py_name(folder, notebook_name):
    """The .py name of a notebook: its stem, unless a .py of that name is there already."""
    stem = os.path.splitext(notebook_name)[0]
    name = f"{stem}.py"
    return name if not os.path.exists(os.path.join(folder, name)) else f"{stem}_notebook.py"


def _convert(source, target, rel):
    try:
        notebook = nb.read(source)
    except nb.NotANotebook as error:
        raise CannotGrade(str(error)) from None
    converted = nb.convert(notebook)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(converted.source)
    return rel, converted, notebook
