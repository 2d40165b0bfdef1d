"""A worker root of its own, for process mode as root (what the platforms fall back to without namespaces).

The worker starts under chroot(8) in its sandbox folder, which holds, as hard links to the host's
files (copies where the file system refuses links): the interpreter and the shared libraries that it,
the standard library and NumPy load; the standard library (its site-packages, tests and GUI left
out); NumPy; what --allow-imports names (gradref's own packages left out); the worker script; and
the submission's code, inputs and results folders. gradref, JAX, the grader's cache, the class
folder and other submissions are not inside, so no trick of the import system reaches them: they are
not there to import or read. The worker then switches to the dedicated uid, which cannot leave the
root (chroot needs a capability that uid has not got). Landlock, where the kernel has it, lies on top.
"""

import functools
import glob
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile

LEFT_OUT = {  # of the standard library: nothing a submission imports while being graded
    "site-packages",
    "dist-packages",
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
}
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
SITE, WORKER, PROTOCOL, SUPPORT = "site", "worker.py", "protocol.py", "support"
LDD_LINE = re.compile(rb"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def chroot_binary():
    return shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")


def inside(root, host_path):
    """Where a host path under `root` is seen from inside the worker root."""
    return "/" + os.path.relpath(host_path, root)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _folder(path):
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)


def place_file(root, path):
    """The host file `path` inside `root` at the same path; each link on the way is made again as
    the same link (an absolute link then points inside the root), and the file it leads to is placed."""
    parts = [p for p in os.path.normpath(path).split("/") if p]
    current = "/"
    for number, part in enumerate(parts):
        host = os.path.join(current, part)
        target = root + host
        if os.path.islink(host):
            destination = os.readlink(host)
            if not os.path.lexists(target):
                _folder(os.path.dirname(target))
                os.symlink(destination, target)
            followed = os.path.normpath(os.path.join(current, destination))
            return place_file(root, os.path.join(followed, *parts[number + 1 :]))
        if number == len(parts) - 1:
            if not os.path.lexists(target) and os.path.isfile(host):
                _folder(os.path.dirname(target))
                _link_or_copy(host, target)
            return target
        current = host
    return root


def place_tree(source, target, leave_out=lambda folder, name: False):
    """The folder `source` at `target`: folders made, files linked, links made again."""
    for rel, links, files in _listing(source, leave_out):
        inner = os.path.normpath(os.path.join(target, rel))
        _folder(inner)
        for name, destination in links:
            os.symlink(destination, os.path.join(inner, name))
        for name in files:
            _link_or_copy(os.path.join(source, rel, name), os.path.join(inner, name))


@functools.lru_cache(maxsize=None)
def _listing(source, leave_out):
    """What place_tree makes of `source`, walked once per process (every sandbox of a batch places the
    same standard library and NumPy): (folder, its links as (name, destination), its files), relative."""
    listing = []
    for folder, folders, files in os.walk(source):
        folders[:] = [f for f in folders if not leave_out(folder, f)]
        files = [f for f in files if not leave_out(folder, f)]
        links = tuple((n, os.readlink(p)) for n in folders + files if os.path.islink(p := os.path.join(folder, n)))
        plain = tuple(f for f in files if not os.path.islink(p := os.path.join(folder, f)) and os.path.isfile(p))
        listing.append((os.path.relpath(folder, source), links, plain))
    return tuple(listing)


@functools.lru_cache(maxsize=None)
def stdlib():
    return sysconfig.get_paths()["stdlib"]


def _stdlib_left_out(folder, name):
    if folder == stdlib():
        return name in LEFT_OUT or name.startswith("config-")
    return name.startswith("_tkinter") or name == "__phello__"


def _bytecode_left_out(folder, name):
    return name == "__pycache__"


def _tests_left_out(folder, name):
    return name in ("tests", "include")  # test suites, C headers


