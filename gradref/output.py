"""Reports: atomic JSON writes and the versions block every report carries."""

import importlib.metadata
import json
import os
import platform
import sys
import tempfile

import numpy as np


class UsageError(Exception):
    """Bad input: the CLI prints the message as one sentence and exits 2."""


def check_writable(path, made=None):
    """Fail before a long run, not after it, when a report could not be written. `made`: a folder
    the run makes before it writes the report (a batch's --out, already checked), which may hold it."""
    if path in (None, "-"):
        return
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if made and not os.path.isdir(folder) and folder == os.path.abspath(made):
        return
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a folder, give a file name")
    _try_writing_in(folder, path)


def check_folder_writable(path):
    """Fail before a long run when a folder of reports could not be made or written into."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"cannot write reports into {path}: it is a file, not a folder")
    existing = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(existing):
        raise UsageError(f"cannot make {path}: the folder {existing} does not exist")
    _try_writing_in(existing, path)


def _try_writing_in(folder, path):
    """Create and remove a scratch file in `folder`: the only test of writability that /proc, a
    read-only mount or missing permissions cannot fool."""
    try:
        fd, scratch = tempfile.mkstemp(dir=folder, prefix=".gradref-probe-")
        os.close(fd)
        os.unlink(scratch)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def _default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def to_json(obj):
    return json.dumps(obj, indent=2, default=_default, allow_nan=True)


def write_atomic(path, text):
    """Write text to path through a temporary file and a rename, so a reader never sees half."""
    if path == "-":
        sys.stdout.write(text + "\n")
        return
    folder = os.path.dirname(os.path.abspath(path))
    # A short temporary name: the report's own may already be as long as the file system allows.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-gradref-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            if not text.endswith("\n"):
                handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj):
    write_atomic(path, to_json(obj))


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions():
    """Versions of everything a result depends on."""
    out = {
        "gradref": _version("gradref"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
    }
    for extra in ("cupy-cuda13x", "cupy-cuda12x", "cupy", "jax-cuda13-plugin", "jax-cuda12-plugin"):
        if _version(extra):
            out[extra] = _version(extra)
    return out
