"""The grader's side of the sandbox: one worker process per submission, restarted after a crash.

The worker is confined by `confine` (bubblewrap, or a plain process). Everything it sends back is
hostile data: replies are bounded JSON lines, result files are opened by names the grader expects,
inside the worker's results folder only, as regular files, and loaded only after their .npy header
says they hold a plain numeric array of a bounded size. Limits: a wall-clock deadline per call, and a
watchdog over the worker's whole process tree (resident memory, number of processes, disk use) on
top of the rlimits the worker sets before the submission runs.
"""

import json
import os
import re
import selectors
import shutil
import stat
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass

import numpy as np

from ..text import clean
from . import confine
from . import protocol as P

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
BLOCKED = (
    "jax",
    "jaxlib",
    "torch",
    "autograd",
    "tensorflow",
    "flax",
    "optax",
    "cupy",
    "gradref",
    "conformance",
    "manual_grads",
    "reference",
    "bench",
)
POLL_S = 0.02
WATCH_S = 0.1  # how often the process tree is measured
MAX_REPLY = 1 << 20  # bytes of one reply line
MAX_RESULT = 256 << 20  # bytes of one result file
MAX_PROCESSES = 32
DISK_MB = 512
TAIL = 4096  # bytes of the worker's stderr that are kept
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}\.npy$")


@dataclass
class Outcome:
    """What came back from one call: a reply, or why none did."""

    status: str  # "ok", "error" (the code raised), "crash", "timeout", "memory", "limit"
    reply: dict = None
    message: str = ""
    stage: str = ""  # the student's function that was running when the process broke


class BadResult(Exception):
    """A result file that is not a plain numeric array (the message says what it is instead)."""


# ----- the worker's process tree, seen from outside -----


def _children():
    """{parent pid: [child pids]} for every process visible in /proc."""
    tree = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree(root):
    """The pids of `root` and all its descendants (re-parented daemons of a PID namespace included)."""
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, ()))
    return found


def _rss_mb(pid):
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def disk_mb(folder, max_entries=20_000):
    """Bytes held under `folder` in MB (infinite past max_entries files: a flood of files counts as full)."""
    total, seen, todo = 0, 0, [folder]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > max_entries:
                return float("inf")
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                todo.append(entry.path)
    return total / 2**20


# ----- the submission's files -----

MAX_FILES, MAX_TREE_MB = 2000, 50


def python_files(folder):
    """Relative paths of the .py files under a folder (no hidden folders, no caches, no links)."""
    found = []
    for base, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d != "__pycache__" and not os.path.islink(os.path.join(base, d))
        )
        for name in sorted(files):
            path = os.path.join(base, name)
            if name.endswith(".py") and not os.path.islink(path) and os.path.isfile(path):
                found.append(os.path.relpath(path, folder))
    return found


def copy_python_tree(source, target):
    """Copy the .py files of a folder, keeping its layout; refuse floods."""
    files = python_files(source)
    total = sum(os.path.getsize(os.path.join(source, f)) for f in files[: MAX_FILES + 1])
    if len(files) > MAX_FILES or total > MAX_TREE_MB * 2**20:
        raise ValueError(f"{source} holds more than {MAX_FILES} Python files or {MAX_TREE_MB} MB of them")
    for rel in files:
        os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
        shutil.copyfile(os.path.join(source, rel), os.path.join(target, rel))
    os.makedirs(target, exist_ok=True)


# ----- result files -----