def needed(path):
    """The DT_NEEDED names of a 64-bit little-endian ELF file (what the loader must find for it), read
    from its dynamic section; None where the file is not one (then ldd is asked)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
            if head[:6] != b"\x7fELF\x02\x01":
                return None
            phoff, phentsize, phnum = struct.unpack_from("<Q", head, 32)[0], *struct.unpack_from("<HH", head, 54)
            handle.seek(phoff)
            headers = [struct.unpack_from("<IIQQQQQQ", handle.read(phentsize)) for _ in range(phnum)]
            loads = [(h[3], h[2], h[5]) for h in headers if h[0] == 1]  # PT_LOAD: vaddr, offset, filesz
            dynamic = next((h for h in headers if h[0] == 2), None)  # PT_DYNAMIC
            if dynamic is None:
                return set()
            handle.seek(dynamic[2])
            raw = handle.read(dynamic[5])
            entries = [struct.unpack_from("<qQ", raw, i) for i in range(0, len(raw) - 15, 16)]
            strtab = next((value for tag, value in entries if tag == 5), None)  # DT_STRTAB (an address)
            offset = next((o + strtab - v for v, o, size in loads if v <= strtab < v + size), None)
            if offset is None:
                return None
            names = set()
            for tag, value in entries:
                if tag == 1:  # DT_NEEDED
                    handle.seek(offset + value)
                    names.add(handle.read(256).split(b"\0", 1)[0].decode())
            return names
    except (OSError, struct.error, UnicodeDecodeError):
        return None


@functools.lru_cache(maxsize=None)
def shared_libraries(trees):
    """Every shared library (and the loader) that the interpreter and the .so files placed from
    `trees` ((folder, leave_out) pairs, as place_tree takes them) need, as ldd finds them on this
    machine; those inside the trees themselves are placed with them. ldd (one loader run per file) is
    asked only about files that need a library beyond those the interpreter loads and those the trees
    hold, which their own ELF headers say."""
    python = os.path.realpath(sys.executable)
    binaries, inside = [], set()
    for tree, leave_out in trees:
        for rel, _, files in _listing(tree, leave_out):
            found = [f for f in files if ".so" in f and not f.endswith(".py")]
            binaries += [os.path.normpath(os.path.join(tree, rel, f)) for f in found]
            inside.update(found)
    found = set(_ldd([python]))
    known = inside | {os.path.basename(p) for p in found}
    asked = []
    for binary in binaries:
        names = needed(binary)
        if names is None or names - known:
            asked.append(binary)
    found.update(_ldd(asked))
    in_trees = tuple(os.path.realpath(tree) + os.sep for tree, _ in trees)
    return tuple(sorted(p for p in found if not os.path.realpath(p).startswith(in_trees)))


def _ldd(binaries):
    found = []
    for start in range(0, len(binaries), 64):
        run = subprocess.run(["ldd", *binaries[start : start + 64]], capture_output=True, timeout=120, check=False)
        found += [os.fsdecode(m) for m in LDD_LINE.findall(run.stdout)]
    return found


def place_libraries(root, packages):
    """The interpreter, its shared libraries, the standard library, and NumPy with the allowed
    packages (folders and module files) in the one site folder."""
    place_file(root, os.path.realpath(sys.executable))
    trees = ((stdlib(), _stdlib_left_out), *((p, _tests_left_out) for p in packages if os.path.isdir(p)))
    for library in (*shared_libraries(trees), "/etc/ld.so.cache"):
        if os.path.exists(library):
            place_file(root, library)
    place_tree(stdlib(), root + stdlib(), _stdlib_left_out)
    _folder(os.path.join(root, SITE))
    for path in packages:
        target = os.path.join(root, SITE, os.path.basename(path))
        if os.path.isdir(path):
            place_tree(path, target, _tests_left_out)
        else:
            _link_or_copy(path, target)


@functools.lru_cache(maxsize=None)
def links_work(folder):
    """Whether the host's interpreter can be hard-linked into `folder` (one file system, and allowed)."""
    probe = os.path.join(folder, f".gradref-link-{os.getpid()}")
    try:
        os.link(os.path.realpath(sys.executable), probe)
    except OSError:
        return False
    os.unlink(probe)
    return True


