"""The layout holds: the engine imports neither the grader nor the benchmarks, the command is the
gradref package's, and paths (a checkout under a folder named gradref or jax) never change a verdict."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.checks import describe_error

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ("conformance", "reference", "manual_grads")
USES = ("gradref", "bench")


def imported_modules(path):
    """The absolute module names a file imports (relative imports stay inside its package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def arrows_to_uses(files):
    return sorted(
        f"{path.name} imports {name}" for path in files for name in imported_modules(path) if name.split(".")[0] in USES
    )


def test_the_engine_imports_neither_the_grader_nor_the_benchmarks():
    files = [path for package in ENGINE for path in (ROOT / package).rglob("*.py")]
    assert len(files) > 20
    assert arrows_to_uses(files) == []


def test_the_import_check_can_fail(tmp_path):
    planted = tmp_path / "engine_module.py"
    planted.write_text("import os\nfrom gradref.grade import grader\nimport bench.runner\n")
    assert arrows_to_uses([planted]) == [
        "engine_module.py imports bench.runner",
        "engine_module.py imports gradref.grade",
    ]


def test_python_m_gradref_is_the_command():
    proc = subprocess.run([sys.executable, "-m", "gradref", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("gradref ")


@pytest.mark.parametrize("folder", ["gradref", "jax", "numpy", "conformance"])
def test_a_checkout_under_a_folder_named_like_a_package_is_still_the_users_code(tmp_path, folder):
    code = tmp_path / folder / "layers.py"
    code.parent.mkdir()
    code.write_text("def backward(dout, cache):\n    raise ValueError('shapes do not match')\n")
    namespace = {}
    exec(compile(code.read_text(), str(code), "exec"), namespace)
    try:
        namespace["backward"](None, None)
    except ValueError as error:
        assert describe_error(error) == "ValueError: shapes do not match at layers.py:2"


# ----- gradref/grade/: five rooms, each importing only the rooms before it -----

GRADE = ROOT / "gradref" / "grade"
ROOMS = ("untrusted", "explain", "course", "judging", "front")
HELPERS = ("text", "output", "console")  # gradref's plain helpers, open to every room
ENGINE_AND_JAX = ENGINE + ("jax", "jaxlib")
STANDALONE = ("worker.py", "protocol.py")  # run inside the sandbox: the standard library and NumPy only


def absolute_imports(path, package):
    """Every name a file imports, made absolute (`from ..judging import verdict` in gradref.grade.front
    gives gradref.grade.judging.verdict), with `package` the dotted package the file sits in."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def crossings(path, room, package):
    """The imports of one module in `room` that break the rules stated in gradref/grade/__init__.py."""
    allowed = ROOMS[: ROOMS.index(room) + 1]
    bad = []
    for name in sorted(absolute_imports(path, package)):
        parts = name.split(".")
        # The worker may import numpy, and torch where the grader asks for a PyTorch course.
        if path.name in STANDALONE and parts[0] not in sys.stdlib_module_names and parts[0] not in ("numpy", "torch"):
            bad.append(f"{room}/{path.name} imports {name} (it runs inside the sandbox)")
        elif parts[:2] == ["gradref", "grade"] and len(parts) > 2 and parts[2] in ROOMS and parts[2] not in allowed:
            bad.append(f"{room}/{path.name} imports {name} (a room above it)")
        elif parts[0] == "gradref" and parts[1:2] != ["grade"] and parts[1] not in HELPERS and room != "front":
            bad.append(f"{room}/{path.name} imports {name} (only the front may use gradref's commands)")
        elif room == "untrusted" and parts[0] in ENGINE_AND_JAX:
            bad.append(f"{room}/{path.name} imports {name} (running untrusted code needs no engine)")
    return bad


def grade_modules():
    """(path, room, package) for every module of gradref/grade/ (support/ aside: it is the course's)."""
    for path in sorted(GRADE.rglob("*.py")):
        rel = path.relative_to(GRADE).parts
        if "support" in rel:
            continue
        room = rel[0] if len(rel) > 1 else None
        package = ".".join(("gradref", "grade", *rel[:-1]))
        yield path, room, package


def test_the_grader_has_five_rooms_and_nothing_beside_them():
    loose = [path.name for path, room, _ in grade_modules() if room is None and path.name != "__init__.py"]
    rooms = sorted({room for _, room, _ in grade_modules() if room})
    assert loose == [] and rooms == sorted(ROOMS)
    for room in ROOMS:
        doc = ast.get_docstring(ast.parse((GRADE / room / "__init__.py").read_text())) or ""
        assert "May import" in doc, f"{room}/__init__.py must say what the room may import"
    undocumented = [
        f"{room}/{path.name}" for path, room, _ in grade_modules() if not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert undocumented == []


def test_no_room_imports_one_above_it_and_the_worker_imports_nothing_of_gradref():
    found = [bad for path, room, package in grade_modules() if room for bad in crossings(path, room, package)]
    assert found == []


@pytest.mark.parametrize(
    "room, name, source, why",
    [
        ("judging", "judge.py", "from ..front import command\n", "a room above it"),
        ("untrusted", "worker.py", "import gradref.text\n", "inside the sandbox"),
        ("untrusted", "protocol.py", "from conformance import cache\n", "inside the sandbox"),
        ("untrusted", "sandbox.py", "import jax.numpy as jnp\n", "needs no engine"),
        ("untrusted", "worker.py", "import scipy.special\n", "inside the sandbox"),
        ("explain", "diagnose.py", "from ..course.targets import CLASS\n", "a room above it"),
        ("course", "targets.py", "from ... import htmlreport\n", "only the front"),
    ],
)
def test_the_room_rules_can_fail(tmp_path, room, name, source, why):
    planted = tmp_path / name
    planted.write_text(source)
    found = crossings(planted, room, f"gradref.grade.{room}")
    assert len(found) == 1 and why in found[0], found


def test_finite_differences_run_on_a_layout_copy_only_where_no_oracle_checks_it():
    import dataclasses

    from conformance import checks, registry

    op = registry.REGISTRY["affine"]
    plain, fortran = (checks.Case(op, name, "float64") for name in ("small", "small/fortran"))
    assert checks.applicable("finite_differences", plain) and checks.applicable("vjp", fortran)
    assert not checks.applicable("finite_differences", fortran)
    without_oracle = dataclasses.replace(fortran, op=dataclasses.replace(op, reference=None))
    assert checks.applicable("finite_differences", without_oracle)
