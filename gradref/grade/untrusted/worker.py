"""gradref's sandbox worker: runs ONE student submission in its own process.

Standalone on purpose (stdlib and numpy only): nothing of gradref, JAX or the expected answers is
loaded here. The grader sends one JSON request per line on stdin; arguments and results travel as
.npy files (allow_pickle=False) in this process's own working directory; one JSON reply per line
goes back on a private copy of the original stdout, while the student's prints go to stderr.
Started with `python -I -S -B`: no site-packages but the ones the grader names in its config.
"""

import ast
import contextlib
import importlib.util
import inspect
import json
import os
import resource
import stat
import sys
import threading
import traceback

os.closerange(3, 1 << 16)  # nothing the grader (or bwrap) held open reaches the submission


def _load_protocol():
    """The message keys (protocol.py beside this file), loaded by path: no folder of gradref's
    goes on sys.path, where the submission could import from it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "protocol.py")
    spec = importlib.util.spec_from_file_location("_gradref_protocol", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


P = _load_protocol()
PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
CONFIG = json.loads(sys.argv[2])
sys.path[:0] = CONFIG["site"]

import numpy as np  # noqa: E402

# Bound before any student code runs, so that patching numpy in the student's module changes nothing here.
_save, _load, _asarray, _array = np.save, np.load, np.asarray, np.array


# The finders and loaders below are plain classes, as the import system allows: importlib.abc's base
# classes would import importlib.resources (pathlib, tempfile, shutil...) at every worker's start.
class ImportBlocker:
    """Autodiff libraries and gradref itself would do the student's work: each imports as a stand-in
    that refuses every use. A stray import (an IDE's `from torch._C import ...`) costs nothing; a
    function that uses one fails with the reason."""

    def __init__(self, blocked):
        self.blocked, self.imported = set(blocked), set()

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top not in self.blocked:
            return None
        self.imported.add(top)
        return importlib.util.spec_from_loader(name, self, is_package=True)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        top = module.__name__.split(".")[0]
        why = f"importing {top} is not allowed in a submission (the grader's --allow-imports {top} lifts this)"
        module.__path__ = []
        module.__getattr__ = lambda attribute: Missing(f"{module.__name__}.{attribute}", why)


# The course environment's packages that a layers.py often imports without using them (plotting at the
# top of the file, an IDE's stray import). Where one is missing here, a stand-in imports fine and says
# plainly, the moment anything of it is used, that the grader does not have it.
STAND_INS = (
    "matplotlib",
    "scipy",
    "IPython",
    "sklearn",
    "pandas",
    "PIL",
    "imageio",
    "tqdm",
    "h5py",
    "seaborn",
    "skimage",
    "cv2",
    "google",
)


class Missing:
    """Anything taken from a stand-in module: using it raises a plain ImportError."""

    def __init__(self, name, why=""):
        self._name, self._why = name, why

    def _refuse(self, *args, **kwargs):
        top = self._name.split(".")[0]
        raise ImportError(f"{self._name} was used, but {self._why or f'{top} {P.NOT_INSTALLED}'}")

    __call__ = __iter__ = __len__ = __bool__ = __index__ = __float__ = _refuse

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return Missing(f"{self._name}.{attribute}", self._why)


IMPORTLIB = os.path.dirname(importlib.util.__file__)


def imported_by_the_submission():
    """Whether the import being resolved is the submission's own (a library's `try: import tqdm`
    gets the plain ImportError it is written for)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(("<frozen", __file__, IMPORTLIB)):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(SUBMISSION + os.sep)


class StandIns:
    """Last on sys.meta_path: a missing course-environment package (STAND_INS) imports as a stand-in."""

    def __init__(self):
        self.imported = set()

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in STAND_INS and imported_by_the_submission():
            self.imported.add(name.split(".")[0])
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__path__ = []
        module.__getattr__ = lambda attribute: Missing(f"{module.__name__}.{attribute}")


class CourseSupport:
    """After the submission's own files: the course's helper modules that gradref ships (cs231n.im2col,
    cs231n.fast_layers, the textbook's common.functions, EECS 498's eecs598 and a3_helper), for a
    submission that brings none."""

    TOPS = ("cs231n", "common", "eecs598", "a3_helper", "past", "future")

    def __init__(self, folder):
        self.folder = folder

    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if not self.folder or parts[0] not in self.TOPS:
            return None
        base = os.path.join(self.folder, *parts)
        if os.path.isfile(os.path.join(base, "__init__.py")):
            init = os.path.join(base, "__init__.py")
            return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[base])
        if os.path.isfile(base + ".py"):
            return importlib.util.spec_from_file_location(name, base + ".py")
        return None


