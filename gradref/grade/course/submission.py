"""Reading a submission without running it: which files define gradable names, and which names."""

import ast
import functools
import os
import re

from ...text import source_lines, source_segment
from ..explain.firstwrong import parsed
from ..explain.plainwords import explain_syntax_error
from ..untrusted.refusal import CannotGrade
from ..untrusted.sandbox import python_files
from .targets import CLASS, EECS498, TARGETS, TOP_NAMES

# Parsing costs the grader about 500 bytes of memory per byte of source: course files are tens of KB.
MAX_FILE_BYTES = 1 << 20
MAX_SUBMISSION_BYTES = 4 << 20


def _megabytes(size):
    return f"{size / 2**20:.1f} MB"


def defined_names(path):
    """Top-level names the file defines; CannotGrade for a missing file, a link, a file too large to
    parse safely or a syntax error."""
    if os.path.islink(path):
        raise CannotGrade(f"{os.path.basename(path)} is a link: gradref never follows links out of a submission")
    if not os.path.isfile(path):
        raise CannotGrade(f"no such file: {path}")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise CannotGrade(
            f"{os.path.basename(path)} holds {_megabytes(size)} of Python, over the {_megabytes(MAX_FILE_BYTES)} "
            "one file may hold"
        )
    try:
        with open(path, encoding="utf-8-sig") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except SyntaxError as error:
        raise CannotGrade(explain_syntax_error(path, error)) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise CannotGrade(f"{path} is not a readable Python file ({error})") from None
    names = set()
    for node in tree.body:
        if node_is_layer_impostor(node):
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _refuse_copies(path, found, file_of):
    """Several files of one folder defining the same gradable function differently: that is a folder of
    students (or leftover copies), and grading it as one would hide all but one of each. The same
    definition twice (a notebook and the .py jupytext pairs with it) is one function."""
    owner = {}
    for rel, names in found:
        for name in sorted(names & set(TOP_NAMES)):
            if name in owner and _definition(file_of[owner[name]], name) != _definition(file_of[rel], name):
                raise CannotGrade(
                    f"{owner[name]} and {rel} both define {name}: to grade a folder of students, one "
                    f"submission each, use --batch; for one student's folder, keep one copy of each function"
                )
            owner.setdefault(name, rel)


def _definition(path, name):
    """The top-level definition of `name` in a file, as its syntax tree without positions (so that
    the same code at other lines is the same), or None."""
    found = _read_parsed(path)
    node = _top_definition(found[1], name) if found else None
    return ast.dump(node) if node is not None else None


def _top_definition(tree, name):
    """The top-level function or class `name` of a module's tree, or None."""
    return next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name), None)


LAYER_CLASSES = {t.forward for t in TARGETS if t.kind == CLASS}


def node_is_layer_impostor(node):
    """A definition named like a textbook layer (Sigmoid, Affine, ...) that is no layer: a layer is a
    class with forward and backward methods; a helper function `Sigmoid(x)` is not one."""
    name = getattr(node, "name", None)
    if name not in LAYER_CLASSES:
        return False
    if not isinstance(node, ast.ClassDef):
        return True
    methods = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
    return not {"forward", "backward"} <= methods


def gradable_files(path):
    """(modules, names): the files of a submission (a file, or a student's folder) that define gradable
    names, those with the most first, and the names they define; CannotGrade when there are none."""
    if os.path.isfile(path) and not os.path.islink(path) and not path.endswith(".py"):
        raise CannotGrade(
            f"{os.path.basename(path)} is not a Python file: gradref grades .py files and folders of them"
        )
    if os.path.isfile(path) or os.path.islink(path):
        return [os.path.basename(path)], defined_names(path)
    if not os.path.isdir(path):
        raise CannotGrade(f"no such file or folder: {path}")
    try:
        files = python_files(path)
    except ValueError as error:
        raise CannotGrade(str(error)) from None
    total = sum(os.path.getsize(os.path.join(path, rel)) for rel in files)
    if total > MAX_SUBMISSION_BYTES:
        raise CannotGrade(
            f"{os.path.basename(os.path.normpath(path))} holds {_megabytes(total)} of Python, over the "
            f"{_megabytes(MAX_SUBMISSION_BYTES)} a submission may hold"
        )
    found, problems, file_of = [], [], {}
    # A package keeps its own name in the sandbox (see Sandbox._fill_code), so its modules do too.
    prefix = os.path.basename(os.path.normpath(path)) if os.path.isfile(os.path.join(path, "__init__.py")) else ""
    for rel in files:
        file_of[os.path.join(prefix, rel) if prefix else rel] = os.path.join(path, rel)
        if os.path.getsize(os.path.join(path, rel)) > MAX_FILE_BYTES:
            defined_names(os.path.join(path, rel))  # says so: a file of the submission too large to read
        try:
            names = defined_names(os.path.join(path, rel))
        except CannotGrade as error:
            problems.append(str(error))
            continue
        if names & set(TOP_NAMES):
            found.append((os.path.join(prefix, rel) if prefix else rel, names))
    if not found:
        raise CannotGrade(problems[0] if problems else nothing_gradable(path, TOP_NAMES))
    _refuse_copies(path, found, file_of)
    found.sort(key=lambda item: -len(item[1] & set(TOP_NAMES)))
    return [rel for rel, _ in found], set().union(*(names for _, names in found))


