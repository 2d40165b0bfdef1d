"""Grading integrity against a hostile class: one batch of attacks on the grader itself (not only on the
sandbox), graded under bubblewrap and again in process mode, from a throwaway copy of the project.

Each attacker's relu_backward is wrong unless its attack works, so "no wrong code passes" covers every
route. The numerical-gradient files, caught by the grader's own timing of the call whatever
the isolation, are all graded under the machine's first isolation and three of them under both. After each batch: every student has exactly their own report, the run ended within its budget
with gradref's peak memory under 1.5 GB, no traceback, nothing of the sandboxes left running or on disk.
"""

import csv
import hashlib
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import once_per_session
from dying_grader import dies_on_the_killer
from processes import MemorySampler, processes_of, throwaway_project

from conformance.registry import REGISTRY
from gradref.grade.front import batch as batch_module
from gradref.grade.judging.answers import oracle_answers
from gradref.grade.judging.grader import SKIPPED_SAMPLES
from gradref.grade.untrusted import confine
from gradref.grade.untrusted.sandbox import remove_tree

needs_bwrap = pytest.mark.skipif(
    confine.bwrap_problem() is not None, reason=f"needs bubblewrap: {confine.bwrap_problem()}"
)
PEAK_MB = 1536
BUDGET_S = 15  # per submission: the slow attacks run into it
RIGHT = """
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0)
"""


HOSTILE_FILES = os.path.join(os.path.dirname(__file__), "hostile")
# Numerical gradients hidden from everything inside the student's process, one per file, and the
# function that must fail on the grader's timing of the call (its "cost" check).
NUMERICAL = {
    "numerical_thread_at_import.py": "affine_backward",
    "numerical_raw_thread.py": "softmax_loss",
    "numerical_profiler_paused.py": "layernorm_backward",
    "numerical_under_numpys_name.py": "batchnorm_backward",
    "numerical_under_a_stdlib_name.py": "max_pool_backward_naive",
    "numerical_step_of_one.py": "temporal_affine_backward",
    "numerical_long_double_stencil.py": "rnn_step_backward",
    "numerical_stacked.py": "spatial_batchnorm_backward",
    "numerical_stacked_conv.py": "conv_backward_naive",
    "refuses_large_inputs.py": "svm_loss",
    "complex_step_cheap_on_large_inputs.py": "affine_backward",
    "coloured_complex_step.py": "batchnorm_backward",
    "complex_step_where_cost_cannot_tell.py": "max_pool_backward_naive",
    "routing_finite_differences.py": "max_pool_backward_naive",
}
# The cost check times a call from the grader's side, whatever the isolation: every numerical file is
# graded under the machine's first isolation (bwrap where it has it), and the two that hide their work
# in threads, and the refusal of the timed sample, under the other one too (each numerical file costs
# the suite about 3 CPU-seconds per isolation).
IN_BOTH = ("numerical_thread_at_import.py", "numerical_raw_thread.py", "refuses_large_inputs.py")


def numerical_files(isolation):
    """The numerical files graded under `isolation`."""
    first = "process" if confine.bwrap_problem() else "bwrap"
    return sorted(NUMERICAL) if isolation == first else [n for n in sorted(NUMERICAL) if n in IN_BOTH]


def published_table():
    """What a student could compute offline from the published samples: the right dx by the bytes of
    x and dout, and the inputs x themselves."""
    table, xs = {}, []
    for spec in REGISTRY["relu"].samples:
        if spec.name in SKIPPED_SAMPLES or not spec.graded:
            continue
        sample, _, grads, dout = oracle_answers("relu", spec.name, 0)
        table[_digest(sample.args["x"], dout)] = grads[0].tolist()
        xs.append(_digest(sample.args["x"]))
    return table, xs


def _digest(*arrays):
    return hashlib.sha256(b"".join(np.ascontiguousarray(a, float).tobytes() for a in arrays)).hexdigest()


LOOKUP = """
import hashlib
import numpy as np

TABLE = {TABLE}
XS = set({XS})

def _digest(*arrays):
    return hashlib.sha256(b"".join(np.ascontiguousarray(a, float).tobytes() for a in arrays)).hexdigest()
"""

