"""What a student who copies does to hide it, each one a function of the copied source: names changed,
functions and independent statements reordered, comments and dead code added, the layout redone."""

import ast
import builtins
import random

KEEP = {"np", "numpy", "range", "len", "zip", "enumerate", "reversed", "sum", "max", "min", "abs", "self", "print"}


class _Renamer(ast.NodeTransformer):
    def __init__(self, rng):
        self.rng, self.names = rng, {}

    def _new(self, name):
        if name in KEEP or hasattr(builtins, name) or name.startswith("__"):  # float stays float
            return name
        return self.names.setdefault(name, f"{self.rng.choice(['tmp', 'val', 'arr', 'q', 'res'])}_{len(self.names)}")

    def visit_Name(self, node):
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self._new(node.arg)
        return node


def renamed(source, seed=0):
    """Every name the functions bind or read renamed (the functions' own names kept: the course's)."""
    tree = ast.parse(source)
    renamer = _Renamer(random.Random(seed))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for inner in node.args.args + node.args.kwonlyargs:
                renamer.visit_arg(inner)
            for statement in node.body:
                renamer.visit(statement)
    return ast.unparse(tree)


def reordered(source, seed=0):
    """The module's functions in another order."""
    tree = ast.parse(source)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    others = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    random.Random(seed).shuffle(functions)
    return ast.unparse(ast.Module(body=others + functions, type_ignores=[]))


def commented(source, seed=0):
    """A comment above every line of code, and blank lines between."""
    lines = []
    for line in source.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        continued = lines and lines[-1].endswith("\\")  # no comment can sit inside a backslash continuation
        if (
            line.strip()
            and not continued
            and not line.strip().startswith(("def ", "class ", "@", "else", "elif", "except", "finally"))
        ):
            lines.append(f"{indent}# step: {line.strip()[:10][::-1]}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def dead_code(source, seed=0):
    """An unused assignment added at the top of every function."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            node.body.insert(0, ast.parse("unused_value = 0.0 * 3").body[0])
    return ast.unparse(ast.fix_missing_locations(tree))


OBFUSCATIONS = {"renamed": renamed, "reordered": reordered, "commented": commented, "dead code": dead_code}


def all_of_them(source, seed=0):
    for obfuscate in (renamed, reordered, dead_code, commented):
        source = obfuscate(source, seed)
    return source