class LooseCourseFiles:
    """Before the path and the course's support: cs231n.layers (and any cs231n.X) as the submission's
    own loose X.py, where it hands in the files alone and no cs231n/ folder of its own (layers.py
    beside fc_net.py's `from cs231n.layers import *`). A file that imports relatively (the course's
    `from ..layers import *`) runs in the package; the others are the same module as the top-level one."""

    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if parts[0] != "cs231n" or len(parts) < 2 or os.path.isdir(os.path.join(SUBMISSION, "cs231n")):
            return None
        loose = os.path.join(SUBMISSION, parts[-1] + ".py")
        if not os.path.isfile(loose):
            return None
        if relative_package(loose):
            return importlib.util.spec_from_file_location(name, loose)
        return importlib.util.spec_from_loader(name, FlatModule(parts[-1]))


def relative_package(path):
    """The course package a loose file belongs in, by its relative imports: "cs231n.classifiers" for
    `from ..layers import *` (classifiers/fc_net.py handed in alone), "cs231n" for `from .layers import
    *` (layer_utils.py); None for a file without them."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    level = max((n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), default=0)
    return {1: "cs231n", 2: "cs231n.classifiers"}.get(level)


class FlatModule:
    """cs231n.layers as the submission's own top-level layers.py, the same module object."""

    def __init__(self, flat):
        self.flat = flat

    def create_module(self, spec):
        return importlib.import_module(self.flat)

    def exec_module(self, module):
        pass


def reply(message):
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


# Imported ahead, while the worker may still read the interpreter's files (process mode as root, with
# an interpreter only root can reach): NumPy's submodules load from numpy's own folder.
PRELOAD = ("numpy.random", "numpy.linalg", "numpy.fft", "numpy.lib.stride_tricks", "numpy.ma", "numpy.polynomial")


def path_through_descriptors():
    """sys.path as folders opened now (/proc/self/fd/N), so that the submission can still import the
    standard library after the switch to a uid that could not pass the folders above it."""
    entries = []
    for entry in sys.path:
        try:
            entries.append(f"/proc/self/fd/{os.open(entry, os.O_RDONLY | os.O_DIRECTORY)}")
        except OSError:
            entries.append(entry)
    sys.path[:] = entries
    sys.path_importer_cache.clear()


def set_limits(config):
    """Hard limits the submission cannot raise: memory, file size, open files, core dumps, processes,
    an unprivileged uid and the system-call filter."""
    import ctypes

    def hard(which, value):
        resource.setrlimit(which, (value, value))

    hard(resource.RLIMIT_AS, int(config["memory_mb"]) * 2**20)
    hard(resource.RLIMIT_FSIZE, int(config["file_mb"]) * 2**20)
    hard(resource.RLIMIT_NOFILE, 256)
    hard(resource.RLIMIT_CORE, 0)
    if config["limit_processes"]:  # counted per uid: only meaningful under the grader's own uid
        hard(resource.RLIMIT_NPROC, int(config["max_processes"]) + 4)  # + bwrap and the worker
    program = None
    if config.get("syscall_filter"):
        with open(config["syscall_filter"], "rb") as handle:
            program = handle.read()
    if config.get("preload"):
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        path_through_descriptors()
    if config.get("open_folders_ahead"):  # opened now: the uid below may not pass the folders above them
        for key in ("inputs", "code", "results", "course_support"):
            if config.get(key):
                config[key] = f"/proc/self/fd/{os.open(config[key], os.O_RDONLY | os.O_DIRECTORY)}"
    if config.get("landlock"):  # while the folders above the interpreter may still be passed (root)
        landlock(ctypes, submission_rules(config))
    if config.get("uid") is not None:  # the grader's own unprivileged uid: from here on, no privilege
        os.setgroups([])
        os.setgid(config["uid"])
        os.setuid(config["uid"])
    os.chdir(config["results"])  # only now: the results folder belongs to that uid
    try:  # without namespaces, die with the grader
        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass
    if program is not None:
        load_syscall_filter(ctypes, program)


# ----- Landlock: what the worker may still open once the submission runs (process mode) -----

LANDLOCK_CALLS = (444, 445, 446)  # landlock_create_ruleset, _add_rule, _restrict_self (x86-64 and arm64 alike)
LIST = 1 << 3  # read a folder's entries
READ = (1 << 0) | (1 << 2) | LIST  # execute, read a file, read a folder
# Write, remove, make folders and files, move them about within, truncate.
WRITE = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 8) | (1 << 13) | (1 << 14)
FILE_RIGHTS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # the rights a rule on a file may carry
NEW_IN_ABI = {1: (1 << 13) - 1, 2: 1 << 13, 3: 1 << 14, 5: 1 << 15}  # filesystem rights each version added


