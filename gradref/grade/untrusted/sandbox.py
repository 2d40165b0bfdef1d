"""The grader's side of the sandbox: one worker process per submission, restarted after a crash.

The worker is confined by `confine` (bubblewrap, or a plain process). Everything it sends back is
hostile data: replies are bounded JSON lines, result files are opened by names the grader expects,
inside the worker's results folder only, as regular files, and loaded only after their .npy header
says they hold a plain numeric array of a bounded size. Limits: a wall-clock deadline per call, and a
watchdog over the worker's whole process tree (resident memory, number of processes, disk use) on
top of the rlimits the worker sets before the submission runs.
"""

import contextlib
import functools
import json
import os
import re
import select
import selectors
import shutil
import stat
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass

import numpy as np

from ...text import clean
from . import confine, syscalls, worker_root
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
MAX_READ = 512 << 20  # bytes of result files read from one submission in all
LARGER_THAN_ASKED = 16  # a result may hold this many times the entries it should (a shape mistake), no more
SEND_S = 2.0  # how long the worker may leave a request unread (it waits on it: a moment is plenty)
REAP_S = 2.0  # how long a worker that closed its reply channel may take to exit
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


def _children_of(pid):
    """The pids `pid`'s threads started, from /proc/PID/task/TID/children (a few small reads, where
    scanning all of /proc reads one file per process on the machine); None where the kernel has no
    such file (built without CONFIG_PROC_CHILDREN)."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone meanwhile
    found = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found.extend(int(child) for child in handle.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None
        except OSError:
            continue
    return found


def process_tree(root, scan=False):
    """The pids of `root` and all its descendants (re-parented daemons of a PID namespace included:
    they are children of the namespace's first process, itself a descendant). From each process's
    children files, or, with `scan` or where the kernel has none, from a scan of all of /proc."""
    tree = _children() if scan else None
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        children = tree.get(pid, ()) if tree is not None else _children_of(pid)
        if children is None:
            return process_tree(root, scan=True)
        todo.extend(children)
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
MAX_DEPTH = 16  # folders deeper than this in a submission are not looked into
MAX_ENTRIES = 20_000  # files and folders looked at in one submission


def python_files(folder, suffixes=(".py",)):
    """Relative paths of the .py files (or those with other `suffixes`) under a folder (no hidden folders, no caches, no links, nothing
    deeper than MAX_DEPTH), in os.walk's order; ValueError for a flood of entries. No recursion: a
    folder nested a thousand deep is only a deep folder."""
    found, seen, todo = [], 0, [("", 0)]
    while todo:
        rel, depth = todo.pop()
        try:
            entries = sorted(os.scandir(os.path.join(folder, rel)), key=lambda e: e.name)
        except OSError:
            continue
        seen += len(entries)
        if seen > MAX_ENTRIES:
            raise ValueError(
                f"{os.path.basename(os.path.normpath(folder))} holds more than {MAX_ENTRIES} files and folders"
            )
        folders = []
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith(".") and entry.name != "__pycache__" and depth < MAX_DEPTH:
                    folders.append(os.path.join(rel, entry.name))
            elif entry.name.endswith(suffixes) and entry.is_file(follow_symlinks=False):
                found.append(os.path.join(rel, entry.name))
        todo.extend((sub, depth + 1) for sub in reversed(folders))
    return found


def remove_tree(path):
    """Remove a folder whatever it holds and however deep, without recursion and without following a
    link: the folders inside are moved up into it one level at a time, and removed once empty."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        top = os.open(path, flags)
    except FileNotFoundError:
        return
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    token, moved, stuck = os.urandom(4).hex(), 0, set()
    try:
        progress = True
        while progress:
            progress = False
            for entry in list(os.scandir(top)):
                if entry.name in stuck:
                    continue
                try:
                    if not entry.is_dir(follow_symlinks=False):
                        os.unlink(entry.name, dir_fd=top)
                        progress = True
                        continue
                    with contextlib.suppress(OSError):
                        os.rmdir(entry.name, dir_fd=top)
                        progress = True
                        continue
                    inner = os.open(entry.name, flags, dir_fd=top)
                    try:
                        for child in list(os.scandir(inner)):
                            if child.is_dir(follow_symlinks=False):
                                moved += 1
                                os.rename(child.name, f".gradref-{token}-{moved}", src_dir_fd=inner, dst_dir_fd=top)
                            else:
                                os.unlink(child.name, dir_fd=inner)
                            progress = True
                    finally:
                        os.close(inner)
                except OSError:
                    stuck.add(entry.name)
    finally:
        os.close(top)
    with contextlib.suppress(OSError):
        os.rmdir(path)


SANDBOX_PREFIX = "gradref-sandbox-"


MEMORY_FOLDER = "/dev/shm"
TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")


def sandbox_folder(isolation):
    """Where a sandbox's folder goes: the memory-backed /dev/shm when the worker is bound in by
    bubblewrap and nobody named a temporary folder (a grade writes thousands of small .npy files, and
    creating a file there costs a tenth of what it does on a disk: graded files take a quarter less
    time); else the system's temporary folder (process mode as root hard-links the interpreter and
    its libraries into the sandbox, which needs their file system)."""
    if isolation == confine.BWRAP and not any(os.environ.get(v) for v in TEMP_VARIABLES) and _memory_folder_usable():
        return MEMORY_FOLDER
    return tempfile.gettempdir()


@functools.lru_cache(maxsize=1)
def _memory_folder_usable():
    """A tmpfs like /tmp (sticky, everyone may write) with room for a submission's files."""
    try:
        info, room = os.stat(MEMORY_FOLDER), os.statvfs(MEMORY_FOLDER)
    except OSError:
        return False
    sticky_and_open = stat.S_ISDIR(info.st_mode) and info.st_mode & 0o1777 == 0o1777
    return (
        sticky_and_open
        and os.access(MEMORY_FOLDER, os.W_OK | os.X_OK)
        and room.f_bavail * room.f_frsize > 4 * DISK_MB << 20
    )


def remove_stale_sandboxes():
    """Remove the sandbox folders of graders that were killed before they could (their pid is gone)."""
    for folder in dict.fromkeys((tempfile.gettempdir(), sandbox_folder(confine.BWRAP))):
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if not entry.name.startswith(SANDBOX_PREFIX) or entry.is_symlink():
                    continue
                pid = entry.name[len(SANDBOX_PREFIX) :].split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)) and entry.stat(follow_symlinks=False).st_uid == os.geteuid():
                    remove_tree(entry.path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


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


def read_npy(dir_fd, name, max_bytes=MAX_RESULT, like=None):
    """Load `name` from the results folder as a plain ndarray, or raise BadResult saying why not.
    With `like` (what the result should look like), a result far larger than it is refused from its
    header, before a byte of it is read."""
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
        if like is not None and count > max(LARGER_THAN_ASKED * np.size(like), 64):
            raise BadResult(f"it has shape {clean(str(tuple(shape)), 80)}, want {np.shape(like)}")
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
        budget=600.0,
        course_support=None,
        fast_layers_allowed=False,
        framework="numpy",
        device="cpu",
    ):
        self.submission = os.path.abspath(submission)
        self.timeout, self.memory_mb, self.isolation = timeout, memory_mb, isolation
        self.framework, self.device = framework, device  # torch: arguments and results are torch tensors
        self.allow_imports = tuple(allow_imports) + (("torch",) if framework == "torch" else ())
        self.course_support = course_support  # a folder of modules the course ships (import cs231n.im2col)
        self.fast_layers_allowed = fast_layers_allowed  # its fast layers may serve a *_naive function
        # Allowing a name allows what it prefixes too: jax needs jaxlib.
        self.blocked = [name for name in BLOCKED if not any(name.startswith(a) for a in self.allow_imports)]
        self.uid = confine.dedicated_uid() if isolation == confine.BWRAP else confine.process_uid()
        self.root = tempfile.mkdtemp(prefix=f"{SANDBOX_PREFIX}{os.getpid()}-", dir=sandbox_folder(isolation))
        os.chmod(self.root, 0o711)  # a switched uid may pass through, not list
        self.layout = confine.Layout(*(os.path.join(self.root, d) for d in ("code", "in", "out")))
        self.modules = modules or [os.path.basename(self.submission)]
        self._fill_code(support)
        self.syscall_filter = self._write_syscall_filter()
        os.mkdir(self.layout.inputs, 0o755)
        self.inside = (  # process mode as root: the sandbox folder becomes the worker's whole file system
            confine.furnish_worker_root(self.layout, WORKER, self.allow_imports, course_support, device == "cuda")
            if isolation == confine.PROCESS and confine.uses_worker_root()
            else None
        )
        self.inputs_fd = os.open(self.layout.inputs, os.O_DIRECTORY | os.O_CLOEXEC)
        self.proc, self.hello, self.counter, self.results_fd = None, None, 0, None
        self.calls, self.prefix, self.cgroup, self.bytes_read = 0, "", None, 0
        self.budget, self.deadline = budget, time.monotonic() + budget
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
        for rel in python_files(self.layout.code):
            os.chmod(os.path.join(self.layout.code, rel), 0o644)
            folder = os.path.dirname(rel)
            while folder:
                os.chmod(os.path.join(self.layout.code, folder), 0o755)
                folder = os.path.dirname(folder)

    def _write_syscall_filter(self):
        """The system-call filter's program, readable by the worker; None where it cannot be built."""
        program = syscalls.program()
        if program is None:
            return None
        path = os.path.join(self.root, "syscalls.bpf")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), "wb") as handle:
            handle.write(program)
        return path

    # ----- process management -----

    def _fresh_results(self):
        """A new, empty results folder owned by the sandbox uid (the old one may hold anything)."""
        if self.results_fd is not None:
            os.close(self.results_fd)
        old = self.layout.results
        if os.path.lexists(old):
            remove_tree(old)
            if os.path.lexists(old):  # e.g. a file it made unremovable: move it aside instead
                os.rename(old, tempfile.mktemp(dir=self.root, prefix="old-"))
        os.mkdir(old, 0o700)
        if self.uid is not None:
            os.chown(old, self.uid, self.uid)
        self.results_fd = os.open(old, os.O_DIRECTORY | os.O_CLOEXEC)

    def start(self):
        """Start a fresh worker; returns its hello (the names the module defines, or the import error)."""
        self.stop()
        if self.over_budget():
            self.hello = {P.OK: False, P.STAGE: P.IMPORT_STAGE, P.ERROR: self._budget_spent().message}
            return self.hello
        self._fresh_results()
        config = {
            "memory_mb": self.memory_mb,
            "blocked": self.blocked,
            "max_processes": MAX_PROCESSES,
            "file_mb": DISK_MB,
            "limit_processes": self.uid is not None,
            "fast_layers_allowed": self.fast_layers_allowed,
            "framework": self.framework,
            "device": self.device,
        }
        config["modules"] = self.modules
        config["preload"] = self.uid is not None and confine.preload_needed(self.isolation)
        filter_fd = os.open(self.syscall_filter, os.O_RDONLY) if self.syscall_filter else None
        try:
            if self.isolation == confine.BWRAP:
                argv = confine.bwrap_command(
                    self.layout, WORKER, config, self.allow_imports, self.uid, filter_fd, self.course_support
                )
                cwd, env = "/", {}
            else:
                argv = confine.process_command(
                    self.layout,
                    WORKER,
                    config,
                    self.allow_imports,
                    self.syscall_filter,
                    self.course_support,
                    self.inside,
                )
                # Its results folder, as the worker sees it (inside its own root, where it has one).
                results = (
                    self.layout.results if self.inside is None else worker_root.inside(self.root, self.layout.results)
                )
                cwd, env = self.layout.results, confine.worker_env(results, self.device == "cuda")
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
                pass_fds=() if filter_fd is None else (filter_fd,),
            )
        finally:
            if filter_fd is not None:
                os.close(filter_fd)
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
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=REAP_S)
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
        remove_tree(self.root)

    def close(self):
        self.stop()
        for fd in (self.inputs_fd, self.results_fd):
            if fd is not None:
                os.close(fd)
        self.inputs_fd = self.results_fd = None
        remove_tree(self.root)

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

    def call(self, request, n_calls=1, limit=None):
        """Send one request; wait up to n_calls x timeout (or `limit` seconds) for its reply, never past
        the budget."""
        if self.over_budget():
            return self._budget_spent()
        if not self.alive():
            hello = self.start()
            if not hello.get(P.OK):
                return Outcome("error", message=hello.get(P.ERROR, "the submission could not be loaded"))
        self.calls += 1
        self.prefix = f"c{self.calls}-"
        request = {**request, P.PREFIX: self.prefix}
        sent = self._send((json.dumps(request) + "\n").encode())
        if sent is not True:
            return sent
        outcome = self._wait(self.timeout * n_calls if limit is None else limit)
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

    def load(self, spec, like=None):
        """A result as an exact float64-comparable np.ndarray; BadResult when it is anything else, far
        larger than `like` (what it should look like), or past what one submission may have read."""
        if not isinstance(spec, dict):
            raise BadResult("no result came back")
        name = spec.get(P.FILE)
        if not isinstance(name, str) or not name.startswith(self.prefix):
            raise BadResult("the result is not one this call asked for")
        array = read_npy(self.results_fd, name, max(0, min(MAX_RESULT, MAX_READ - self.bytes_read)), like)
        self.bytes_read += array.nbytes
        return array

    # ----- the budget -----

    def over_budget(self):
        return time.monotonic() > self.deadline

    def _budget_spent(self):
        return Outcome("timeout", message=f"the submission used up its {self.budget:g} s; the rest was not run")

    def _send(self, data):
        """Write a request within SEND_S (a worker that stops reading never blocks the grader): True,
        or the Outcome that says why not."""
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        view, deadline = memoryview(data), time.monotonic() + SEND_S
        while view:
            if time.monotonic() > deadline:
                self.stop()
                return Outcome("crash", message="the submission's process stopped reading the grader's requests")
            try:
                if select.select([], [fd], [], POLL_S)[1]:
                    view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
            except OSError:
                return self._died()
        return True

    # ----- waiting -----

    def _wait(self, limit):
        deadline = min(time.monotonic() + limit, self.deadline)
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ, "reply")
            selector.register(self.proc.stderr, selectors.EVENT_READ, "stderr")
            while b"\n" not in self.buffer:
                now = time.monotonic()
                if now > deadline:
                    self.stop()
                    if self.over_budget():
                        return self._budget_spent()
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
        except (ValueError, RecursionError):  # a bad document, bad UTF-8, a 5000-digit integer, deep nesting
            reply = None
        if not P.valid_reply(reply):
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
        try:
            code = self.proc.wait(timeout=REAP_S) if self.proc else None
        except subprocess.TimeoutExpired:
            self.stop()
            return Outcome("crash", message="the submission's process closed its reply channel and went on running")
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
