"""Reading a submission without running it: which files define gradable names, and which names."""

import ast
import os

from .plainwords import explain_syntax_error
from .sandbox import python_files
from .targets import ALL_NAMES


class CannotGrade(Exception):
    """The submission cannot be graded at all (exit 2); the message is one plain sentence."""


def defined_names(path):
    """Top-level names the file defines; CannotGrade for a missing file or a syntax error."""
    if not os.path.isfile(path):
        raise CannotGrade(f"no such file: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except SyntaxError as error:
        raise CannotGrade(explain_syntax_error(path, error)) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise CannotGrade(f"{path} is not a readable Python file ({error})") from None
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def gradable_files(path):
    """(modules, names): the files of a submission (a file, or a student's folder) that define gradable
    names, those with the most first, and the names they define; CannotGrade when there are none."""
    if os.path.isfile(path):
        return [os.path.basename(path)], defined_names(path)
    if not os.path.isdir(path):
        raise CannotGrade(f"no such file or folder: {path}")
    found, problems = [], []
    # A package keeps its own name in the sandbox (see Sandbox._fill_code), so its modules do too.
    prefix = os.path.basename(os.path.normpath(path)) if os.path.isfile(os.path.join(path, "__init__.py")) else ""
    for rel in python_files(path):
        try:
            names = defined_names(os.path.join(path, rel))
        except CannotGrade as error:
            problems.append(str(error))
            continue
        if names & set(ALL_NAMES):
            found.append((os.path.join(prefix, rel) if prefix else rel, names))
    if not found:
        raise CannotGrade(
            problems[0]
            if problems
            else f"nothing gradable in {path}: no file in it defines any of {', '.join(ALL_NAMES)}"
        )
    found.sort(key=lambda item: -len(item[1] & set(ALL_NAMES)))
    return [rel for rel, _ in found], set().union(*(names for _, names in found))