def landlock_abi(ctypes):
    """The kernel's Landlock version, 0 where it has none (or it is switched off)."""
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(LANDLOCK_CALLS[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, version)


def landlock(ctypes, rules):
    """Restrict this process and all it starts to `rules`, {path: rights} (a folder's rights hold for
    everything beneath it), with no TCP and, where the kernel can, no signals or abstract sockets
    outside it. Raises OSError where that cannot be done: the grader asked for it."""
    libc = ctypes.CDLL(None, use_errno=True)
    abi = landlock_abi(ctypes)
    if abi < 1:
        raise OSError("this kernel has no Landlock")
    handled = 0
    for version, rights in NEW_IN_ABI.items():
        handled |= rights if abi >= version else 0
    fields = [handled, 3 if abi >= 4 else None, 3 if abi >= 6 else None]  # fs; TCP bind, connect; scopes
    fields = [f for f in fields if f is not None]
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    ruleset = libc.syscall(LANDLOCK_CALLS[0], ctypes.byref(attr), ctypes.c_size_t(8 * len(fields)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "Landlock refused the ruleset")

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    try:
        for path, rights in rules.items():
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # absent here: nothing to allow
            try:
                allowed = rights & handled
                if not stat.S_ISDIR(os.fstat(fd).st_mode):  # no /proc in a worker root of its own
                    allowed &= FILE_RIGHTS
                rule = PathBeneath(allowed, fd)
                if libc.syscall(LANDLOCK_CALLS[1], ruleset, ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0)):
                    raise OSError(ctypes.get_errno(), f"Landlock refused the rule for {path}")
            finally:
                os.close(fd)
        if libc.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
            raise OSError(ctypes.get_errno(), "no_new_privs could not be set")
        if libc.syscall(LANDLOCK_CALLS[2], ruleset, ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), "Landlock could not restrict the worker")
    finally:
        os.close(ruleset)


def submission_rules(config):
    """{path: rights} for the submission: read its own code and inputs, the course's support modules,
    the standard library (its site-packages listed, never read), NumPy and the packages the teacher
    allowed (each linked from the one site folder, gradref's never among them),
    the machine's shared libraries and a few devices; write its results folder (its TMPDIR). gradref,
    its cache, the class folder, other students, /tmp and /proc are not among them, whatever the
    submission does to its import system."""
    import sysconfig

    stdlib = os.path.dirname(os.__file__)
    shut = ("site-packages", "dist-packages")
    readable = [os.path.join(stdlib, name) for name in os.listdir(stdlib) if name not in shut]
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    readable += [f"/usr/lib/{multiarch}", f"/lib/{multiarch}", "/usr/lib64", "/lib64", "/etc/ld.so.cache"]
    readable += [config[k] for k in ("code", "inputs", "course_support") if config.get(k)]
    readable += [*config.get("packages", ()), config["site"][0], os.path.realpath(sys.executable)]
    readable += ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"]
    return {stdlib: LIST, **{path: READ for path in readable}, config["results"]: READ | WRITE}


def load_syscall_filter(ctypes, program):
    """Install a seccomp BPF program on this process and everything it starts (no_new_privs first)."""

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.cast(code, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    no_new_privs = libc.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if no_new_privs != 0 or libc.prctl(
        22, ctypes.c_ulong(2), ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0)
    ):
        raise OSError(ctypes.get_errno(), "the system-call filter could not be loaded")


def mark(stage):
    """Leave the current stage on disk: if the process dies, the grader still knows where."""
    with open(P.STAGE_FILE, "w") as handle:
        handle.write(stage)


def describe(error):
    """'TypeError: message (line 12 of submission.py)' with the deepest line in the submission."""
    if isinstance(error, MemoryError):
        return f"MemoryError: ran out of memory (the limit is {MEMORY_MB} MB)"
    own = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(SUBMISSION + os.sep)]
    where = "".join(f" (line {f.lineno} of {os.path.relpath(f.filename, SUBMISSION)}: {f.line})" for f in own[-1:])
    if len(own) > 1 and own[0].name != own[-1].name:  # the call in the function that was called, too
        first = own[0]
        where += f" (called from line {first.lineno} of {os.path.relpath(first.filename, SUBMISSION)}: {first.line})"
    return f"{type(error).__name__}: {error}{where}"


# ----- torch submissions (EECS 498): arguments become torch tensors on the grader's device -----

TORCH = None  # the torch module, imported before the submission where the grader asks for torch


def start_framework(config):
    """Import torch ahead of the submission (once per submission, before the limits), single-threaded."""
    global TORCH
    if config.get("framework") == "torch":
        import torch

        torch.set_num_threads(1)
        TORCH = torch


def _tensor_type():
    return TORCH.Tensor if TORCH is not None else ()