# name -> source. {TABLE}, {XS} and {SECRET} are filled in.
ATTACKS = {
    # 1. The forward refuses what is not in the table, hoping to be "not implemented" on the unseen sample.
    "stub_on_unseen_values": LOOKUP
    + """
def relu_forward(x):
    if _digest(x) not in XS:
        raise NotImplementedError
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return np.array(TABLE[_digest(cache, dout)]).reshape(cache.shape)
""",
    # 2. A table that the unseen sample catches: it must earn nothing.
    "lookup_table": LOOKUP
    + """
def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    found = TABLE.get(_digest(cache, dout))
    return np.array(found).reshape(cache.shape) if found is not None else dout.copy()
""",
    # 3. Central differences of the student's own forward.
    "numerical_gradient": """
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    x, h = cache.astype(float).copy(), 1e-6
    dx = np.zeros_like(x)
    flat, grad = x.reshape(-1), dx.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = np.sum(relu_forward(x)[0] * dout)
        flat[i] = old - h
        minus = np.sum(relu_forward(x)[0] * dout)
        flat[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return dx
""",
    # 4a. Fill its own request pipe and stop reading it: the grader's write must not hang.
    "blocks_the_request_pipe": """
import fcntl, os, sys, time
import numpy as np

try:
    fcntl.fcntl(0, 1031, 4096)  # F_SETPIPE_SZ: one page
    _fill = os.open("/proc/self/fd/0", os.O_WRONLY | os.O_NONBLOCK)  # refused where the worker switched uid
    while True:
        os.write(_fill, b"x" * 4096)
except OSError:
    pass

class _Never:
    def __iter__(self):
        return self
    def __next__(self):
        time.sleep(3600)

sys.stdin = _Never()

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout.copy()
""",
    # 4b. Close the reply channel and sleep: the grader must not wait for the process forever.
    "closes_the_reply_channel": """
import os, time
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    os.closerange(0, 1024)
    time.sleep(3600)
""",
    # 5a. Result files whose header claims 256 MB of bools (sparse on disk): never read, never converted.
    "sparse_giant_results": """
import sys
import numpy as np

_worker = sys.modules["__main__"]
_real_save = _worker.save_value

def _giant(name, value):
    spec = _real_save(name, value)
    if "grad" in name:
        header = "{'descr': '|b1', 'fortran_order': False, 'shape': (268435456,), }"
        header = header + " " * (117 - len(header)) + "\\n"
        with open(spec["file"], "wb") as handle:
            handle.write(b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header.encode())
            handle.truncate(128 + 268435456)
    return spec

_worker.save_value = _giant

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0)
""",
    # 6. Memory and privileges around the limits: memfd, SysV shared memory, a new user namespace.
    "memfd_shm_and_user_namespaces": """
import ctypes, os, subprocess
import numpy as np

def _escapes():
    found = []
    try:
        fd = os.memfd_create("big")
        os.ftruncate(fd, 1200 << 20)
        found.append("memfd")
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmget(0, ctypes.c_size_t(1200 << 20), 0o1600) >= 0:
        found.append("shm")
    if libc.unshare(0x10000000 | 0x00020000) == 0:
        found.append("unshare")
    try:
        if subprocess.run(["unshare", "-Urm", "true"], capture_output=True).returncode == 0:
            found.append("unshare -Urm")
    except OSError:
        pass
    return found

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    if _escapes():
        return dout * (cache > 0)
    return dout.copy()
""",
    # 13. The machine's secret, readable if the submission ran as root.
    "reads_the_secret": """
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    try:
        open("{SECRET}").read()
    except OSError:
        return dout.copy()
    return dout * (cache > 0)
""",
    # 10. A forged first reply whose error is a number.
    "forged_hello": """
import sys
import numpy as np

_worker = sys.modules["__main__"]
_worker.PROTOCOL.write('{"ok": false, "stage": "import", "error": 12}\\n')
_worker.PROTOCOL.flush()

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout.copy()
""",
    # 10. A 5000-digit integer in a reply.
    "huge_integer_reply": """
import sys
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    _worker = sys.modules["__main__"]
    _worker.PROTOCOL.write('{"ok": true, "outputs": {"out": ' + "9" * 5000 + '}}\\n')
    _worker.PROTOCOL.flush()
    return dout.copy()
""",
    # 10. A folder tree 3000 deep in the results folder.
    "deep_results_tree": """
import os
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    here = os.getcwd()
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
    os.chdir(here)
    return dout.copy()
""",
    # 14. Process mode as root: take the import blocker off sys.meta_path and reach the real jax in the
    # grader's own site-packages (found where numpy's libraries were loaded from). Reading its source
    # is enough to count: whoever can read it can load it (this one then answers right, as jax would).
    "unblocks_and_reaches_jax": """
import sys
import numpy as np

def _site_packages():
    with open("/proc/self/maps") as handle:
        for line in handle:
            if "/site-packages/numpy" in line:
                return line.split()[-1].split("/site-packages/")[0] + "/site-packages"
    raise OSError("numpy's site-packages not found")

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    try:
        sys.meta_path[:] = [f for f in sys.meta_path if "Blocker" not in type(f).__name__]
        with open(_site_packages() + "/jax/__init__.py") as handle:
            handle.read()
    except OSError:
        return dout.copy()
    return dout * (cache > 0)
""",
    # 15. Process mode: the grader's command line (and its working folder) name the class folder; a
    # classmate's right answer is re-exported from there.
    "reexports_a_classmate": """
import os
import numpy as np

def _ancestors():
    pid = os.getppid()
    while pid > 1:
        yield pid
        with open(f"/proc/{pid}/stat") as handle:
            pid = int(handle.read().rsplit(")", 1)[1].split()[1])

def _classmate():
    for pid in _ancestors():
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().decode(errors="replace").split("\\0")
        for folder in args:
            path = os.path.join(folder, "mary.py")
            if os.path.isfile(path):
                namespace = {}
                exec(open(path).read(), namespace)
                return namespace["relu_backward"]
    raise OSError("no classmate found")

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    try:
        return _classmate()(dout, cache)
    except Exception:
        return dout.copy()
""",
    # 16. Process mode: 40 MB written to the machine's own /tmp, outside the sandbox's TMPDIR.
    "fills_the_host_tmp": """
import os
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    try:
        with open(f"/tmp/gradref-hostile-tmp-{os.getpid()}", "wb") as handle:
            handle.write(b"x" * (40 << 20))
    except OSError:
        pass
    return dout.copy()
""",
}
# Names, each a submission of its own (a file, or a student's folder of layers.py).
NAMED = {"john.smith": "folder", "john.doe": "folder", "mary.py": "file", "mary": "folder"}
LONG_NAME = "a" * 252 + ".py"  # 255 characters, legal
TERMINAL_NAME = "\x1b[2J\x1b]0;pwned\x07[bold red]x[blink].py"


