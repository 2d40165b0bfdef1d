"""How a worker process is confined: a bubblewrap sandbox, or (without bwrap) a plain process.

The worker sees, under bwrap: a read-only /usr and the interpreter's prefix with every site-packages
hidden, numpy (and the packages --allow-imports names) bound read-only under /sandbox/site, the
worker script, the submission's own folder (read-only), the grader's inputs (read-only) and one
writable folder for its results. New PID, network, IPC and UTS namespaces, no capabilities and an
unprivileged uid: as root, a dedicated uid of its own (so that process counts and file permissions
apply to the submission and to nothing else); otherwise "nobody" in a new user namespace.
"""

import functools
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass

from . import worker_root

BWRAP, PROCESS = "bwrap", "process"
SANDBOX_ROOT = "/sandbox"
INNER_UID = 65534  # "nobody" inside the namespace
UID_BASE = 1_900_000_000  # dedicated uids (root only): one per grading process, never a real user's
HIDDEN_PACKAGES = ("conformance", "manual_grads", "reference", "bench", "gradref", "examples")
ISOLATION_NOTE = {
    BWRAP: "bubblewrap sandbox: own user, PID, network and IPC namespaces, read-only root, no view "
    "of the grader, other submissions or reports",
    PROCESS: "process-only isolation: the submission runs as a separate process with limits but can see "
    "this machine's files, so a pass is advisory",
}
LANDLOCK_NOTE = (
    "process isolation with Landlock: the submission runs as a separate process, under a uid of its own, "
    "with limits, and may read only its own files, the standard library and NumPy (no gradref, no other "
    "submissions, no /proc, no TCP); it shares the machine's PID and IPC namespaces"
)


def isolation_note(isolation, cache_folder=None, class_folder=None):
    """What a report says of the isolation a submission was graded under. In process mode as root:
    in a worker root of its own, which of the grader's and the class's paths the submission's uid
    could see there (none, checked once per folder by a worker started there); without one, with
    Landlock or without, what that uid could still read (gradref's cache folder made private first)."""
    if isolation == PROCESS and process_uid() is not None:
        seen = worker_root_check(cache_folder, class_folder)[1]  # first: one probe answers both
        if uses_worker_root():
            return ROOT_NOTE.format(landlock=" and Landlock" if landlock_abi() >= 1 else "") + (
                f"; yet the submission's uid could see {', '.join(seen)} there, so a pass is advisory"
                if seen
                else "; checked at start: none of gradref's code, jax, its cache or the class folder is there"
            )
        if landlock_abi() >= 1:
            return LANDLOCK_NOTE
        open_to_it = readable_by_sandbox_uid(cache_folder, class_folder)
        return PERMISSIONS_NOTE + (
            f"; the submission's uid can still read {', '.join(open_to_it)}"
            if open_to_it
            else "; file permissions checked at start: it can read none of gradref's code, its cache or the class folder"
        )
    return ISOLATION_NOTE[isolation]


ROOT_NOTE = (
    "process isolation in a worker root of its own: the submission runs as a separate process, under a "
    "uid of its own, with limits, confined by chroot{landlock} to a folder that holds only the standard library, "
    "NumPy (and what --allow-imports names), its own files and its results; it shares the machine's PID "
    "and IPC namespaces"
)
PERMISSIONS_NOTE = (
    "process-only isolation without Landlock: the submission runs as a separate process under a uid of "
    "its own, with limits, and file permissions alone keep it from this machine's files, so a pass is "
    "advisory"
)


def grader_paths(cache_folder=None, class_folder=None):
    """{what: path} that a submission's uid must not read: gradref's packages and the reference's
    libraries, its cache (the oracle's answers, the machine's secret), and the folder the submission
    was handed in from (its classmates')."""
    paths = {name: d for name in (*HIDDEN_PACKAGES, "jax", "jaxlib") for d in package_dirs([name])[:1]}
    if cache_folder:
        paths["gradref's cache"] = cache_folder
    if class_folder:
        paths["the class folder"] = class_folder
    return paths


def protect_cache(folder):
    """The cache folder private to the grader's uid: it is gradref's own, so gradref may set it (0700)."""
    try:
        if os.path.isdir(folder) and os.stat(folder).st_uid == os.geteuid():
            os.chmod(folder, stat.S_IMODE(os.stat(folder).st_mode) & 0o700)
    except OSError:
        pass