def as_framework(array):
    """An argument array as the submission's framework has it: a torch tensor of the same dtype on the
    grader's device (float64 stays float64, labels stay int64), or the array itself."""
    if TORCH is None or array.dtype.kind not in "fiub":
        return array
    return TORCH.from_numpy(array).to(CONFIG.get("device") or "cpu")


def as_array(value):
    """A result as a NumPy array: a tensor leaves its device and autograd's graph first."""
    if TORCH is not None and isinstance(value, TORCH.Tensor):
        value = TORCH.Tensor.numpy(TORCH.Tensor.cpu(TORCH.Tensor.detach(value)), force=True)
        return _array(value, copy=True)
    return _array(value, copy=True) if isinstance(value, np.ndarray) else _asarray(value)


def load_arg(spec):
    if P.TUPLE in spec:  # a cache: (x, w, b, conv_param), ...
        return tuple(load_arg(value) for value in spec[P.TUPLE])
    if P.DICT in spec:  # parameter dicts: bn_param, conv_param, ...
        return {key: load_arg(value) for key, value in spec[P.DICT].items()}
    if P.DTYPE_OF in spec:  # a model's dtype= argument
        name = str(spec[P.DTYPE_OF])
        return getattr(TORCH, name) if TORCH is not None else np.dtype(name).type
    if P.DEVICE_OF in spec:  # a model's device= argument
        return CONFIG.get("device") or "cpu"
    if P.FILE in spec:
        return as_framework(_load(os.path.join(CONFIG["inputs"], os.path.basename(spec[P.FILE])), allow_pickle=False))
    return spec[P.VALUE]


def save_after(name, value):
    """An argument as it is after the call: arrays, and the arrays inside parameter dicts."""
    if isinstance(value, dict):
        numeric = (np.ndarray, np.number, int, float, _tensor_type())
        return {
            P.DICT: {
                k: save_value(f"{name}-{k}", v)
                for k, v in value.items()
                if isinstance(v, numeric) and not isinstance(v, bool)
            }
        }
    return save_value(name, value) if isinstance(value, (np.ndarray, _tensor_type())) else None


def save_value(name, value):
    """Save a result as a plain array file; returns (file, type name, and for a tensor its device) or
    raises TypeError."""
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    described = {}
    if TORCH is not None and isinstance(value, TORCH.Tensor):
        described = {P.DEVICE: value.device.type}
    array = as_array(value)
    if array.dtype.hasobject:
        raise TypeError(f"{name} is not numeric (it became an object array)")
    path = f"{name}.npy"
    _save(path, array, allow_pickle=False)
    return {P.FILE: path, P.TYPE: kind, **described}


# Code that is neither the standard library's, NumPy's nor this worker's counts: the submission's own
# files, and whatever it compiled or generated at run time.
LIBRARY = tuple(os.path.dirname(os.path.abspath(p)) + os.sep for p in (os.__file__, np.__file__))
WORKER_FILES = (os.path.abspath(__file__), os.path.abspath(P.__file__))


class CallCounter:
    """Counts the calls of Python functions while it is on (a backward that differentiates
    numerically calls some function once or twice per input entry; a derived one, a few times)."""

    def __init__(self, own):
        self.own, self.counts, self.intact = own, {}, True

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            self.counts[code] = self.counts.get(code, 0) + 1

    def __enter__(self):
        threading.setprofile(self)
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        self.intact = sys.getprofile() is self  # the submission did not switch it off
        sys.setprofile(None)
        threading.setprofile(None)

    def report(self):
        counts = {
            c: n
            for c, n in self.counts.items()
            if not c.co_filename.startswith(LIBRARY) and c.co_filename not in WORKER_FILES
        }
        code, most = max(counts.items(), key=lambda item: item[1], default=(None, 0))
        return {
            P.CALLS_OWN_FORWARD: counts.get(self.own, 0),
            P.CALLS_MOST: most,
            P.CALLS_MOST_NAME: code.co_name if code else "",
            P.CALLS_INTACT: self.intact,
        }