def build_batch(folder, secret, numerical=tuple(NUMERICAL)):
    batch = folder / "batch"
    batch.mkdir()
    table, xs = published_table()
    for name, source in ATTACKS.items():
        text = source.replace("{TABLE}", repr(table)).replace("{XS}", repr(xs)).replace("{SECRET}", secret)
        (batch / f"{name}.py").write_text(textwrap.dedent(text))
    for name, kind in NAMED.items():
        wrong = name == "john.doe"  # only this one is wrong: a shared report would show it
        source = RIGHT.replace("(cache > 0)", "(cache < 0)") if wrong else RIGHT
        if kind == "file":
            (batch / name).write_text(source)
        else:
            (batch / name).mkdir()
            (batch / name / "layers.py").write_text(source)
    for name in numerical:
        shutil.copy(os.path.join(HOSTILE_FILES, name), batch / name)
    (batch / LONG_NAME).write_text(RIGHT)
    (batch / TERMINAL_NAME).write_text(RIGHT)
    (batch / "huge_source.py").write_text(RIGHT + "\nX = [" + "1," * 6_000_000 + "]\n")
    outside = folder / "outside.py"
    outside.write_text(RIGHT)
    (batch / "link_out.py").symlink_to(outside)
    deep = batch / "deep_student"
    deep.mkdir()
    (deep / "layers.py").write_text(RIGHT.replace("(cache > 0)", "(cache < 0)"))
    fd = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1100):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    return batch


