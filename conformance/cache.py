"""The oracle's answers on disk: computed once per op, sample, dtype, device and JAX version.

An answer (out, grads, dout) depends only on the reference function, the sample's values, the
cotangent's seed, the dtype, the device and the JAX/jaxlib versions, so the key hashes exactly those
(for gradref's own references their module's source, for a user's the program JAX traces from it,
and the oracle's own source, stand for "the registry entry's content"): change any of them and the
old entry is simply never read again. Entries are written to a temporary file and renamed into
place, so concurrent writers (xdist workers, check --jobs) never leave half a file; an unreadable
entry is recomputed. The folder is $GRADREF_CACHE_DIR, else
$XDG_CACHE_HOME/gradref, else ~/.cache/gradref; GRADREF_NO_CACHE=1 (gradref --no-cache) bypasses it.
"""

import collections
import functools
import hashlib
import inspect
import os
import sys
import tempfile

import numpy as np

FORMAT = "oracle-v1"
MAX_ENTRY_BYTES = 8 << 20  # larger answers cost more disk than recomputing them (compiles are cached)


def folder():
    """Where the cache lives (not created here)."""
    if os.environ.get("GRADREF_CACHE_DIR"):
        return os.environ["GRADREF_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gradref")


def enabled():
    """Not bypassed (--no-cache) and kept in a folder nobody else can write."""
    return os.environ.get("GRADREF_NO_CACHE", "") in ("", "0") and trusted(folder())


@functools.lru_cache(maxsize=None)
def trusted(path):
    """The cache folder (made 0700 where absent) belongs to this user and no one else can write it:
    a planted answer would make a wrong gradient pass, and a planted compiled program is code. Like
    pip, gradref warns once and works without a cache otherwise."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        for folder_ in (path, os.path.join(path, FORMAT), os.path.join(path, "xla")):
            if os.path.isdir(folder_):
                info = os.stat(folder_)
                if info.st_uid != os.geteuid() or info.st_mode & _others_write(info.st_gid):
                    _warn(
                        f"gradref: the cache folder {folder_} is not yours alone to write; "
                        "gradref runs without its cache"
                    )
                    return False
    except OSError:
        return True  # an unwritable cache only costs its entries (store() gives up quietly)
    return True


def _others_write(gid):
    """The mode bits through which someone else could write: group-write counts unless the group is
    this user's own private group (umask 002 systems make every folder group-writable)."""
    import grp
    import pwd

    try:
        group = grp.getgrgid(gid)
        private = gid == os.getegid() and group.gr_name == pwd.getpwuid(os.geteuid()).pw_name and not group.gr_mem
    except KeyError:
        private = False
    return 0o002 if private else 0o022


def _warn(message):
    """Say it once; a test suite that turns warnings into errors still runs (without the cache)."""
    import warnings

    try:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    except RuntimeWarning:
        pass


def disable():
    """--no-cache: for this process and every worker it starts."""
    os.environ["GRADREF_NO_CACHE"] = "1"


@functools.lru_cache(maxsize=None)
def _source_digest(module_name):
    module = sys.modules.get(module_name)
    try:
        text = inspect.getsource(module) if module is not None else module_name
    except (OSError, TypeError):
        text = module_name
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _versions():
    import importlib.metadata as md

    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return ""

    return tuple(version(d) for d in ("jax", "jaxlib", "numpy"))


def _feed(h, value):
    """Hash a value tree: arrays by dtype, shape and bytes; dicts by sorted keys; the rest by repr."""
    if isinstance(value, np.ndarray):
        h.update(f"array {value.dtype.str} {value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(b"dict")
        for key in sorted(value, key=str):
            h.update(repr(key).encode())
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"seq {len(value)}".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"{type(value).__name__} {value!r}".encode())


OWN_REFERENCES = "reference."  # gradref's references: jax.numpy only, their module is the whole program


def key(reference, args, wrt, cotangent_label, device):
    """The hex digest naming one oracle answer; None when a user's reference cannot be traced (its
    answer is then not cached)."""
    h = hashlib.sha256(FORMAT.encode())
    module = getattr(reference, "__module__", "") or ""
    h.update(f"{module}.{getattr(reference, '__qualname__', repr(reference))}".encode())
    if module.startswith(OWN_REFERENCES):
        h.update(_source_digest(module).encode())
    else:  # a user's: its source says nothing of the helpers, globals or closure values it uses
        try:
            from reference import oracle

            traced = oracle.program(reference, args, wrt, device)
        except Exception:  # noqa: BLE001 - the oracle itself will say what is wrong with it
            return None
        h.update(str(traced.jaxpr).encode())
        _feed(h, [np.asarray(c) for c in traced.consts])
    for program in ("reference.oracle", "reference.in_order"):  # how the oracle runs it
        h.update(_source_digest(program).encode())
    _feed(h, [list(args), list(wrt), cotangent_label, device, _versions()])
    return h.hexdigest()


def _path(digest):
    return os.path.join(folder(), FORMAT, digest[:2], digest + ".npz")


# Entries read more than once (a batch grades every student on the same samples; a check reads each
# once, and keeps nothing) stay in memory, the latest up to this many bytes.
MEMO_BYTES = 64 << 20
_memo, _memo_bytes, _read_once = collections.OrderedDict(), [0], set()