class Recorder:
    """The array locals of one function's frame, as each stretch of its lines leaves them: recorded at
    every line event outside the loops the grader names (a loop's values once it is left), and on
    return. Bounded: so many line events, records, entries per array and bytes in all, then it stops
    recording (and says why) while the function runs on."""

    EVENTS, RECORDS, ENTRIES, BYTES = 1_000_000, 300, 1 << 20, 16 << 20

    def __init__(self, code, skip):
        self.code, self.skip = code, skip
        self.records, self.seen, self.previous = [], {}, 0
        self.events = self.bytes = 0
        self.stopped = ""

    def __call__(self, frame, event, arg):
        return self.local if event == "call" and frame.f_code is self.code and not self.stopped else None

    def local(self, frame, event, arg):
        self.events += 1
        if self.events > self.EVENTS:
            self.stop(f"it ran more than {self.EVENTS:,} lines")
        if self.stopped or (event == "line" and frame.f_lineno in self.skip):
            return None if self.stopped else self.local
        if event in ("line", "return"):
            returned = {}
            if event == "return":  # what it hands back without a name: return (da.dot(Wx.T), ...)
                parts = arg if isinstance(arg, tuple) and len(arg) <= 16 else (arg,)
                returned = {f"return[{i}]": part for i, part in enumerate(parts)}
            self.snapshot({**frame.f_locals, **returned}, frame.f_lineno if event == "line" else 0)
        return self.local

    def stop(self, why):
        self.stopped = self.stopped or why
        sys.settrace(None)

    def snapshot(self, local_values, line):
        for name, value in self.arrays(local_values):
            if int(np.prod(value.shape)) > self.ENTRIES:
                continue  # too large to keep: its line is judged by the values around it
            array = as_array(value)
            if array.dtype.kind not in "fiub":
                continue
            before = self.seen.get(name)
            if before is not None and before.shape == array.shape and bool(np.array_equal(before, array)):
                continue
            self.seen[name] = array
            self.bytes += array.nbytes
            if len(self.records) >= self.RECORDS or self.bytes > self.BYTES:
                self.stop(f"it held more than {self.RECORDS} values or {self.BYTES >> 20} MB of them")
                return
            self.records.append((self.previous, line, name, array))
        self.previous = line

    @staticmethod
    def arrays(local_values):
        """(name, value) of the array locals, and of the arrays in a dict local under a string key
        (an update rule's config['cache']), named as the code reads them."""
        for name, value in list(local_values.items()):
            if name.startswith("__"):
                continue
            if isinstance(value, dict) and len(value) <= 64:
                for key, inner in list(value.items()):
                    if isinstance(key, str) and isinstance(inner, (np.ndarray, np.floating, _tensor_type())):
                        yield f"{name}[{key!r}]", inner
            elif isinstance(value, (np.ndarray, np.floating, _tensor_type())):
                yield name, value

    def __enter__(self):
        sys.settrace(self)
        return self

    def __exit__(self, *exc):
        sys.settrace(None)

    def saved(self, prefix):
        return [
            {
                P.LINE_FROM: start,
                P.LINE_TO: end,
                P.TRACE_NAME: name,
                P.FILE: save_value(f"{prefix}trace{i}", value)[P.FILE],
            }
            for i, (start, end, name, value) in enumerate(self.records)
        ]


def call_recorded(request, stage, function, args, outputs, prefix, keywords=None):
    """function(*args, **keywords), its frame recorded (Recorder) where the request asks for that function."""
    wanted, keywords = request.get(P.TRACE) or {}, keywords or {}
    if wanted.get(P.TRACE_NAME) != stage or code_of(function) is None:
        return function(*args, **keywords)
    recorder = Recorder(code_of(function), {int(n) for n in wanted.get(P.TRACE_SKIP, ())})
    try:
        with recorder:
            return function(*args, **keywords)
    finally:
        outputs[P.TRACED] = recorder.saved(prefix)
        outputs[P.TRACE_STOPPED] = recorder.stopped


def code_of(function):
    return getattr(getattr(function, "__func__", function), "__code__", None)  # a method's too


class NotYet(Exception):
    """The function is a starter stub: it returns None or raises NotImplementedError."""


def check_done(stage, value):
    if value is None or (isinstance(value, tuple) and value and all(v is None for v in value)):
        raise NotYet(f"{stage} returns None")
    return value


def starter_left_none(error):
    """The 2016-18 dropout starter ends with `out = out.astype(x.dtype, copy=False)`: left unwritten,
    out is None there, and the starter stub raises instead of returning None."""
    return isinstance(error, AttributeError) and str(error) == "'NoneType' object has no attribute 'astype'"


def failed(stage, error, outputs):
    if starter_left_none(error):
        error = NotYet(f"{stage} leaves out None (the starter's out.astype(...) line)")
    if isinstance(error, (NotYet, NotImplementedError)):
        return {
            P.OK: False,
            P.STAGE: stage,
            P.TODO: True,
            P.ERROR: str(error) or "NotImplementedError",
            P.RESULTS: outputs,
        }
    return {P.OK: False, P.STAGE: stage, P.ERROR: describe(error), P.RESULTS: outputs}