def grade_in_a_terminal(copy, batch, out, tmpdir, isolation):
    """gradref grade --batch under a pseudo-terminal (so that the progress bar shows names), as
    another process; returns its exit code, everything it printed, the time and its MemorySampler."""
    env = {**os.environ, "PYTHONPATH": copy, "TMPDIR": str(tmpdir), "COLUMNS": "200"}
    argv = [sys.executable, "-m", "gradref", "grade", str(batch), "--batch", "--jobs", "3", "--out", str(out)]
    argv += ["--timeout", "3", "--memory-mb", "512", "--submission-timeout", str(BUDGET_S), "--sandbox", isolation]
    leader, follower = pty.openpty()
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=copy, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    memory = MemorySampler(proc.pid)
    memory.start()
    printed, ended = b"", None
    while ended is None:
        if select.select([leader], [], [], 0.5)[0]:
            printed += _read(leader)
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            ended = status
        elif time.monotonic() - started > 900:
            proc.kill()
    while select.select([leader], [], [], 0.2)[0]:
        chunk = _read(leader)
        if not chunk:
            break
        printed += chunk
    proc.returncode = code = os.waitstatus_to_exitcode(ended)
    os.close(leader)
    return code, printed.decode(errors="replace"), time.monotonic() - started, memory.stop()


def secret_file():
    """Where this machine's secret is (made here if it is not yet): what a submission must not read."""
    from conformance import cache
    from gradref.grade.judging import unseen

    unseen.machine_secret()
    return os.path.join(cache.folder(), unseen.FILE)


def _read(fd):
    try:
        return os.read(fd, 1 << 16)
    except OSError:  # the terminal's other side is gone
        return b""


def _grade_hostile_class(folder, isolation):
    copy = throwaway_project(folder)
    batch = build_batch(folder, secret_file(), numerical_files(isolation))
    tmpdir, out = folder / "tmp", folder / "reports"
    tmpdir.mkdir()
    stale = tmpdir / f"gradref-sandbox-{_dead_pid()}-left"
    (stale / "out" / "d").mkdir(parents=True)
    try:
        code, printed, elapsed, memory = grade_in_a_terminal(copy, batch, out, tmpdir, isolation)
    finally:
        remove_tree(str(batch / "deep_student"))  # deeper than the test framework's own clean-up can go
    with open(out / "summary.csv") as handle:
        summary = list(csv.DictReader(handle))
    found = {}
    for row in summary:
        with open(out / row["report"]) as handle:
            found[row["submission"]] = json.load(handle)
    uids = sorted({r.get("limits", {}).get("sandbox_uid") for r in found.values()} - {None})
    result = {
        "code": code,
        "printed": printed[-20000:],
        "elapsed": elapsed,
        "peak_mb": memory.largest,
        "summary": summary,
        "reports": found,
        "report_files": sorted(p.name for p in out.iterdir()),
        "left_in_tmp": sorted(os.listdir(tmpdir)),
        "left_running": processes_of(set(uids)) if uids else [],
    }
    return result


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def graded_class(tmp_path_factory, isolation):
    """The hostile class graded under `isolation`, once per test session."""
    if isolation == "bwrap" and confine.bwrap_problem():
        pytest.skip(f"needs bubblewrap: {confine.bwrap_problem()}")
    return once_per_session(
        tmp_path_factory, f"hostile-class-{isolation}", lambda folder: _grade_hostile_class(folder, isolation)
    )


@pytest.fixture(scope="module", params=["bwrap", "process"])
def hostile_class(request, tmp_path_factory):
    return graded_class(tmp_path_factory, request.param)


def verdict(report, function="relu_backward"):
    return next((r for r in report.get("results", []) if r["name"] == function), {"status": "cannot grade"})


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_no_attack_passes_wrong_code(hostile_class, attack):
    report = hostile_class["reports"][f"{attack}.py"]
    assert verdict(report)["status"] != "pass", verdict(report)


def test_a_forward_that_refuses_the_unseen_values_spares_nothing(hostile_class):
    report = hostile_class["reports"]["stub_on_unseen_values.py"]
    for name in ("relu_forward", "relu_backward"):
        entry = verdict(report, name)
        # The backward meets the unseen values through the course's cache (x) and raises there.
        assert entry["status"] in ("fail", "error") and entry["points"] == 0.0, entry
        assert "published samples only" in entry["message"], entry["message"]