@functools.lru_cache(maxsize=None)
def readable_by_sandbox_uid(cache_folder=None, class_folder=None):
    """Which of grader_paths() the dedicated uid can open, tried by a child that becomes that uid
    (root only; () otherwise). The cache folder is made private first."""
    uid = process_uid()
    if uid is None:
        return ()
    if cache_folder:
        protect_cache(cache_folder)
    named = [(what, path) for what, path in grader_paths(cache_folder, class_folder).items() if os.path.exists(path)]
    # test -r asks the kernel (access(2)) as that uid, every folder above the path included.
    probe = subprocess.run(
        ["/bin/sh", "-c", 'for p; do if test -r "$p"; then echo 1; else echo 0; fi; done', "sh"]
        + [path for _, path in named],
        env={},
        cwd="/",
        capture_output=True,
        timeout=30,
        check=False,
        **_drop(uid),
    )
    answer = probe.stdout.split()
    return tuple(what for (what, _), opened in zip(named, answer) if opened == b"1")


# One worker root is started per process to learn whether chroot works here; each path a report asks
# about is looked for there once (a class folder the first probe did not know costs one more).
_ROOT_PROBE = {"tried": False, "problem": None, "seen": {}}


def worker_root_check(cache_folder=None, class_folder=None):
    """(problem, visible): None and the grader's paths that a worker started in a worker root of its
    own, as the submission's uid, can see there; or the sentence that says why no worker root can be
    had here (not root, no chroot(8), a container that refuses it)."""
    uid = process_uid()
    if uid is None:
        return "gradref does not run as root", ()
    if cache_folder:
        protect_cache(cache_folder)
    paths = [path for path in grader_paths(cache_folder, class_folder).values() if os.path.exists(path)]
    probe = _ROOT_PROBE
    unknown = [path for path in paths if path not in probe["seen"]]
    if not probe["tried"] or (unknown and probe["problem"] is None):
        problem, visible = worker_root.check(uid, worker_packages(), unknown)
        probe.update(tried=True, problem=problem)
        probe["seen"].update({path: path in visible for path in unknown})
    if probe["problem"] is not None:
        return probe["problem"], ()
    return None, tuple(path for path in paths if probe["seen"][path])


def uses_worker_root():
    """Whether process-mode workers start in a worker root of their own (root, and chroot works here)."""
    return process_uid() is not None and worker_root_check()[0] is None


@functools.lru_cache(maxsize=None)
def landlock_abi():
    """This kernel's Landlock version (0: none). In process mode the worker restricts itself with it
    before the submission runs, and refuses to run it where it cannot."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return max(0, libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))  # landlock_create_ruleset


class SandboxUnavailable(Exception):
    """--sandbox bwrap was asked for and cannot be had (one sentence)."""


@dataclass(frozen=True)
class Layout:
    """The host folders of one worker: code (read-only), inputs (read-only), results (writable)."""

    code: str
    inputs: str
    results: str


def dedicated_uid():
    """A uid for this grading process's submissions when running as root, else None."""
    if os.geteuid() != 0:
        return None
    return UID_BASE + os.getpid() % 10_000_000