@functools.lru_cache(maxsize=None)
def template(packages):
    """Where links from the host cannot be made: one copy of the libraries per grading process, on
    the sandboxes' own file system, that each sandbox then links from (removed when gradref exits)."""
    import atexit

    from .sandbox import SANDBOX_PREFIX, remove_tree

    folder = tempfile.mkdtemp(prefix=f"{SANDBOX_PREFIX}{os.getpid()}-libraries-")
    atexit.register(remove_tree, folder)
    place_libraries(folder, packages)
    return folder


def furnish(root, packages, course_support=None, worker=None, gpu=False):
    """Fill the sandbox folder `root` as the worker's whole file system, with `packages` (host paths)
    in its one site folder (and, with `gpu`, the NVIDIA devices and driver libraries); returns
    {what: inside path} for the worker's config."""
    if links_work(os.path.dirname(root)):
        place_libraries(root, packages)
    else:
        place_tree(template(tuple(packages)), root)
    _devices(root, gpu_devices() if gpu else ())
    if gpu:  # the driver's libraries, which CUDA opens by name at run time (ldd does not list them)
        for library in glob.glob("/usr/lib/*/libcuda.so*") + glob.glob("/usr/lib/*/libnvidia-*.so*"):
            place_file(root, library)
    if worker:
        for name, path in ((WORKER, worker), (PROTOCOL, os.path.join(os.path.dirname(worker), "protocol.py"))):
            shutil.copyfile(path, os.path.join(root, name))
            os.chmod(os.path.join(root, name), 0o644)
    if course_support:
        place_tree(course_support, os.path.join(root, SUPPORT), _bytecode_left_out)
    return {
        "site": ["/" + SITE],
        "packages": [f"/{SITE}/{os.path.basename(p)}" for p in packages],
        "course_support": f"/{SUPPORT}" if course_support else None,
        "worker": f"/{WORKER}",
    }


def gpu_devices():
    return sorted(glob.glob("/dev/nvidia*"))


def _devices(root, extra=()):
    """The few character devices a program may open (and the GPU's, where asked); skipped where this
    process may not make them."""
    _folder(os.path.join(root, "dev"))
    for device in (*DEVICES, *extra):
        try:
            os.mknod(root + device, 0o666 | stat.S_IFCHR, os.stat(device).st_rdev)
            os.chmod(root + device, 0o666)
        except OSError:
            pass


def command(root, argv):
    """`argv` (the interpreter first) run inside `root`, started as root, which the worker then leaves."""
    return [chroot_binary(), root, *argv]


PROBE = """
import json, os, sys
sys.path.insert(0, "/site")
import numpy
numpy.linalg.inv(numpy.eye(3))
print(json.dumps({"uid": os.getuid(), "visible": [p for p in json.loads(sys.argv[1]) if os.path.exists(p)]}))
"""


def check(uid, packages, paths):
    """Start the interpreter in a worker root of its own as `uid` and ask it which of `paths` (host
    paths the submission must not reach) it can see there. Returns (problem, visible): problem is
    None where a worker root works on this machine, else the sentence that says why not."""
    if chroot_binary() is None:
        return "chroot(8) is not installed", ()
    root = tempfile.mkdtemp(prefix=f"gradref-sandbox-{os.getpid()}-probe-")
    try:
        os.chmod(root, 0o711)
        furnish(root, packages)
        run = subprocess.run(
            [
                chroot_binary(),
                f"--userspec={uid}:{uid}",
                "--groups=",
                root,
                os.path.realpath(sys.executable),
                "-I",
                "-S",
                "-B",
                "-c",
                PROBE,
                json.dumps(list(paths)),
            ],
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
            cwd="/",
            timeout=60,
            check=False,
        )
        answer = json.loads(run.stdout) if run.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        return f"a worker root could not be made ({error})", ()
    finally:
        from .sandbox import remove_tree

        remove_tree(root)
    if not answer or answer.get("uid") != uid:
        detail = run.stderr.decode(errors="replace").strip().splitlines()
        return f"chroot could not start the worker ({detail[-1] if detail else 'no reason given'})", ()
    return None, tuple(answer["visible"])