def as_tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def run_function(module, request, prefix):
    """forward(*args) -> (out, cache) then backward(dout, cache) -> grads; loss(*args) -> (loss, dx);
    update rule(w, dw, config) -> (next_w, config); with OUTPUTS_COUNT k, forward returns k outputs + cache
    and backward takes k upstream gradients."""
    if P.CACHE in request:
        return run_backward_alone(module, request, prefix)
    args = [load_arg(a) for a in request[P.ARGS]]
    outputs, stage, k = {}, request[P.FIRST], request.get(P.OUTPUTS_COUNT, 1)
    try:
        mark(stage)
        first = getattr(module, request[P.FIRST])
        # A loss computes its gradient in this call: count its calls; a forward's are not counted.
        counting = CallCounter(code_of(first)) if request.get(P.LOSS) else contextlib.nullcontext()
        with counting:
            result = check_done(stage, call_recorded(request, stage, first, args, outputs, prefix))
        if request.get(P.LOSS):
            outputs[P.CALLS] = counting.report()
        if isinstance(result, tuple) and result and result[0] is None:
            raise NotYet(f"{stage} returns None for its output")
        if request.get(P.PLAIN):  # an output (or outputs) and no cache: judged forward only
            return {P.OK: True, P.RESULTS: plain_outputs(stage, result, args, k, prefix, outputs)}
        if not isinstance(result, tuple) or len(result) != k + 1:
            shape = "(" + ", ".join(["out"] * k + ["cache"]) + ")"
            return {P.OK: False, P.STAGE: stage, P.ERROR: f"{stage} returned {type(result).__name__}, not {shape}"}
        *outs, second = result
        outputs[P.OUT] = save_value(f"{prefix}out", outs[0] if k == 1 else _asarray(outs))
        if request.get(P.UPDATE):
            outputs[P.STATE] = save_after(f"{prefix}state", second)
            outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
            return {P.OK: True, P.RESULTS: outputs}
        if request.get(P.BACKWARD):
            outputs[P.ARGS_MID] = [save_after(f"{prefix}mid{i}", a) for i, a in enumerate(args)]
            stage = request[P.BACKWARD]
            mark(stage)
            dout = load_arg(request[P.DOUT])
            upstream = [dout[i] for i in range(k)] if k > 1 else [dout]
            backward = getattr(module, stage)
            with CallCounter(code_of(first)) as counter:
                grads = as_tuple(
                    check_done(stage, call_recorded(request, stage, backward, [*upstream, second], outputs, prefix))
                )
            outputs[P.CALLS] = counter.report()
            outputs[P.DOUT_AFTER] = save_value(f"{prefix}dout", dout)
        elif request.get(P.LOSS):
            grads = as_tuple(second) if not request.get(P.GRAD_KEYS) else keyed(stage, second, request[P.GRAD_KEYS])
        else:  # a forward graded on its own: the cache stays opaque
            outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
            return {P.OK: True, P.RESULTS: outputs}
        outputs[P.GRADS] = [None if g is None else save_value(f"{prefix}grad{i}", g) for i, g in enumerate(grads)]
        outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
        return {P.OK: True, P.RESULTS: outputs}
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return failed(stage, error, outputs)


def keyed(stage, grads, keys):
    """A loss's gradients returned as a dict keyed like its params (EECS 498's nn_forward_backward)."""
    if not isinstance(grads, dict):
        raise TypeError(f"{stage} returned its gradients as a {type(grads).__name__}, not a dict keyed like params")
    return [grads.get(key) for key in keys]


def run_backward_alone(module, request, prefix):
    """backward(dout, cache) with the cache the course documents, built by the grader (its forward failed)."""
    outputs, stage = {}, request[P.BACKWARD]
    try:
        mark(stage)
        cache, dout = load_arg(request[P.CACHE]), load_arg(request[P.DOUT])
        with CallCounter(None) as counter:
            grads = as_tuple(check_done(stage, getattr(module, stage)(dout, cache)))
        outputs[P.CALLS] = counter.report()
        outputs[P.DOUT_AFTER] = save_value(f"{prefix}dout", dout)
        outputs[P.GRADS] = [None if g is None else save_value(f"{prefix}grad{i}", g) for i, g in enumerate(grads)]
        return {P.OK: True, P.RESULTS: outputs}
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return failed(stage, error, outputs)