def load(digest):
    """(out, grads, dout) or None when absent, unreadable or from another layout. The arrays are
    read-only: an entry read twice from the same file (path, inode, size and time alike) is handed
    out from memory after that."""
    path = _path(digest)
    try:
        stat = os.stat(path)
    except OSError:
        return None
    identity = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if identity in _memo:
        _memo.move_to_end(identity)
        return _memo[identity]
    try:
        with np.load(path, allow_pickle=False) as data:
            count = int(data["count"])
            found = data["out"], tuple(data[f"grad{i}"] for i in range(count)), data["dout"]
    except (OSError, KeyError, ValueError, EOFError):
        return None
    for array in (found[0], found[2], *found[1]):
        array.flags.writeable = False
    if identity in _read_once:
        _remember(identity, found)
    elif len(_read_once) < 100_000:
        _read_once.add(identity)
    return found


def _remember(identity, found):
    _memo[identity] = found
    _memo_bytes[0] += _nbytes(found)
    while _memo_bytes[0] > MEMO_BYTES and _memo:
        _memo_bytes[0] -= _nbytes(_memo.popitem(last=False)[1])


def _nbytes(found):
    out, grads, dout = found
    return sum(a.nbytes for a in (out, dout, *grads))


def store(digest, out, grads, dout):
    """Write atomically; a full disk or a read-only home only costs the cache, never the run."""
    path = _path(digest)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                out=np.asarray(out),
                dout=np.asarray(dout if dout is not None else np.zeros(0)),  # a forward alone has none
                count=len(grads),
                **{f"grad{i}": np.asarray(g) for i, g in enumerate(grads)},
            )
        os.replace(scratch, path)
    except OSError:
        try:
            os.unlink(scratch)
        except (OSError, UnboundLocalError):
            pass


def vjp(reference, args, wrt, cotangent, cotangent_label, device="cpu", dtype="float64", in_order=False):
    """oracle.vjp through the cache: `cotangent_label` names the cotangent's draw (its seed)."""
    from reference import oracle

    if not enabled():
        return oracle.vjp(reference, args, wrt, cotangent, device, dtype, in_order)
    label = cotangent_label + (f" in {dtype}" if dtype != "float64" else "") + (" summed in order" if in_order else "")
    digest = key(reference, args, wrt, label, device)
    if digest is None:
        return oracle.vjp(reference, args, wrt, cotangent, device, dtype, in_order)
    found = load(digest)
    if found is not None:
        return found
    out, grads, dout = oracle.vjp(reference, args, wrt, cotangent, device, dtype, in_order)
    if sum(np.asarray(a).nbytes for a in (out, dout, *grads)) <= MAX_ENTRY_BYTES:
        store(digest, out, grads, dout)
    return out, grads, dout


def remembered(reference, args, wrt, label, device, compute, modules=()):
    """(out, [grads]) numbers that `compute()` derives from the reference's runs at args (the
    tolerance's estimate), kept on disk beside the answers and keyed the same way, with the source of
    `modules` (the code that derives them) in the key too. Returned as Python floats either way."""

    def as_floats(value):
        out, grads = value
        return float(out), [float(g) for g in grads]

    digest = (
        key(reference, args, wrt, label + "".join(_source_digest(m) for m in modules), device) if enabled() else None
    )
    if digest is None:
        return as_floats(compute())
    found = load(digest)
    if found is not None:
        return as_floats((found[0], found[1]))
    out, grads = as_floats(compute())
    store(digest, np.float64(out), [np.float64(g) for g in grads], np.zeros(0))
    return out, grads


def arrays(reference, args, wrt, label, compute, modules=()):
    """[NumPy arrays] that `compute()` derives from the reference at args (every value it computes on
    the way, for the diagnosis), kept on disk beside the answers and keyed the same way, with the
    source of `modules` in the key too."""
    digest = (
        key(reference, args, wrt, label + "".join(_source_digest(m) for m in modules), "cpu") if enabled() else None
    )
    found = load(digest) if digest is not None else None
    if found is not None:
        return list(found[1])
    values = [np.asarray(v) for v in compute()]
    if digest is not None and sum(v.nbytes for v in values) <= MAX_ENTRY_BYTES:
        store(digest, np.float64(len(values)), values, np.zeros(0))
    return values


def info():
    """{"folder", "entries", "bytes"} of the cache as it is now."""
    root = os.path.join(folder(), FORMAT)
    entries = size = 0
    for base, _, files in os.walk(root):
        for name in files:
            if name.endswith(".npz"):
                entries += 1
                size += os.path.getsize(os.path.join(base, name))
    return {"folder": folder(), "entries": entries, "bytes": size}


def clear():
    """Remove every cached answer (and the compiled JAX programs); returns how many answers went."""
    import shutil

    count = info()["entries"]
    for name in (FORMAT, "xla"):
        shutil.rmtree(os.path.join(folder(), name), ignore_errors=True)
    return count


_COMPILATION_CACHE = []


def use_compilation_cache():
    """JAX's persistent compilation cache beside the answers (every compile, however short): set
    once per process (JAX reads the setting once); a folder that cannot be written only costs the
    cache, so JAX's warnings about it are silenced rather than turned into errors."""
    if not enabled() or _COMPILATION_CACHE:
        return
    import warnings

    warnings.filterwarnings("ignore", message="Error (writing|reading) persistent compilation cache")
    settings = {
        "jax_compilation_cache_dir": os.path.join(folder(), "xla"),
        "jax_persistent_cache_min_compile_time_secs": 0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    if "jax" not in sys.modules:  # JAX reads them from the environment when it is imported, if it ever is
        for name, value in settings.items():
            os.environ.setdefault(name.upper(), str(value))
    else:
        import jax

        try:
            for name, value in settings.items():
                jax.config.update(name, value)
        except (AttributeError, ValueError):  # an older JAX without these options
            pass
    _COMPILATION_CACHE.append(folder())