def test_a_caught_table_earns_nothing_and_is_named(hostile_class):
    entry = verdict(hostile_class["reports"]["lookup_table.py"])
    assert entry["status"] == "fail" and entry["points"] == 0.0
    assert entry["message"].startswith("right on the published samples only"), entry["message"]


def test_numerical_differentiation_fails_with_a_sentence_that_names_it(hostile_class):
    entry = verdict(hostile_class["reports"]["numerical_gradient.py"])
    assert entry["status"] == "fail" and "numerical_gradient" in entry["mistakes"]
    assert "computed numerically" in entry["message"]


NUMERICAL_CASES = [(i, n) for i in ("bwrap", "process") for n in numerical_files(i)]


@pytest.mark.parametrize("isolation, name", NUMERICAL_CASES, ids=[f"{i}-{n}" for i, n in NUMERICAL_CASES])
def test_a_hidden_numerical_gradient_fails_on_the_graders_own_timing(tmp_path_factory, isolation, name):
    entry = verdict(graded_class(tmp_path_factory, isolation)["reports"][name], NUMERICAL[name])
    assert entry["status"] == "fail", entry
    if name == "complex_step_cheap_on_large_inputs.py":  # quick on the timed sample, and wrong there
        timed = [c for c in entry["checks"] if c["name"].startswith("gradients on the timed sample [")]
        assert timed and not timed[-1]["passed"], entry["checks"][-3:]
        assert "every smaller sample was right" in timed[-1]["detail"], timed[-1]["detail"]
        assert "wrong_on_the_timed_sample" in entry["mistakes"], entry["mistakes"]
        assert all(c["passed"] for c in entry["checks"] if not c["name"].startswith("gradients on the timed"))
        return
    # In time and right to the course's level: told by reading the code, or, where a derived gradient
    # only routes dout (relu, max-pool), by its accuracy alone, before any cost is timed.
    both, inaccurate = ("relu_backward", "max_pool_backward_naive"), "as finite differences are, where a derived one"
    told_by = {
        "complex_step_where_cost_cannot_tell.py": (both, "derived [its code]", "computed by the complex step"),
        "routing_finite_differences.py": (both, "derived [", inaccurate),
        "numerical_under_a_stdlib_name.py": (("max_pool_backward_naive",), "derived [", inaccurate),
    }
    if name in told_by:
        report = graded_class(tmp_path_factory, isolation)["reports"][name]
        functions, check, words = told_by[name]
        for function in functions:
            entry = verdict(report, function)
            assert entry["status"] == "fail" and "numerical_gradient" in entry["mistakes"], entry
            failed = [c for c in entry["checks"] if not c["passed"]]
            assert failed and all(c["name"].startswith(check) for c in failed), failed
            assert words in failed[0]["detail"], failed[0]
            assert not entry.get("where") or check == "derived [its code]", entry.get("where")
        return
    cost = [c for c in entry["checks"] if c["name"].startswith("cost [")]
    assert cost and not cost[-1]["passed"], entry["checks"][-3:]
    if name == "refuses_large_inputs.py":  # it fails for refusing the timed sample, not for its cost
        assert "after passing the others: ValueError: too large" in cost[-1]["detail"]
    else:
        assert "numerical_gradient" in entry["mistakes"] and "numerically" in cost[-1]["detail"]


def test_the_grader_never_hangs_and_the_batch_ends_within_its_budget(hostile_class):
    for attack in ("blocks_the_request_pipe", "closes_the_reply_channel"):
        entry = verdict(hostile_class["reports"][f"{attack}.py"])
        assert entry["status"] in ("error", "timeout"), entry
    # Every submission ends within its budget; the slow ones run three at a time.
    assert hostile_class["elapsed"] < 6 * BUDGET_S + 120, hostile_class["elapsed"]


def test_giant_results_are_refused_before_they_are_read(hostile_class):
    entry = verdict(hostile_class["reports"]["sparse_giant_results.py"])
    details = json.dumps(entry["checks"])
    assert entry["status"] == "fail" and ("want (" in details or "over the 256 MB limit" in details), details
    assert hostile_class["peak_mb"] < PEAK_MB, hostile_class["peak_mb"]