def run_class(module, request, prefix):
    """cls(*init); out = layer.forward(*args); dx = layer.backward(dout); then the named attributes."""
    stage = f"{request[P.CLS]}.__init__"
    outputs = {}
    try:
        mark(stage)
        init = [load_arg(a) for a in request[P.INIT]]
        layer = getattr(module, request[P.CLS])(*init)
        args = [load_arg(a) for a in request[P.ARGS]]
        stage = f"{request[P.CLS]}.forward"
        mark(stage)
        out = check_done(stage, layer.forward(*args))
        outputs[P.OUT] = save_value(f"{prefix}out", out)
        if not request.get(P.BACKWARD):
            outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
            return {P.OK: True, P.RESULTS: outputs}
        outputs[P.ARGS_MID] = [save_after(f"{prefix}mid{i}", a) for i, a in enumerate(args)]
        stage = f"{request[P.CLS]}.backward"
        mark(stage)
        with CallCounter(code_of(getattr(type(layer), "forward", None))) as counter:
            if request.get(P.DOUT) is None:
                dx = check_done(stage, layer.backward())
            else:
                dout = load_arg(request[P.DOUT])
                dx = check_done(stage, layer.backward(dout))
        outputs[P.CALLS] = counter.report()
        if request.get(P.DOUT) is not None:
            outputs[P.DOUT_AFTER] = save_value(f"{prefix}dout", dout)
        grads = [dx] + [getattr(layer, attr, None) for attr in request.get(P.GRAD_ATTRS, [])]
        outputs[P.GRADS] = [None if g is None else save_value(f"{prefix}grad{i}", g) for i, g in enumerate(grads)]
        outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
        return {P.OK: True, P.RESULTS: outputs}
    except Exception as error:  # noqa: BLE001
        return failed(stage, error, outputs)


def accepted_kwargs(function, choices):
    """{name: value} for each [names, spec] of `choices`: the first of the names that `function`'s
    signature takes (each edition of a course names its arguments differently); left out where none is."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    chosen = {}
    for names, spec in choices:
        name = next((n for n in names if n in parameters), None)
        if name is not None:
            chosen[name] = load_arg(spec)
    return chosen


def plain_outputs(stage, result, args, k, prefix, outputs):
    """A function's or method's outputs without a cache: the first k (stacked where k > 1) as OUT,
    the next ones as MORE, and the arguments after the call."""
    outs = result if isinstance(result, tuple) else (result,)
    if len(outs) < k:
        raise TypeError(f"{stage} returned {len(outs)} outputs, not {k}")
    if any(o is None for o in outs[:k]):
        raise NotYet(f"{stage} returns None for an output")
    together = outs[0] if k == 1 else TORCH.stack(list(outs[:k])) if TORCH is not None else _asarray(outs[:k])
    outputs[P.OUT] = save_value(f"{prefix}out", together)
    outputs[P.MORE] = [save_value(f"{prefix}more{i}", o) for i, o in enumerate(outs[k : k + 2])]
    outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
    return outputs


def run_module(module, request, prefix):
    """A torch nn.Module the course builds on autograd on purpose (WordEmbedding, LSTM): built with
    the constructor arguments its signature takes, its parameters set to the grader's values, one
    method called with autograd off; its outputs judged forward only."""
    outputs, stage = {}, request[P.CLS]
    try:
        mark(stage)
        cls = getattr(module, request[P.CLS])
        built = cls(**accepted_kwargs(cls, request.get(P.CHOICES, [])))
        for name, spec in request[P.PARAMS].items():
            value = load_arg(spec)
            if TORCH is not None and isinstance(getattr(built, name, None), TORCH.nn.Parameter):
                value = TORCH.nn.Parameter(value)
            setattr(built, name, value)
        stage = f"{request[P.CLS]}.{request[P.METHOD]}"
        mark(stage)
        args = [load_arg(a) for a in request[P.ARGS]]
        with TORCH.no_grad() if TORCH is not None else contextlib.nullcontext():
            result = check_done(stage, getattr(built, request[P.METHOD])(*args))
        return {
            P.OK: True,
            P.RESULTS: plain_outputs(stage, result, args, request.get(P.OUTPUTS_COUNT, 1), prefix, outputs),
        }
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return failed(stage, error, outputs)


def run_model(module, request, prefix):
    """A model class: built with the constructor arguments its signature takes, its params set to the
    grader's values, then loss(X, y) -> (loss, grads) with grads keyed as params are."""
    outputs, stage = {}, request[P.CLS]
    try:
        mark(stage)
        cls = getattr(module, request[P.CLS])
        model = cls(**accepted_kwargs(cls, request.get(P.CHOICES, [])))
        params = getattr(model, "params", None)
        if not isinstance(params, dict):
            raise TypeError(f"{stage} keeps no params dict (model.params)")
        outputs[P.INIT_KEYS] = [key for key in params if isinstance(key, str)][:64]
        for key, spec in request[P.PARAMS].items():
            params[key] = load_arg(spec)
        stage = f"{request[P.CLS]}.loss"
        mark(stage)
        args = [load_arg(a) for a in request[P.ARGS]]
        if request.get(P.SCORES):  # loss(X): the test-time scores
            outputs[P.OUT] = save_value(f"{prefix}out", check_done(stage, model.loss(*args)))
            return {P.OK: True, P.RESULTS: outputs}
        keywords = accepted_kwargs(model.loss, request.get(P.LOSS_CHOICES, []))
        result = check_done(stage, call_recorded(request, stage, model.loss, args, outputs, prefix, keywords))
        if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], dict):
            return {
                P.OK: False,
                P.STAGE: stage,
                P.ERROR: f"{stage} returned {type(result).__name__}, not (loss, grads)",
            }
        loss, grads = result
        if loss is None:
            raise NotYet(f"{stage} returns None for its loss")
        outputs[P.OUT] = save_value(f"{prefix}out", loss)
        outputs[P.GRADS] = [
            None if grads.get(key) is None else save_value(f"{prefix}grad{i}", grads[key])
            for i, key in enumerate(request[P.GRAD_KEYS])
        ]
        outputs[P.GRAD_NAMES] = [key for key in grads if isinstance(key, str)][:64]
        outputs[P.ARGS_AFTER] = [save_after(f"{prefix}arg{i}", a) for i, a in enumerate(args)]
        return {P.OK: True, P.RESULTS: outputs}
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return failed(stage, error, outputs)