def _parsed(folder):
    """(text, tree) of each .py file under `folder` (a staged submission) that parses, within the size
    one file may have."""
    for rel in python_files(folder):
        found = _read_parsed(os.path.join(folder, rel))
        if found is not None:
            yield found


def mentions(folder, word):
    """Whether any .py file of the staged submission under `folder` has `word` in its text: a quick
    look before reading its code closely."""
    for rel in python_files(folder):
        try:
            with open(os.path.join(folder, rel), encoding="utf-8-sig", errors="replace") as handle:
                if word in handle.read(MAX_FILE_BYTES):
                    return True
        except OSError:
            continue
    return False


def _read_parsed(path):
    """(text, tree) of one .py file that parses, within the size one file may have; else None."""
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return None
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
        return text, parsed(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def course_support_names():
    """The top-level names gradref's course support modules define (layer_utils' composites,
    a3_helper's losses): imported from there, they are the course's code, not the student's."""
    from . import SUPPORT

    return frozenset(
        node.name
        for _, tree in _parsed(SUPPORT)
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
    )


def references(folder):
    """{name: the names its code mentions} for each top-level function and class of the staged
    submission under `folder` ("Linear.backward" for a class's method too), then for those of the
    course's support modules the submission does not define itself (its own copy wins)."""
    from . import SUPPORT

    graph = {}
    for root in (folder, SUPPORT):
        found = {}
        for _, tree in _parsed(root):
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found.setdefault(node.name, set()).update(_mentioned(node))
                    for method in node.body if isinstance(node, ast.ClassDef) else ():
                        if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            found.setdefault(f"{node.name}.{method.name}", set()).update(_mentioned(method))
        graph.update({name: refs for name, refs in found.items() if name not in graph})
    return graph


def _mentioned(node):
    """Names and Class.attribute pairs a definition mentions (affine_forward, Linear.backward)."""
    found = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            found.add(inner.id)
        elif isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
            found.add(f"{inner.value.id}.{inner.attr}")
    return found


def defined_at(folder, rel, line):
    """The name of the top-level function, or the Class.method, of the staged file `rel` under `folder`
    whose code holds line `line` ("" where none does)."""
    found = _read_parsed(os.path.join(folder, rel)) if ".." not in rel.split(os.sep) else None
    for node in found[1].body if found else ():
        if getattr(node, "lineno", 0) <= line <= (getattr(node, "end_lineno", 0) or 0):
            for method in node.body if isinstance(node, ast.ClassDef) else ():
                if isinstance(method, ast.FunctionDef) and method.lineno <= line <= method.end_lineno:
                    return f"{node.name}.{method.name}"
            return node.name if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ""
    return ""


def reached(graph, name):
    """Every name the definition `name` reaches through the definitions it mentions, nearest first."""
    seen, todo = [], [name]
    while todo:
        for mentioned in sorted(graph.get(todo.pop(0), ())):
            if mentioned not in seen and mentioned != name:
                seen.append(mentioned)
                todo.append(mentioned)
    return seen


def constructor_parameters(folder, cls):
    """The names the class `cls`'s __init__ takes in the staged submission under `folder`, or None
    where that cannot be read (no such class, or an __init__ that takes **kwargs)."""
    for _, tree in _parsed(folder):
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == cls:
                init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
                if init is None or init.args.kwarg is not None:
                    return None
                arguments = init.args
                return {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
    return None


def docstrings(folder, names):
    """{name: what it says of itself} for the top-level functions and classes `names` that the .py
    files under `folder` define: the docstrings (a class's and its methods') and the comment lines
    inside it (the course's starters put their notes there: "make sure that your L2 regularization
    includes a factor of 0.5")."""
    found = {}
    for text, tree in _parsed(folder):
        lines = source_lines(text)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names and node.name not in found:
                found[node.name] = _what_it_says(node, lines)
    return found


def _what_it_says(node, lines):
    inner = [n for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    said = [ast.get_docstring(n) or "" for n in inner]
    source = source_segment(lines, node)
    said += [line.strip().lstrip("#") for line in source.splitlines() if line.strip().startswith("#")]
    return "\n".join(s for s in said if s)


def nothing_gradable(path, names):
    """The sentence for a submission that defines none of `names`: an empty one says it is empty."""
    files = [path] if os.path.isfile(path) else [os.path.join(path, rel) for rel in python_files(path)]
    if all(_holds_no_code(f) for f in files):
        what = "the file is empty" if os.path.isfile(path) else "its files are empty"
        return f"nothing to grade in {path}: {what} (no code at all)"
    shown = ", ".join(names[:6])
    return (
        f"nothing gradable in {path}: it defines none of the assignment's functions ({shown} and {len(names) - 6} more)"
    )


def _holds_no_code(path):
    """Whether a .py file is empty, or only comments, blank lines and a docstring."""
    found = _read_parsed(path)
    if found is None:
        return False
    body = found[1].body
    return not body or (len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant))


def defining_file(folder, name):
    """(rel, text) of the .py file under `folder` that defines the top-level function or class of
    `name` (a function, or Class.method), or None."""
    top = name.split(".")[0]
    for rel in python_files(folder):
        found = _read_parsed(os.path.join(folder, rel))
        if found and _top_definition(found[1], top) is not None:
            return rel, found[0]
    return None


def written_in_torch(path):
    """Whether the submission (a file or a folder) is EECS 498's PyTorch code: among its modules that
    do `import torch` at their top, the names of EECS 498's functions are at least as many as those
    only the NumPy courses use (a CS231n layers.py with an IDE's stray `from torch._C import ...`, or
    one that tries torch out beside its NumPy layers, stays a NumPy submission; EECS 498's a3_helper.py
    with its svm_loss beside fully_connected_networks.py does not tip the folder)."""
    if os.path.isfile(path):
        sources = [_read_parsed(path)]
    else:  # the course's own helper modules (a3_helper.py's svm_loss) do not speak for the student
        sources = [_read_parsed(os.path.join(path, rel)) for rel in python_files(path) if not _course_helper(rel)]
    eecs = numpy_only = 0
    for found in sources:
        body = found[1].body if found is not None else ()
        if not any(isinstance(n, ast.Import) and any(a.name.split(".")[0] == "torch" for a in n.names) for n in body):
            continue
        names = {getattr(n, "name", None) for n in body} - {None}
        eecs += len(names & EECS498_NAMES)
        numpy_only += len(names & NUMPY_ONLY_NAMES)
    return eecs > 0 and eecs >= numpy_only


def _course_helper(rel):
    return re.fullmatch(r"a\d_helper\.py", os.path.basename(rel)) is not None or rel.split(os.sep)[0] == "eecs598"


EECS498_NAMES = {n.split(".")[0] for t in TARGETS if t.convention == EECS498 for n in t.names}
NUMPY_ONLY_NAMES = {n.split(".")[0] for t in TARGETS if t.convention != EECS498 for n in t.names} - EECS498_NAMES


def autograd_line(folder, name):
    """(line number, line) of the first use of autograd in the function `name` ("Linear.backward"
    for a class's method) of the staged submission under `folder`, or None. Read from the source,
    outside the student's process."""
    top, _, method = name.partition(".")
    for text, tree in _parsed(folder):
        for node in tree.body:
            if getattr(node, "name", None) != top:
                continue
            if method:
                node = next((n for n in getattr(node, "body", []) if getattr(n, "name", None) == method), None)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found = _autograd_node(node)
                if found is not None:
                    return found.lineno, text.splitlines()[found.lineno - 1].strip()
    return None


def _autograd_node(function):
    """What in a function's own code hands its gradient to autograd: x.backward(...),
    torch.autograd.grad, t.requires_grad_(), t.requires_grad = True, requires_grad=True."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attribute = node.func
            if attribute.attr == "requires_grad_" or (attribute.attr == "backward" and _on_a_tensor(node)):
                return node
            if attribute.attr == "grad" and _names(attribute.value) & {"autograd"}:
                return node
        if isinstance(node, ast.keyword) and node.arg == "requires_grad" and _truthy(node.value):
            return node.value
        if isinstance(node, ast.Attribute) and node.attr == "autograd":
            return node
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in node.targets
        ):
            return node
    return None


def _on_a_tensor(call):
    """loss.backward() / y.backward(g) is autograd's; Linear.backward(dout, cache) is a layer's own."""
    receiver = call.func.value
    layer = isinstance(receiver, ast.Name) and receiver.id[:1].isupper()
    return len(call.args) < 2 and not layer


def _names(node):
    return {
        n.attr if isinstance(n, ast.Attribute) else n.id
        for n in ast.walk(node)
        if isinstance(n, (ast.Name, ast.Attribute))
    }


def _truthy(node):
    return not (isinstance(node, ast.Constant) and not node.value)