def read_npy(dir_fd, name, max_bytes=MAX_RESULT):
    """Load `name` from the results folder as a plain ndarray, or raise BadResult saying why not."""
    if not SAFE_NAME.match(name or ""):
        raise BadResult("the result has no valid file name")
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as error:
        raise BadResult(f"the result file could not be opened ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadResult("the result is not a regular file")
        if info.st_size > max_bytes:
            raise BadResult(
                f"the result file is {info.st_size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB limit"
            )
        try:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle, max_header_size=10_000)
        except (ValueError, SyntaxError, TypeError, OSError) as error:
            raise BadResult(f"the result is not a .npy array ({error})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
            raise BadResult(f"the result has dtype {clean(str(dtype), 60)}, not a real number type")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dtype.itemsize != info.st_size - handle.tell():
            raise BadResult("the result file's size does not match its header")
        data = handle.read(count * dtype.itemsize)
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(array)  # owned and writable; still of the student's dtype, compared as float64


# ----- the sandbox -----

LIVE = weakref.WeakSet()


def close_all_sandboxes():
    """Kill every worker this process started and remove its files (on SIGTERM, before exiting).
    Safe inside a signal handler: it never waits on a lock the interrupted code may hold."""
    for sandbox in list(LIVE):
        try:
            sandbox.kill()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


class Sandbox:
    """A worker for `submission`; `call()` restarts it whenever the previous call killed it."""

    def __init__(
        self,
        submission,
        timeout=10.0,
        memory_mb=2048,
        allow_imports=(),
        isolation=confine.PROCESS,
        support=(),
        modules=None,
    ):
        self.submission = os.path.abspath(submission)
        self.timeout, self.memory_mb, self.isolation = timeout, memory_mb, isolation
        self.allow_imports = tuple(allow_imports)
        # Allowing a name allows what it prefixes too: jax needs jaxlib.
        self.blocked = [name for name in BLOCKED if not any(name.startswith(a) for a in allow_imports)]
        self.uid = confine.dedicated_uid() if isolation == confine.BWRAP else confine.process_uid()
        self.root = tempfile.mkdtemp(prefix="gradref-sandbox-")
        os.chmod(self.root, 0o711)  # a switched uid may pass through, not list
        self.layout = confine.Layout(*(os.path.join(self.root, d) for d in ("code", "in", "out")))
        self.modules = modules or [os.path.basename(self.submission)]
        self._fill_code(support)
        os.mkdir(self.layout.inputs, 0o755)
        self.inputs_fd = os.open(self.layout.inputs, os.O_DIRECTORY | os.O_CLOEXEC)
        self.proc, self.hello, self.counter, self.results_fd = None, None, 0, None
        self.calls, self.prefix, self.cgroup = 0, "", None
        LIVE.add(self)

    def _fill_code(self, support):
        """The submission (a file, or a student's folder) and the course's support modules, copied:
        Python files and folders only, never links."""
        os.mkdir(self.layout.code, 0o755)
        if os.path.isfile(os.path.join(self.submission, "__init__.py")):  # a package: keep its name
            copy_python_tree(self.submission, os.path.join(self.layout.code, os.path.basename(self.submission)))
        elif os.path.isdir(self.submission):
            copy_python_tree(self.submission, self.layout.code)
        else:
            shutil.copyfile(self.submission, os.path.join(self.layout.code, os.path.basename(self.submission)))
        for path in support:
            target = os.path.join(self.layout.code, os.path.basename(os.path.normpath(path)))
            if os.path.isdir(path):
                copy_python_tree(path, target)
            else:
                shutil.copyfile(path, target)
        for folder, _, files in os.walk(self.layout.code):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)

    # ----- process management -----

    def _fresh_results(self):
        """A new, empty results folder owned by the sandbox uid (the old one may hold anything)."""
        if self.results_fd is not None:
            os.close(self.results_fd)
        old = self.layout.results
        if os.path.lexists(old):
            shutil.rmtree(old, ignore_errors=True)
            if os.path.lexists(old):  # e.g. a file it made unremovable: move it aside instead
                os.rename(old, tempfile.mktemp(dir=self.root, prefix="old-"))
        os.mkdir(old, 0o700)
        if self.uid is not None:
            os.chown(old, self.uid, self.uid)
        self.results_fd = os.open(old, os.O_DIRECTORY | os.O_CLOEXEC)

    def start(self):
        """Start a fresh worker; returns its hello (the names the module defines, or the import error)."""
        self.stop()
        self._fresh_results()
        config = {
            "memory_mb": self.memory_mb,
            "blocked": self.blocked,
            "max_processes": MAX_PROCESSES,
            "file_mb": DISK_MB,
            "limit_processes": self.uid is not None,
        }
        config["modules"] = self.modules
        if self.isolation == confine.BWRAP:
            argv = confine.bwrap_command(self.layout, WORKER, config, self.allow_imports, self.uid)
            cwd, env = "/", {}
        else:
            argv = confine.process_command(self.layout, WORKER, config, self.allow_imports)
            cwd, env = self.layout.results, confine.worker_env(self.layout.results)
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        self.cgroup = confine.limit_in_cgroup(
            self.proc.pid, self.memory_mb, MAX_PROCESSES + 4, f"gradref-{os.getpid()}-{self.calls}"
        )
        self.buffer, self.tail, self.next_watch = b"", b"", 0.0
        outcome = self._wait(self.timeout + 20)  # importing numpy and the submission takes a moment
        self.hello = (
            outcome.reply
            if outcome.status == "ok"
            else {P.OK: False, P.STAGE: P.IMPORT_STAGE, P.ERROR: outcome.message}
        )
        return self.hello

    def stop(self):
        """End the worker and everything it started (its PID namespace dies with it)."""
        if self.proc is None:
            return
        self.proc.poll()
        self._kill_tree()
        self.proc.wait()
        confine.kill_everything_of(self.uid)
        confine.remove_cgroup(self.cgroup)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        self.proc = None

    def _kill_tree(self):
        """SIGKILL the worker and its descendants, deepest first; never a pid already reaped (it may
        belong to someone else by now)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        for pid in reversed(process_tree(self.proc.pid)):
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    def kill(self):
        """End the worker and its files without waiting for it (Popen.wait's lock may be held by the
        code a signal interrupted); the process that calls this exits next."""
        self._kill_tree()
        confine.kill_everything_of(self.uid)
        confine.remove_cgroup(self.cgroup)
        shutil.rmtree(self.root, ignore_errors=True)

    def close(self):
        self.stop()
        for fd in (self.inputs_fd, self.results_fd):
            if fd is not None:
                os.close(fd)
        self.inputs_fd = self.results_fd = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and bool(self.hello and self.hello.get(P.OK))

    # ----- calls -----

    def put(self, array):
        """Write an input array for the next call (never through a link); returns its argument spec."""
        self.counter += 1
        name = f"in{self.counter}.npy"
        fd = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=self.inputs_fd
        )
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
        return {P.FILE: name}

    def call(self, request, n_calls=1):
        """Send one request; wait up to n_calls x timeout for its reply."""
        if not self.alive():
            hello = self.start()
            if not hello.get(P.OK):
                return Outcome("error", message=hello.get(P.ERROR, "the submission could not be loaded"))
        self.calls += 1
        self.prefix = f"c{self.calls}-"
        request = {**request, P.PREFIX: self.prefix}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died()
        outcome = self._wait(self.timeout * n_calls)
        if outcome.status == "ok" and not outcome.reply.get(P.OK):
            return Outcome(
                "error",
                outcome.reply,
                clean(str(outcome.reply.get(P.ERROR, "failed"))),
                clean(str(outcome.reply.get(P.STAGE, "")), 120),
            )
        if outcome.status != "ok":
            outcome.stage = self._stage()
        return outcome

    def _stage(self):
        try:
            fd = os.open(P.STAGE_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.results_fd)
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return ""
                return clean(handle.read(200).decode(errors="replace").strip(), 120)
        except OSError:
            return ""

    def load(self, spec):
        """A result as an exact float64-comparable np.ndarray; BadResult when it is anything else."""
        if not isinstance(spec, dict):
            raise BadResult("no result came back")
        name = spec.get(P.FILE)
        if not isinstance(name, str) or not name.startswith(self.prefix):
            raise BadResult("the result is not one this call asked for")
        return read_npy(self.results_fd, name)

    # ----- waiting -----

    def _wait(self, limit):
        deadline = time.monotonic() + limit
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ, "reply")
            selector.register(self.proc.stderr, selectors.EVENT_READ, "stderr")
            while b"\n" not in self.buffer:
                now = time.monotonic()
                if now > deadline:
                    self.stop()
                    return Outcome(
                        "timeout", message=f"no answer within {limit:g} s (an endless loop?); the process was stopped"
                    )
                if now >= self.next_watch:
                    self.next_watch = now + WATCH_S
                    broken = self._over_limits()
                    if broken:
                        self.stop()
                        return broken
                for key, _ in selector.select(POLL_S):
                    chunk = os.read(key.fileobj.fileno(), 1 << 16)
                    if key.data == "stderr":
                        self.tail = (self.tail + chunk)[-TAIL:]
                        if not chunk:
                            selector.unregister(self.proc.stderr)
                        continue
                    if not chunk:
                        return self._died()
                    self.buffer += chunk
                    if len(self.buffer) > MAX_REPLY and b"\n" not in self.buffer:
                        self.stop()
                        return Outcome(
                            "crash",
                            message="the submission's process wrote more than "
                            f"{MAX_REPLY >> 20} MB where its reply goes",
                        )
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            reply = None
        if not isinstance(reply, dict):
            self.stop()
            return Outcome("crash", message="the submission's process wrote something that is not a reply")
        return Outcome("ok", reply)

    def _over_limits(self):
        """An Outcome when the worker's process tree is past a limit, else None."""
        pids = process_tree(self.proc.pid)
        if len(pids) > MAX_PROCESSES + 3:  # + bwrap's own two processes and the worker
            return Outcome("limit", message=f"started more than {MAX_PROCESSES} processes; the process was stopped")
        if sum(_rss_mb(pid) for pid in pids) > self.memory_mb:
            return Outcome("memory", message=f"used more than {self.memory_mb} MB of memory; the process was stopped")
        if disk_mb(self.layout.results) > DISK_MB:
            return Outcome("limit", message=f"wrote more than {DISK_MB} MB of files; the process was stopped")
        return None

    def _died(self):
        code = self.proc.wait() if self.proc else None
        self.stop()
        tail = self.stderr_tail()
        if code is not None and code < 0 and -code == 9:
            return Outcome("memory", message="the process was killed (out of memory?)")
        detail = f"; it printed: {tail}" if tail else ""
        return Outcome(
            "crash", message=f"the submission's process exited with code {code} (sys.exit or os._exit?){detail}"
        )

    def stderr_tail(self, lines=3):
        text = self.tail.decode(errors="replace").strip().splitlines()
        return clean(" | ".join(text[-lines:]), 400)