@functools.lru_cache(maxsize=None)
def bwrap_problem():
    """None when bwrap can start a sandbox here; else the sentence that says why not."""
    path = shutil.which("bwrap")
    if path is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        probe = subprocess.run(
            [
                path,
                *namespace_args(dedicated_uid()),
                "--unshare-pid",
                "--unshare-net",
                "--ro-bind",
                "/usr",
                "/usr",
                *_usr_links(),
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--",
                "/bin/true",
            ],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start a sandbox ({error})"
    if probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip().splitlines()
        return (
            "bwrap cannot create namespaces on this machine ("
            + (detail[-1] if detail else "no reason given")
            + "); user namespaces may be disabled"
        )
    return None


def choose(mode):
    """The isolation to use for `mode` ('auto', 'bwrap' or 'process'); SandboxUnavailable for bwrap."""
    if mode == PROCESS:
        return PROCESS
    problem = bwrap_problem()
    if problem is None:
        return BWRAP
    if mode == BWRAP:
        raise SandboxUnavailable(f"--sandbox bwrap cannot be used: {problem}")
    return PROCESS


@functools.lru_cache(maxsize=None)
def process_uid():
    """Without bwrap: the dedicated uid whenever gradref runs as root (the worker switches to it after
    importing numpy and what the submission may import from where that uid cannot read); else None
    (the grader's own uid)."""
    return dedicated_uid()


def interpreter_reachable():
    """Whether any user can reach the interpreter and numpy (else the worker imports ahead, as root,
    what a submission may need)."""
    return all(map(_reachable_by_others, [python_binary(), sys.base_prefix, *package_dirs(["numpy"])]))


def preload_needed(isolation):
    """Whether the worker, before it drops to the sandbox's uid, must import the parts of numpy a
    submission may import later (numpy.random, numpy.linalg, ...). Under bwrap the folders above the
    interpreter and numpy are made passable, so only numpy's own files matter; without it, the way
    to them too."""
    if isolation == BWRAP:
        return not all(map(_readable_by_others, package_dirs(["numpy"])))
    return not interpreter_reachable()


@functools.lru_cache(maxsize=None)
def _readable_by_others(folder):
    """Every folder under `folder` can be entered and listed, and every file read, by any user."""
    for base, _, files in os.walk(folder):
        if os.stat(base).st_mode & 0o005 != 0o005:
            return False
        if not all(os.stat(os.path.join(base, name)).st_mode & stat.S_IROTH for name in files):
            return False
    return True


def _reachable_by_others(path):
    """Every folder on the way to `path` can be entered by any user."""
    path = os.path.realpath(path)
    while path != "/":
        path = os.path.dirname(path)
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
    return True


def _drop(uid):
    """Popen keyword arguments that start the child as `uid` (no supplementary groups), or nothing."""
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


def _usr_links():
    """/bin, /lib, /lib64, /sbin as they are on the host: merged-/usr symlinks, or read-only binds."""
    args = []
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def python_binary():
    """The real interpreter (a venv's python is a link to it; the venv's packages stay outside)."""
    return os.path.realpath(sys.executable)


def _site_dirs(prefix):
    """Every site-packages / dist-packages folder under a Python prefix."""
    found = []
    for lib in ("lib", "lib64"):
        for python in (f"python{sys.version_info.major}.{sys.version_info.minor}", f"python{sys.version_info.major}"):
            for leaf in ("site-packages", "dist-packages"):
                path = os.path.join(prefix, lib, python, leaf)
                if os.path.isdir(path) and path not in found:
                    found.append(path)
    return found


def package_dirs(names):
    """Host folders to make importable: each top-level package and its wheel's bundled `.libs`."""
    import importlib.util

    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        package = os.path.realpath(list(spec.submodule_search_locations)[0])
        dirs.append(package)
        libs = package + ".libs"
        if os.path.isdir(libs):
            dirs.append(libs)
    return dirs


@functools.lru_cache(maxsize=None)
def worker_packages(allow_imports=()):
    """Host paths the worker's one site folder holds: NumPy, and the distributions --allow-imports
    names with everything they require (their package folders, module files and metadata), never
    gradref's own packages nor any other distribution of the grader's site-packages (jax stays out
    unless it is what was allowed)."""
    import importlib.metadata as metadata

    paths = {os.path.basename(p): p for p in package_dirs(["numpy"])}
    if not allow_imports:
        return list(paths.values())
    owners = metadata.packages_distributions()
    todo = [d for name in allow_imports for d in owners.get(name.split(".")[0], [name.split(".")[0]])]
    seen = set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for requirement in distribution.requires or ():
            if "extra ==" not in requirement.replace('"', "").replace("'", ""):
                todo.append(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        for top in {f.parts[0] for f in distribution.files or () if len(f.parts) > 0}:
            path = os.path.realpath(distribution.locate_file(top))
            hidden = top.split("-")[0].split(".")[0] in HIDDEN_PACKAGES
            if (
                not hidden
                and top not in ("..", "__pycache__", "bin")
                and not top.endswith(".pth")
                and os.path.exists(path)
            ):
                paths.setdefault(top, path)
    return list(paths.values())


def _ancestors(path):
    found = []
    while path not in ("/", ""):
        path = os.path.dirname(path)
        found.append(path)
    return found


def namespace_args(uid):
    """How the sandbox gets its unprivileged uid: as root, bwrap keeps only the right to switch uid and
    the worker switches to `uid` before the submission runs; otherwise a user namespace maps "nobody"
    inside to the grader's own uid outside."""
    if uid is not None:
        return ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-user", "--uid", str(INNER_UID), "--gid", str(INNER_UID), "--disable-userns", "--cap-drop", "ALL"]


SHM_BYTES = 1 << 20  # the sandbox's /dev/shm: a size-capped tmpfs only root could write to anyway


def bwrap_command(layout, worker, config, allow_imports=(), uid=None, seccomp_fd=None, course_support=None):
    """The bwrap command line that runs the worker for one submission (with the system-call filter
    read from `seccomp_fd`, which the caller passes on; the course's helper modules from the folder
    `course_support`, read-only, where given)."""
    prefix = sys.base_prefix
    args = [
        shutil.which("bwrap"),
        *namespace_args(uid),
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "gradref",
        "--ro-bind",
        "/usr",
        "/usr",
        *_usr_links(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "0755",
        "--size",
        str(SHM_BYTES),
        "--tmpfs",
        "/dev/shm",
    ]
    if config.get("device") == "cuda":  # the GPU is reachable only when the teacher asks for it
        args += [arg for device in worker_root.gpu_devices() for arg in ("--dev-bind", device, device)]
    if not prefix.startswith("/usr/"):
        # bwrap would make the folders above it with the host's modes (/root is 0700): make them passable.
        parents = [p for p in _ancestors(prefix) if p != "/"]
        args += [arg for parent in reversed(parents) for arg in ("--perms", "0755", "--dir", parent)]
        args += ["--ro-bind", prefix, prefix]
    for hidden in _site_dirs(prefix) + _site_dirs("/usr") + _site_dirs("/usr/local"):
        args += ["--tmpfs", hidden]
    site = f"{SANDBOX_ROOT}/site"
    args += ["--perms", "0755", "--dir", SANDBOX_ROOT, "--perms", "0755", "--dir", site]
    for path in worker_packages(tuple(allow_imports)):
        args += ["--ro-bind", path, f"{site}/{os.path.basename(path)}"]
    extra = [site]
    args += [
        "--ro-bind",
        worker,
        f"{SANDBOX_ROOT}/worker.py",
        "--ro-bind",
        os.path.join(os.path.dirname(worker), "protocol.py"),
        f"{SANDBOX_ROOT}/protocol.py",
        *(["--ro-bind", course_support, f"{SANDBOX_ROOT}/support"] if course_support else []),
        "--ro-bind",
        layout.code,
        f"{SANDBOX_ROOT}/code",
        "--ro-bind",
        layout.inputs,
        f"{SANDBOX_ROOT}/in",
        "--bind",
        layout.results,
        f"{SANDBOX_ROOT}/out",
        "--remount-ro",
        "/",
        "--chdir",
        "/",
        "--clearenv",
    ]
    for key, value in worker_env(f"{SANDBOX_ROOT}/out", config.get("device") == "cuda").items():
        args += ["--setenv", key, value]
    inner = {
        **config,
        "site": extra,
        "inputs": f"{SANDBOX_ROOT}/in",
        "results": f"{SANDBOX_ROOT}/out",
        "code": f"{SANDBOX_ROOT}/code",
        "course_support": f"{SANDBOX_ROOT}/support" if course_support else None,
        "uid": uid,
    }
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--", python_binary(), "-I", "-S", "-B", f"{SANDBOX_ROOT}/worker.py", f"{SANDBOX_ROOT}/code", _json(inner)]
    return args


def furnish_worker_root(layout, worker, allow_imports=(), course_support=None, gpu=False):
    """Fill the sandbox folder above `layout` as a worker root of its own (see worker_root); returns
    what process_command needs to start the worker there."""
    return worker_root.furnish(
        os.path.dirname(layout.code), worker_packages(tuple(allow_imports)), course_support, worker, gpu
    )


def process_command(layout, worker, config, allow_imports=(), seccomp_file=None, course_support=None, inside=None):
    """The plain-process command line (no namespaces): the same worker, the same folders; the worker
    loads the system-call filter from `seccomp_file` itself. With `inside` (furnish_worker_root's
    answer), the worker starts in the sandbox folder as its root and sees only what was put there."""
    if inside is not None:
        root = os.path.dirname(layout.code)
        within = functools.partial(worker_root.inside, root)
        inner = {
            **config,
            "site": inside["site"],
            "packages": inside["packages"],
            "landlock": landlock_abi() >= 1,
            "inputs": within(layout.inputs),
            "results": within(layout.results),
            "code": within(layout.code),
            "uid": process_uid(),
            "course_support": inside["course_support"],
            "preload": False,
            "open_folders_ahead": False,
            "syscall_filter": within(seccomp_file) if seccomp_file else None,
        }
        argv = [python_binary(), "-I", "-S", "-B", inside["worker"], inner["code"], _json(inner)]
        return worker_root.command(root, argv)
    packages = worker_packages(tuple(allow_imports))
    inner = {
        **config,
        "site": [numpy_site(os.path.dirname(layout.code), packages)],
        "packages": packages,
        "landlock": landlock_abi() >= 1,
        "inputs": layout.inputs,
        "results": layout.results,
        "code": layout.code,
        "uid": process_uid(),
        "course_support": course_support,
        "open_folders_ahead": process_uid() is not None,
        "syscall_filter": seccomp_file,
    }
    return [python_binary(), "-I", "-S", "-B", worker, layout.code, _json(inner)]


def numpy_site(root, packages):
    """A folder under `root` that holds NumPy and the allowed packages alone (links to them): the
    worker's only site-packages in process mode, so that jax, gradref and the rest of the grader's
    site-packages are not on its path (and, with Landlock, not readable either)."""
    site = os.path.join(root, "site")
    if not os.path.isdir(site):
        os.mkdir(site, 0o755)
        for path in packages:
            os.symlink(path, os.path.join(site, os.path.basename(path)))
    return site


def worker_env(tmpdir, gpu=False):
    """The worker's whole environment; CUDA sees no device unless the grader asked for one (`gpu`)."""
    keep = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k == "LANG"}
    return {
        **keep,
        **({} if gpu else {"CUDA_VISIBLE_DEVICES": ""}),
        "PATH": "/usr/bin:/bin",
        "HOME": tmpdir,
        "TMPDIR": tmpdir,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


def kill_everything_of(uid):
    """End every process running as the dedicated `uid` (escaped daemons included); root only."""
    if uid is None:
        return
    # kill(-1) signals every process the caller may signal, never the caller itself.
    subprocess.run(
        ["/bin/sh", "-c", "kill -9 -1 2>/dev/null; exit 0"],
        env={},
        cwd="/",
        timeout=30,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **_drop(uid),
    )


def _json(value):
    import json

    return json.dumps(value)


# ----- cgroup v2, where it is delegated to us -----

CGROUP_ROOT = "/sys/fs/cgroup"


def delegated_cgroup():
    """This process's cgroup v2 folder when it lets us make children limited in memory and processes."""
    try:
        with open("/proc/self/cgroup") as handle:
            line = next(entry for entry in handle if entry.startswith("0::"))
        folder = os.path.join(CGROUP_ROOT, line.strip()[3:].lstrip("/"))
        with open(os.path.join(folder, "cgroup.subtree_control")) as handle:
            enabled = handle.read().split()
    except (OSError, StopIteration):
        return None
    return folder if {"memory", "pids"} <= set(enabled) and os.access(folder, os.W_OK) else None


def limit_in_cgroup(pid, memory_mb, max_processes, name):
    """Move `pid` into a new child cgroup with memory.max and pids.max; its path, or None where
    cgroup v2 is not delegated (the rlimits and the watchdog then bound the tree)."""
    parent = delegated_cgroup()
    if parent is None:
        return None
    folder = os.path.join(parent, name)
    try:
        os.mkdir(folder)
        _write(folder, "memory.max", memory_mb << 20)
        _write(folder, "pids.max", max_processes)
        try:
            _write(folder, "memory.swap.max", 0)  # absent where swap is not accounted
        except OSError:
            pass
        with open(os.path.join(folder, "cgroup.procs"), "w") as handle:
            handle.write(str(pid))
    except OSError:
        remove_cgroup(folder)
        return None
    return folder


def _write(folder, key, value):
    with open(os.path.join(folder, key), "w") as handle:
        handle.write(str(value))


def remove_cgroup(folder):
    if folder:
        try:
            os.rmdir(folder)
        except OSError:
            pass