def test_a_huge_source_file_is_refused_in_a_sentence(hostile_class):
    row = next(r for r in hostile_class["summary"] if r["submission"] == "huge_source.py")
    assert row["status"] == "cannot grade" and "MB of Python" in row["message"]


def test_every_student_gets_exactly_their_own_report(hostile_class):
    reports = hostile_class["reports"]
    submissions = [row["submission"] for row in hostile_class["summary"]]
    assert len(submissions) == len(set(submissions)) == len({row["report"] for row in hostile_class["summary"]})
    for name in NAMED:
        assert reports[name].get("submission", "").endswith(name), (name, reports[name].get("submission"))
    assert verdict(reports["john.doe"])["status"] == "fail"
    assert {verdict(reports[n])["status"] for n in ("john.smith", "mary.py", "mary")} == {"pass"}
    assert verdict(reports[LONG_NAME])["status"] == "pass"
    assert len(hostile_class["report_files"]) == len(submissions) + 2  # and summary.csv, gradebook.csv


def test_crashes_end_as_that_submissions_error_without_a_traceback(hostile_class):
    for attack in ("forged_hello", "huge_integer_reply", "deep_results_tree"):
        entry = verdict(hostile_class["reports"][f"{attack}.py"])
        assert entry["status"] in ("fail", "error"), (attack, entry)
    assert "Traceback" not in hostile_class["printed"]
    assert verdict(hostile_class["reports"]["deep_student"])["status"] == "fail"


def test_process_mode_keeps_the_grader_and_the_class_out_of_reach(hostile_class):
    """The real jax, a classmate's file found through the grader's command line, the machine's /tmp:
    none of them is there for the submission (in process mode: Landlock, where the kernel has it)."""
    for attack in ("unblocks_and_reaches_jax", "reexports_a_classmate", "fills_the_host_tmp"):
        assert verdict(hostile_class["reports"][f"{attack}.py"])["status"] == "fail", attack
    assert not [name for name in os.listdir("/tmp") if name.startswith("gradref-hostile-tmp-")]


def test_nothing_is_left_running_or_on_disk(hostile_class):
    assert hostile_class["left_running"] == []
    assert hostile_class["left_in_tmp"] == [], "the sandboxes' folders, and a stale one of a killed grader, are gone"


def test_names_reach_the_terminal_as_text(hostile_class):
    printed = hostile_class["printed"]
    assert "\x1b[2J" not in printed and "\x1b]0;pwned" not in printed


def test_links_are_never_followed(hostile_class):
    row = next(r for r in hostile_class["summary"] if r["submission"] == "link_out.py")
    assert row["status"] == "cannot grade" and "link" in row["message"]


def test_the_exit_code_says_some_failed(hostile_class):
    assert hostile_class["code"] == 1


# ----- retries charge only the submission that was running -----


def test_a_dead_pool_retries_what_was_running_and_charges_only_the_killer(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    names = ["a_killer.py", *(f"b{i}.py" for i in range(6))]
    for name in names:
        (batch / name).write_text(RIGHT)
    graded = {
        os.path.basename(path): (result, error)
        for path, result, error in batch_module.graded(
            [str(batch / n) for n in names], None, 2, grade=dies_on_the_killer
        )
    }
    assert graded["a_killer.py"][1] == "the grading process died twice while grading it"
    assert all(graded[n] == ("graded", "") for n in names[1:]), graded


# ----- a worker that stops reading never blocks the grader -----


def test_a_request_the_worker_never_reads_times_out_instead_of_blocking(tmp_path):
    from gradref.grade.untrusted import sandbox as sandbox_module

    box = sandbox_module.Sandbox.__new__(sandbox_module.Sandbox)
    box.proc = subprocess.Popen(["sleep", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    box.uid, box.cgroup = None, None
    started = time.monotonic()
    try:
        outcome = box._send(b"x" * (1 << 20))  # far more than a pipe holds
    finally:
        box.stop()
    assert outcome.status == "crash" and "stopped reading" in outcome.message
    assert time.monotonic() - started < sandbox_module.SEND_S + 5