def module_name(code_root, path):
    """The dotted name of a file under the code folder (its folders become packages, as in the course)."""
    parts = os.path.relpath(path, code_root)[:-3].split(os.sep)
    return ".".join(parts) if all(p.isidentifier() for p in parts) else None


def _inside(module, code_root):
    paths = list(getattr(module, "__path__", None) or []) + [getattr(module, "__file__", None) or ""]
    return any(p.startswith(code_root + os.sep) for p in paths)


def load_module(code_root, path):
    """Import one file of the submission under its dotted name, so that its siblings can import it too."""
    name = module_name(code_root, path)
    package = relative_package(path) if name and "." not in name else None
    if package:  # a loose file written for the course's package: imported in it, its imports relative
        return importlib.import_module(f"{package}.{name}")
    top = sys.modules.get(name.split(".")[0]) if name else None
    if name and (top is None or _inside(top, code_root)):  # not a clash with numpy or the stdlib
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location("submission_" + str(len(sys.modules)), path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Namespace:
    """The gradable names of all the submission's modules; the first module that has a name wins."""

    def __init__(self, modules):
        self.names = {}
        for module in modules:
            for name, value in vars(module).items():
                if not name.startswith("_"):
                    self.names.setdefault(name, value)

    def __getattr__(self, name):
        top, _, rest = name.partition(".")
        try:
            value = self.names[top]
        except KeyError:
            raise AttributeError(f"the submission defines no {top}") from None
        for part in rest.split(".") if rest else ():  # Linear.backward: a class's static method
            value = getattr(value, part)
        return value


def with_fast_layers_used(answer):
    """The answer, saying which *_naive functions the shipped fast layers served (where allowed)."""
    used = getattr(sys.modules.get("cs231n.fast_layers"), "USED", None)
    if used and isinstance(answer.get(P.RESULTS), dict):
        answer[P.RESULTS][P.FAST_LAYERS] = [str(name)[:80] for name in list(used)[:20]]
    return answer


def main():
    global SUBMISSION, MEMORY_MB
    MEMORY_MB = CONFIG["memory_mb"]
    try:
        start_framework(CONFIG)
        set_limits(CONFIG)
    except (OSError, ValueError, ImportError) as error:
        reply({P.OK: False, P.STAGE: P.IMPORT_STAGE, P.ERROR: f"the sandbox could not be set up: {error}"})
        return
    code_root = CONFIG["code"]
    SUBMISSION = code_root
    blocker, stand_ins = ImportBlocker(CONFIG["blocked"]), StandIns()
    sys.meta_path.insert(0, blocker)
    sys.meta_path.insert(1, LooseCourseFiles())
    sys.meta_path.append(CourseSupport(CONFIG.get("course_support")))
    if CONFIG.get("fast_layers_allowed"):  # read by the shipped cs231n.fast_layers when it is called
        os.environ["GRADREF_FAST_LAYERS"] = "allowed"
    sys.meta_path.append(stand_ins)
    sys.path.insert(0, code_root)
    try:
        mark(P.IMPORT_STAGE)
        module = Namespace([load_module(code_root, os.path.join(code_root, rel)) for rel in CONFIG["modules"]])
    except BaseException as error:  # noqa: BLE001 - SystemExit at import time included
        reply({P.OK: False, P.STAGE: P.IMPORT_STAGE, P.ERROR: describe(error)})
        return
    reply(
        {
            P.OK: True,
            P.NAMES: sorted(module.names),
            P.REFUSED: sorted(blocker.imported),
            P.MISSING: sorted(stand_ins.imported),
        }
    )
    for number, line in enumerate(sys.stdin):
        request = json.loads(line)
        run = {P.CLASS: run_class, P.MODEL: run_model, P.MODULE: run_module}.get(request[P.KIND], run_function)
        reply(with_fast_layers_used(run(module, request, request.get(P.PREFIX, f"r{number}-"))))


if __name__ == "__main__":
    main()
