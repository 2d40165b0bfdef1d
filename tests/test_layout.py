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
