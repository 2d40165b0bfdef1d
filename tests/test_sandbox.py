"""The sandbox as a hostile student meets it: one submission per attack, graded as one batch.

Every attacker's relu_backward is wrong (it forgets the mask), so the only way it passes is an attack
that works. The batch runs from a throwaway copy of the project (the attacks aim at the copy, never at
this checkout), and after it: no attacker passed, the copy and the batch folder are byte for byte as
before, classmates got their right verdicts, and no process of the sandboxes' uids is left.
"""

import csv
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import once_per_session
from processes import AS_IN_A_TERMINAL, processes_of, still_alive, throwaway_project

from gradref.grade.untrusted import confine
from gradref.grade.untrusted.sandbox import BadResult, process_tree, read_npy, remove_tree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_bwrap = pytest.mark.skipif(
    confine.bwrap_problem() is not None, reason=f"needs bubblewrap: {confine.bwrap_problem()}"
)

GOOD = """
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0)
"""

# Each attacker: correct forward, wrong backward (no mask), and `attack()`, which, when it works, hands
# back a correct backward or damages something outside the sandbox. {COPY}, {BATCH} are filled in.
WRONG = """
import numpy as np, os, sys

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    better = attack()
    return better(dout, cache) if callable(better) else dout.copy()

def mark(what):
    try:
        with open(os.path.join("{COPY}", "pwned-" + what), "w") as handle:
            handle.write("x")
    except OSError:
        pass
"""

ATTACKS = {
    "payload_in_a_lazy_module": """
        def attack():
            for name in ("gradref/grade/front/reports.py", "gradref/grade/explain/diagnose.py"):
                path = os.path.join("{COPY}", name)
                try:
                    info = os.stat(path)
                    with open(path, "a") as handle:
                        handle.write("\\n# payload\\n")
                    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
                except OSError:
                    pass
    """,
    "ptrace_the_grader": """
        import ctypes
        def attack():
            libc = ctypes.CDLL(None)
            for pid in {os.getppid(), 1} | {int(p) for p in os.listdir("/proc") if p.isdigit()}:
                if pid != os.getpid() and libc.ptrace(16, pid, 0, 0) == 0:   # PTRACE_ATTACH
                    mark("ptrace")
    """,
    "edit_the_install_and_drop_a_pth": """
        def attack():
            for path, text in ((os.path.join("{COPY}", "conformance", "__init__.py"), "\\nimport os\\n"),
                               (os.path.join("{COPY}", "site-packages", "zz.pth"), "import os\\n")):
                try:
                    with open(path, "a") as handle:
                        handle.write(text)
                except OSError:
                    pass
    """,
    "import_the_answers": """
        def attack():
            sys.meta_path[:] = [f for f in sys.meta_path if "Blocker" not in type(f).__name__]
            sys.path.insert(0, "{COPY}")
            try:
                import manual_grads
                return manual_grads.relu_backward
            except Exception:
                pass
            try:
                import runpy
                return runpy.run_path(os.path.join("{COPY}", "examples", "layers_correct.py"))["relu_backward"]
            except Exception:
                pass
    """,
    "jax_in_a_subprocess": """
        import subprocess
        def attack():
            code = "import jax; print('jax here')"
            for python in (sys.executable, "python3", "/usr/bin/python3"):
                try:
                    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=20).stdout
                except Exception:
                    continue
                if "jax here" in out:
                    mark("jax")
    """,
    "poison_classmates_pyc": """
        import importlib.util, py_compile
        def attack():
            for name in ("good", "wrong"):
                source = os.path.join("{BATCH}", name + ".py")
                cache = importlib.util.cache_from_source(source)
                try:
                    os.makedirs(os.path.dirname(cache), exist_ok=True)
                    py_compile.compile(source, cfile=cache)
                except Exception:
                    pass
    """,
    "copy_a_classmate": """
        def attack():
            folders = ["{BATCH}"]
            for pid in (p for p in os.listdir("/proc") if p.isdigit()):
                try:
                    folders += open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\\0")
                except OSError:
                    pass
            for folder in folders:
                try:
                    source = open(os.path.join(folder, "good.py")).read()
                except OSError:
                    continue
                space = {}
                exec(source, space)
                return space["relu_backward"]
    """,
    "daemon_rewrites_the_reports": """
        import time
        def attack():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(4)
                    mark("daemon")
                    for name in ("summary.csv", "daemon_rewrites_the_reports.py.json", "good.py.json"):
                        try:
                            with open(os.path.join("{OUT}", name), "w") as handle:
                                handle.write("rewritten")
                        except OSError:
                            pass
                os._exit(0)
    """,
    "kill_the_grader": """
        import signal
        def attack():
            for target in (os.getppid(), -1):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
    """,
    "result_is_a_fifo": """
        import __main__
        def attack():
            __main__._save = lambda path, array, allow_pickle=False: os.mkfifo(path)
    """,
    "result_is_a_symlink": """
        import __main__
        def attack():
            __main__._save = lambda path, array, allow_pickle=False: os.symlink("/etc/passwd", path)
    """,
    "reply_without_results": """
        import __main__
        def attack():
            real = __main__.reply
            def reply(message):
                message.get("outputs", {}).pop("out", None)
                message.get("outputs", {}).pop("grads", None)
                real(message)
            __main__.reply = reply
    """,
    "string_result": """
        def attack():
            return lambda dout, cache: np.array(["PASS"] * dout.size)
    """,
    "structured_result": """
        def attack():
            return lambda dout, cache: np.zeros(dout.shape, dtype=[("a", "f8"), ("b", "f8")])
    """,
    "object_npy": """
        import __main__
        def attack():
            real = __main__._save
            __main__._save = lambda path, array, allow_pickle=False: real(path, np.array([{}, 1], dtype=object),
                                                                          allow_pickle=True)
    """,
    "sparse_3gib_result": """
        import __main__
        def attack():
            def save(path, array, allow_pickle=False):
                header = {"descr": "<f8", "fortran_order": False, "shape": (3 << 27,)}
                with open(path, "wb") as handle:
                    np.lib.format.write_array_header_1_0(handle, header)
                    handle.truncate(3 << 30)
            __main__._save = save
    """,
    "sparse_400mb_result": """
        import __main__
        def attack():
            def save(path, array, allow_pickle=False):
                header = {"descr": "<f8", "fortran_order": False, "shape": (50 << 20,)}
                with open(path, "wb") as handle:
                    np.lib.format.write_array_header_1_0(handle, header)
                    handle.truncate(400 << 20)
            __main__._save = save
    """,
    "memory_in_children": """
        import time
        def attack():
            for _ in range(4):
                if os.fork() == 0:
                    hog = []
                    try:
                        while True:
                            hog.append(b"x" * (64 << 20))
                    except MemoryError:
                        time.sleep(30)
                    os._exit(0)
            time.sleep(30)
    """,
    "fork_bomb": """
        import time
        def attack():
            children = 0
            for _ in range(400):
                try:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    children += 1
                except OSError:
                    break
            time.sleep(30)
    """,
    "fill_the_disk": """
        def attack():
            block = b"x" * (1 << 20)
            try:
                for number in range(100_000):
                    with open(f"junk{number}", "wb") as handle:
                        for _ in range(8):
                            handle.write(block)
            except OSError:
                pass
    """,
    "ansi_in_the_message": """
        def attack():
            raise ValueError("\\x1b[2J\\x1b[32mALL TESTS PASSED\\x1b[0m\\x07")
    """,
    "garbage_on_the_protocol": """
        def attack():
            for fd in range(3, 20):
                try:
                    os.write(fd, b'{"ok": true, "outputs": {}}\\n' + b"x" * (2 << 20))
                except OSError:
                    pass
    """,
    "network": """
        import socket
        def attack():
            for host in ("127.0.0.1", "10.0.0.1"):
                try:
                    socket.create_connection((host, 22), timeout=1).close()
                    mark("network")
                except OSError:
                    pass
    """,
}

FORMULA_NAME = "=HYPERLINK(1)"


def _fill(text, copy, batch, out):
    return text.replace("{COPY}", copy).replace("{BATCH}", batch).replace("{OUT}", out)


def tree_digest(folder):
    """{relative path: sha256} of every file under folder (links and folders included by name)."""
    digest = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path) or os.path.isdir(path):
                digest[rel] = "dir" if os.path.isdir(path) else "link"
            else:
                with open(path, "rb") as handle:
                    digest[rel] = hashlib.sha256(handle.read()).hexdigest()
    return digest


def run_batch(copy, batch, out, *extra):
    # The copy is compared file by file afterwards: no bytecode caches of its own written into it.
    env = {**os.environ, "PYTHONPATH": copy, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradref",
            "grade",
            batch,
            "--batch",
            "--out",
            out,
            "--timeout",
            "4",
            "--memory-mb",
            "1024",
            *extra,
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    return once_per_session(tmp_path_factory, "hostile", _grade_hostile_batch)


def _grade_hostile_batch(tmp):
    copy = throwaway_project(tmp)
    batch, out = str(tmp / "batch"), str(tmp / "reports")
    os.makedirs(batch)
    with open(os.path.join(batch, "good.py"), "w") as handle:
        handle.write(GOOD)
    with open(os.path.join(batch, "wrong.py"), "w") as handle:
        handle.write(GOOD.replace("(cache > 0)", "(cache < 0)"))
    with open(os.path.join(batch, FORMULA_NAME + ".py"), "w") as handle:
        handle.write(GOOD)
    for name, attack in ATTACKS.items():
        with open(os.path.join(batch, name + ".py"), "w") as handle:
            handle.write(_fill(WRONG + textwrap.dedent(attack), copy, batch, out))
    before_copy, before_batch = tree_digest(copy), tree_digest(batch)
    started = time.monotonic()
    proc = run_batch(copy, batch, out, "--jobs", "2", "--sandbox", "bwrap", "--json", str(tmp / "batch.json"))
    elapsed = time.monotonic() - started
    time.sleep(6)  # the daemon's moment to strike, had it survived
    reports = {}
    for name in os.listdir(out):
        if name.endswith(".json"):
            with open(os.path.join(out, name)) as handle:
                reports[name[: -len(".py.json")]] = json.load(handle)
    with open(os.path.join(out, "summary.csv")) as handle:
        summary = {row["submission"]: row for row in csv.DictReader(handle)}
    uids = sorted({r.get("limits", {}).get("sandbox_uid") for r in reports.values()} - {None})
    return {
        "proc": {"returncode": proc.returncode, "stderr": proc.stderr[-4000:]},
        "reports": reports,
        "summary": summary,
        "copy": copy,
        "batch": batch,
        "before_copy": before_copy,
        "before_batch": before_batch,
        "uids": uids,
        "elapsed": elapsed,
    }


def verdict(report, function):
    return next((r for r in report.get("results", []) if r["name"] == function), {"status": "cannot grade"})


@needs_bwrap
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_no_attack_passes_wrong_code(hostile_batch, attack):
    report = hostile_batch["reports"][attack]
    assert report.get("isolation", "bwrap") == "bwrap"
    backward = verdict(report, "relu_backward")
    assert backward["status"] != "pass", (attack, backward)
    assert hostile_batch["summary"][attack + ".py"]["status"] != "pass"
    assert "\x1b" not in json.dumps(report) and "\x07" not in json.dumps(report)


@needs_bwrap
def test_classmates_get_their_own_verdicts(hostile_batch):
    summary = hostile_batch["summary"]
    assert summary["good.py"]["status"] == "pass", summary["good.py"]
    assert summary["wrong.py"]["status"] == "fail", summary["wrong.py"]
    assert verdict(hostile_batch["reports"]["good"], "relu_backward")["status"] == "pass"


@needs_bwrap
def test_nothing_outside_the_sandbox_changed(hostile_batch):
    assert tree_digest(hostile_batch["copy"]) == hostile_batch["before_copy"]
    assert tree_digest(hostile_batch["batch"]) == hostile_batch["before_batch"]
    assert "rewritten" not in json.dumps(hostile_batch["reports"])


@needs_bwrap
def test_no_process_outlives_the_grader(hostile_batch):
    assert hostile_batch["uids"], "the reports name the sandboxes' uids"
    assert processes_of(hostile_batch["uids"]) == []


@needs_bwrap
def test_limits_stop_the_hogs_with_a_reason(hostile_batch):
    reasons = {
        name: verdict(hostile_batch["reports"][name], "relu_backward")["message"]
        for name in (
            "memory_in_children",
            "fork_bomb",
            "fill_the_disk",
            "result_is_a_fifo",
            "sparse_3gib_result",
            "sparse_400mb_result",
            "object_npy",
            "string_result",
            "reply_without_results",
        )
    }
    assert "memory" in reasons["memory_in_children"] or "processes" in reasons["memory_in_children"], reasons
    assert "processes" in reasons["fork_bomb"] or "no answer" in reasons["fork_bomb"], reasons
    assert (
        "MB of files" in reasons["fill_the_disk"]
        or "File size" in reasons["fill_the_disk"]
        or "no answer" in reasons["fill_the_disk"]
    ), reasons
    assert "not a regular file" in reasons["result_is_a_fifo"], reasons
    assert "File too large" in reasons["sparse_3gib_result"] or "over the" in reasons["sparse_3gib_result"]
    assert "over the 256 MB limit" in reasons["sparse_400mb_result"], reasons
    assert "not a real number type" in reasons["object_npy"], reasons
    assert "not a real number type" in reasons["string_result"], reasons
    report = hostile_batch["reports"]["reply_without_results"]
    failed = " ".join(c["detail"] for r in report["results"] for c in r["checks"] if not c["passed"])
    assert "no result came back" in failed and "returned 0 gradient(s)" in failed, failed


@needs_bwrap
def test_a_formula_file_name_stays_text_in_the_summary(hostile_batch):
    rows = hostile_batch["summary"]
    assert "'" + FORMULA_NAME + ".py" in rows and rows["'" + FORMULA_NAME + ".py"]["status"] == "pass"


@pytest.mark.skipif(
    confine.process_uid() is not None,
    reason="the grader switches uid in process mode here, so the control attack cannot land",
)
def test_control_without_bwrap_the_payload_lands_and_the_checks_see_it(tmp_path):
    """Proof that the checks above can fail: with process-only isolation under the grader's own uid,
    the same payload attack changes the (throwaway) install, and the digest notices."""
    copy = throwaway_project(tmp_path)
    batch, out = str(tmp_path / "batch"), str(tmp_path / "reports")
    os.makedirs(batch)
    with open(os.path.join(batch, "attacker.py"), "w") as handle:
        handle.write(_fill(WRONG + textwrap.dedent(ATTACKS["payload_in_a_lazy_module"]), copy, batch, out))
    before = tree_digest(copy)
    proc = run_batch(copy, batch, out, "--sandbox", "process")
    assert "process-only isolation" in proc.stderr
    assert tree_digest(copy) != before


# ----- the grader's reading of result files, unit by unit -----


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


def _result_dir(tmp_path):
    return os.open(tmp_path, os.O_DIRECTORY)


def test_read_npy_takes_a_plain_array(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(2, 3))
    assert read_npy(_result_dir(tmp_path), "a.npy").tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: os.symlink("/etc/hostname", p), "could not be opened"),
        (lambda p: np.save(p, np.array([1 + 2j])), "not a real number type"),
        (lambda p: _write(p, b"not numpy at all"), "not a .npy array"),
        (lambda p: np.save(p, np.zeros(3, dtype="U4")), "not a real number type"),
    ],
)
def test_read_npy_refuses_what_is_not_a_plain_array(tmp_path, make, words):
    make(str(tmp_path / "a.npy"))
    with pytest.raises(BadResult, match=words):
        read_npy(_result_dir(tmp_path), "a.npy")


def test_read_npy_refuses_a_header_that_lies_about_the_size(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(10))
    with open(tmp_path / "a.npy", "ab") as handle:
        handle.write(b"\0" * 8)
    with pytest.raises(BadResult, match="does not match its header"):
        read_npy(_result_dir(tmp_path), "a.npy")


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--timeout", "-1"),
        ("--memory-mb", "0"),
        ("--memory-mb", "99999999999"),
    ],
)
def test_absurd_limits_are_usage_errors(tmp_path, capsys, flag, value):
    from gradref.cli import main

    (tmp_path / "s.py").write_text(GOOD)
    assert main(["grade", str(tmp_path / "s.py"), flag, value]) == 2
    assert flag in capsys.readouterr().err


def test_bwrap_asked_for_but_missing_exits_2(tmp_path, monkeypatch):
    from gradref.cli import main

    monkeypatch.setattr(confine, "bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    (tmp_path / "s.py").write_text(GOOD)
    assert main(["grade", str(tmp_path / "s.py"), "--sandbox", "bwrap"]) == 2


# ----- Ctrl-C -----

SLOW = GOOD.replace("return dout * (cache > 0)", "while True:\n        pass")


@pytest.mark.parametrize(
    "stop, exit_code, said",
    [
        ("ctrl-c", 130, "interrupted"),  # a terminal's Ctrl-C: SIGINT to the whole process group
        ("sigterm", 143, "terminated"),  # a CI time limit or `kill`: SIGTERM to gradref alone
    ],
)
def test_a_stopped_batch_ends_promptly_and_keeps_the_reports(tmp_path, stop, exit_code, said):
    batch, out = tmp_path / "batch", tmp_path / "reports"
    batch.mkdir()
    (batch / "a_fast.py").write_text(GOOD)
    for name in ("b_slow", "c_slow", "d_slow"):
        (batch / f"{name}.py").write_text(SLOW)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            AS_IN_A_TERMINAL,
            "grade",
            str(batch),
            "--batch",
            "--jobs",
            "2",
            "--out",
            str(out),
            "--timeout",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (out / "a_fast.py.json").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert (out / "a_fast.py.json").exists(), "the fast submission was graded first"
        time.sleep(1.0)  # the slow ones are now inside their sandboxes
        started = set(process_tree(proc.pid))
        if stop == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.terminate()
        stopped_at = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == exit_code and took < 10, (proc.returncode, took)
    assert "Traceback" not in stderr and said in stderr
    assert json.loads((out / "a_fast.py.json").read_text())["passed"] is True
    with open(out / "summary.csv") as handle:
        assert [row["submission"] for row in csv.DictReader(handle)] == ["a_fast.py"]
    left = still_alive(started)
    assert left == [], f"no process outlives gradref: {left}"
    uids = {confine.UID_BASE + pid % 10_000_000 for pid in started} if os.geteuid() == 0 else set()
    assert processes_of(uids) == []


# ----- cgroup v2 -----


def test_a_delegated_cgroup_gets_the_limits_and_the_worker(tmp_path, monkeypatch):
    """Where cgroup v2 is delegated (memory and pids enabled for children), the worker's whole tree is
    limited there; the kernel side is not exercised on a cgroup v1 machine, the files we write are."""
    with open("/proc/self/cgroup") as handle:
        own = next((entry.strip()[3:] for entry in handle if entry.startswith("0::")), "/")
    folder = tmp_path / own.lstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cgroup.subtree_control").write_text("cpu memory pids\n")
    monkeypatch.setattr(confine, "CGROUP_ROOT", str(tmp_path))
    made = confine.limit_in_cgroup(4242, 512, 36, "gradref-test")
    assert made == str(folder / "gradref-test")
    assert (folder / "gradref-test" / "memory.max").read_text() == str(512 << 20)
    assert (folder / "gradref-test" / "pids.max").read_text() == "36"
    assert (folder / "gradref-test" / "cgroup.procs").read_text() == "4242"
    (folder / "cgroup.subtree_control").write_text("cpu\n")
    assert confine.limit_in_cgroup(4242, 512, 36, "gradref-other") is None


def test_a_killed_gradref_leaves_no_grading_process(tmp_path):
    """SIGKILL gives gradref no chance to clean up: its pool processes and sandboxes end all the same."""
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("b_slow", "c_slow"):
        (batch / f"{name}.py").write_text(SLOW)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gradref",
            "grade",
            str(batch),
            "--batch",
            "--jobs",
            "2",
            "--out",
            str(tmp_path / "reports"),
            "--timeout",
            "120",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tree = process_tree(proc.pid)
            if _sandbox_workers(tree) >= 2:
                break
            time.sleep(0.3)
        started = set(process_tree(proc.pid))
        assert _sandbox_workers(started) >= 2, "both sandboxes were running"
    finally:
        proc.kill()
        proc.wait()
    left = still_alive(started - {proc.pid}, wait=30.0)  # a handler waits for a running JAX compile to return
    assert left == [], f"no process outlives gradref: {left}"


ONE_CLEAN_UP = """
import os, signal, sys, time
from conformance import pools
calls = []

def clean_up(*_):
    calls.append(1)
    os.kill(os.getpid(), signal.SIGTERM)   # a dying parent sends one SIGTERM per thread that exits
    time.sleep(0.5)
    print(len(calls), flush=True)
    os._exit(143)

pools.quiet_worker(on_terminate=clean_up)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(10)
"""


def test_a_pool_process_cleans_up_once_however_many_sigterms_come():
    done = subprocess.run([sys.executable, "-c", ONE_CLEAN_UP], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (143, "1"), done.stderr


ORPHAN_AT_START_UP = """
import multiprocessing, os, sys
slow_start = "import time; time.sleep(2); from conformance import pools; pools.quiet_worker(); time.sleep(60)"
child = multiprocessing.get_context("spawn").Process(target=exec, args=(slow_start,))
child.start()
with open(sys.argv[1], "w") as handle:
    handle.write(str(child.pid))
os._exit(0)                  # as if SIGKILLed: before the child could ask for PR_SET_PDEATHSIG
"""


def test_a_pool_process_whose_parent_died_while_it_started_ends_itself(tmp_path):
    subprocess.run(
        [sys.executable, "-c", ORPHAN_AT_START_UP, str(tmp_path / "pid")],
        cwd=ROOT,
        timeout=60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    child = int((tmp_path / "pid").read_text())
    try:
        assert still_alive({child}, wait=20.0) == [], "the orphaned pool process went on"
    finally:
        if still_alive({child}, wait=0):
            os.kill(child, signal.SIGKILL)


def test_closing_the_sandboxes_from_a_signal_handler_never_waits_on_the_interrupted_code(tmp_path, monkeypatch):
    """SIGTERM can land while the pool process is inside Popen.wait; the clean-up must not need its lock."""
    from gradref.grade.untrusted import sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module, "LIVE", sandbox_module.weakref.WeakSet())  # only this test's sandbox
    submission = tmp_path / "good.py"
    submission.write_text(GOOD)
    box = sandbox_module.Sandbox(str(submission), timeout=30, isolation=confine.PROCESS)
    assert box.start().get("ok"), box.hello
    worker, root = box.proc.pid, box.root
    with box.proc._waitpid_lock:  # CPython's lock, as an interrupted Popen.wait holds it
        closing = threading.Thread(target=sandbox_module.close_all_sandboxes, daemon=True)
        closing.start()
        closing.join(20)
        assert not closing.is_alive(), "close_all_sandboxes waited on the interrupted Popen.wait"
    assert still_alive({worker}) == [] and not os.path.exists(root)
    box.close()


def _sandbox_workers(pids):
    """How many of `pids` are a sandbox's Python worker (bwrap's own processes name worker.py too)."""
    commands = [_cmdline(pid).split("\0") for pid in pids]
    return sum("worker.py" in " ".join(c) and os.path.basename(c[0]) != "bwrap" for c in commands)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


PEEKS = """
import os

def _reads(path):
    try:
        with open(path, "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False

if _reads({GRADREF!r}):
    reads_gradref = 1
if _reads("/proc/1/cmdline"):
    reads_proc = 1
if _reads({CLASSMATE!r}):
    reads_classmate = 1
try:
    with open("/tmp/gradref-peek-" + str(os.getpid()), "w") as handle:
        handle.write("x")
    writes_tmp = 1
except OSError:
    pass
try:
    import socket

    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 9))
    sends_udp = 1
except OSError:
    pass
loaded = 1
"""


@pytest.mark.skipif(confine.landlock_abi() < 1, reason="needs a kernel with Landlock (5.13 or later, enabled)")
def test_in_process_mode_landlock_keeps_gradref_proc_classmates_and_tmp_out_of_reach(tmp_path):
    from gradref.grade.untrusted import sandbox as sandbox_module

    classmate = tmp_path / "class" / "mary.py"
    classmate.parent.mkdir()
    classmate.write_text("x = 1\n")
    os.chmod(tmp_path, 0o755)
    submission = tmp_path / "class" / "peeks.py"
    submission.write_text(
        PEEKS.replace("{GRADREF!r}", repr(confine.__file__)).replace("{CLASSMATE!r}", repr(str(classmate)))
    )
    box = sandbox_module.Sandbox(str(submission), timeout=30, isolation=confine.PROCESS)
    try:
        hello = box.start()
    finally:
        box.close()
    assert hello.get("ok"), hello
    names = set(hello["names"])
    assert "loaded" in names and not names & {"reads_gradref", "reads_proc", "reads_classmate", "writes_tmp"}, names
    from gradref.grade.untrusted import syscalls

    assert "sends_udp" not in names or syscalls.problem() is not None, "the filter refuses internet sockets"
    assert "Landlock" in confine.isolation_note(confine.PROCESS) or confine.process_uid() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="the dedicated uid exists only when gradref runs as root")
def test_without_landlock_the_note_names_what_the_submissions_uid_can_still_read(monkeypatch):
    """As root without Landlock, file permissions are all there is: a child that becomes the
    submission's uid tries each of the grader's paths, gradref's cache folder is made private first,
    and the note says what stays open (the pass stays advisory)."""
    import pathlib
    import tempfile

    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="gradref-permissions-", dir="/tmp"))  # parents others may pass
    open_file, closed_file, cache_folder = tmp_path / "open.py", tmp_path / "closed.py", tmp_path / "cache"
    for path, mode in ((open_file, 0o644), (closed_file, 0o600)):
        path.write_text("x = 1\n")
        os.chmod(path, mode)
    cache_folder.mkdir(mode=0o755)
    os.chmod(cache_folder, 0o755)
    os.chmod(tmp_path, 0o755)
    paths = {"gradref": str(open_file), "jax": str(closed_file)}
    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    monkeypatch.setattr(confine, "uses_worker_root", lambda: False)  # e.g. a container that refuses chroot
    monkeypatch.setattr(confine, "grader_paths", lambda folder=None, _=None: {**paths, "gradref's cache": folder})
    confine.readable_by_sandbox_uid.cache_clear()
    try:
        note = confine.isolation_note(confine.PROCESS, str(cache_folder))
    finally:
        confine.readable_by_sandbox_uid.cache_clear()
        mode_after = stat.S_IMODE(os.stat(cache_folder).st_mode)
        remove_tree(str(tmp_path))
    assert note.startswith(confine.PERMISSIONS_NOTE) and "advisory" in note
    assert note.endswith("the submission's uid can still read gradref"), note
    assert mode_after == 0o700


ANSWER_KEY = """
import os
import sys

sys.meta_path[:] = [f for f in sys.meta_path if "Blocker" not in type(f).__name__]
for name in ("jax", "manual_grads", "gradref", "reference", "conformance"):
    try:
        __import__(name)
        globals()["imports_" + name] = 1
    except ImportError:
        pass
for path in {PATHS!r}:
    if os.path.exists(path):
        sees_host_path = path
if os.path.exists("/proc/1/cmdline"):
    sees_proc = 1
loaded = 1
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a worker root of its own is made only when gradref runs as root")
@pytest.mark.parametrize("links", ["hard links", "a copied template"])
def test_without_landlock_a_worker_root_leaves_nothing_of_the_grader_to_import_or_read(tmp_path, monkeypatch, links):
    """Process mode as root on a kernel without Landlock: the submission takes the import blocker off
    sys.meta_path, imports jax and gradref's packages and looks for the grader's files, the class
    folder and the machine's secret by their host paths. None is there, in its worker root, whether
    the host's files could be linked in or a template had to be copied."""
    from conformance import cache
    from gradref.grade.untrusted import sandbox as sandbox_module
    from gradref.grade.untrusted import worker_root

    if confine.uses_worker_root() is False:
        pytest.skip(f"no worker root here: {confine.worker_root_check()[0]}")
    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    if links == "a copied template":
        monkeypatch.setattr(worker_root, "links_work", lambda folder: False)
    classmate = tmp_path / "mary.py"
    classmate.write_text("x = 1\n")
    os.chmod(tmp_path, 0o755)
    host_paths = [str(classmate), confine.__file__, cache.folder(), sys.executable, "/tmp", "/etc/passwd"]
    submission = tmp_path / "key.py"
    submission.write_text(ANSWER_KEY.replace("{PATHS!r}", repr(host_paths)))
    box = sandbox_module.Sandbox(str(submission), timeout=30, isolation=confine.PROCESS)
    try:
        hello = box.start()
    finally:
        box.close()
    assert hello.get("ok"), hello
    names = set(hello["names"])
    assert "loaded" in names and not [n for n in names if n.startswith(("imports_", "sees_"))], names
    note = confine.isolation_note(confine.PROCESS, cache.folder(), str(tmp_path))
    assert note.startswith("process isolation in a worker root of its own") and "advisory" not in note, note


@pytest.mark.skipif(os.geteuid() != 0, reason="a worker root of its own is made only when gradref runs as root")
def test_the_check_at_start_names_what_a_worker_root_would_show():
    """The check a grader makes at start can see: a path that is inside a worker root is reported,
    the grader's own are not."""
    from gradref.grade.untrusted import worker_root

    problem, visible = worker_root.check(
        confine.process_uid(),
        confine.package_dirs(["numpy"]),
        ["/site/numpy/__init__.py", confine.__file__, os.path.dirname(confine.__file__)],
    )
    if problem is not None:
        pytest.skip(f"no worker root here: {problem}")
    assert visible == ("/site/numpy/__init__.py",)


def test_one_probe_answers_the_announcement_the_sandbox_and_the_report(tmp_path, monkeypatch):
    """In process mode as root, the worker root is probed once per process: the grader's paths, its
    cache and the class folder together; a class folder not yet asked about costs one more probe,
    of that folder alone."""
    from conformance import cache
    from gradref.grade.untrusted import worker_root

    if confine.uses_worker_root() is False:
        pytest.skip(f"no worker root here: {confine.worker_root_check()[0]}")
    asked, real_check = [], worker_root.check
    monkeypatch.setattr(
        worker_root, "check", lambda uid, packages, paths: asked.append(paths) or real_check(uid, packages, paths)
    )
    monkeypatch.setattr(confine, "_ROOT_PROBE", {"tried": False, "problem": None, "seen": {}})
    first, second = tmp_path / "class", tmp_path / "another class"
    first.mkdir(), second.mkdir()
    notes = [confine.isolation_note(confine.PROCESS, cache.folder(), str(first)) for _ in range(2)]
    assert confine.uses_worker_root() and confine.worker_root_check(cache.folder())[0] is None
    grader = confine.grader_paths()["gradref"]
    assert len(asked) == 1 and {grader, cache.folder(), str(first)} <= set(asked[0]), asked
    assert notes[0] == notes[1] and "advisory" not in notes[0], notes
    confine.isolation_note(confine.PROCESS, cache.folder(), str(second))
    assert asked[1:] == [[str(second)]], asked


def test_a_worker_roots_libraries_are_walked_once_and_only_what_is_placed_is_asked_about(tmp_path, monkeypatch):
    """Each sandbox of a batch places the same standard library and NumPy: the folders are walked
    once per process, and ldd is asked only about shared objects that are placed (not tests')."""
    from gradref.grade.untrusted import worker_root

    package = tmp_path / "package"
    (package / "tests").mkdir(parents=True)
    (package / "module.so").write_bytes(b"not an ELF file: ldd is asked about it")
    (package / "tests" / "left_out.so").write_bytes(b"not placed, so never asked about")
    (package / "code.py").write_text("x = 1\n")
    (package / "alias.py").symlink_to("code.py")
    asked = []
    monkeypatch.setattr(worker_root, "_ldd", lambda binaries: asked.extend(binaries) or [])
    worker_root.shared_libraries.cache_clear()
    worker_root._listing.cache_clear()
    try:
        worker_root.shared_libraries(((str(package), worker_root._tests_left_out),))
        walks = []
        real_walk = os.walk
        monkeypatch.setattr(worker_root.os, "walk", lambda *a, **k: walks.append(a[0]) or real_walk(*a, **k))
        for root in ("one", "two"):
            worker_root.place_tree(str(package), str(tmp_path / root), worker_root._tests_left_out)
    finally:
        worker_root.shared_libraries.cache_clear()
        worker_root._listing.cache_clear()
    assert str(package / "module.so") in asked and str(package / "tests" / "left_out.so") not in asked, asked
    assert walks == [], walks  # shared_libraries walked it already
    for root in ("one", "two"):
        placed = tmp_path / root
        assert sorted(os.listdir(placed)) == ["alias.py", "code.py", "module.so"]
        assert os.readlink(placed / "alias.py") == "code.py" and os.path.samefile(
            placed / "code.py", package / "code.py"
        )


# A child, a grandchild, and a child started by a second thread (listed in that thread's own file).
FAMILY = """
import subprocess, sys, threading, time
sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
middle = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                           "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"])
threaded, started = [], threading.Event()
def start_and_stay():  # a thread that ends hands its children to another: this one stays
    threaded.append(subprocess.Popen(sleeper)); started.set(); time.sleep(60)
threading.Thread(target=start_and_stay, daemon=True).start()
started.wait()
print(middle.pid, threaded[0].pid, flush=True)
time.sleep(60)
"""


def test_the_process_tree_from_the_children_files_is_the_tree_from_scanning_proc(monkeypatch):
    from gradref.grade.untrusted import sandbox as sandbox_module

    proc = subprocess.Popen([sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        middle, threaded = map(int, proc.stdout.readline().split())
        deadline = time.monotonic() + 20
        while len(process_tree(proc.pid, scan=True)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        scanned = process_tree(proc.pid, scan=True)
        assert len(scanned) == 4 and {proc.pid, middle, threaded} <= set(scanned), scanned
        assert sorted(process_tree(proc.pid)) == sorted(scanned)
        # A kernel without the children files: the scan answers instead.
        monkeypatch.setattr(sandbox_module, "_children_of", lambda pid: None)
        assert sorted(process_tree(proc.pid)) == sorted(scanned)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this test started, by its recorded pid
        proc.wait()
        proc.stdout.close()


def test_under_bwrap_numpy_is_imported_ahead_only_where_its_own_files_keep_others_out(tmp_path, monkeypatch):
    """bwrap makes the folders above the interpreter and numpy passable; a file of numpy's that only
    its owner may read still needs reading before the worker drops to the sandbox's uid."""
    package = tmp_path / "numpy"
    (package / "random").mkdir(parents=True)
    for name in ("__init__.py", "random/__init__.py"):
        (package / name).write_text("")
        os.chmod(package / name, 0o644)
    monkeypatch.setattr(confine, "package_dirs", lambda names: [str(package)])
    monkeypatch.setattr(confine, "interpreter_reachable", lambda: False)  # /root is 0700 on the host
    confine._readable_by_others.cache_clear()
    assert not confine.preload_needed(confine.BWRAP)
    assert confine.preload_needed(confine.PROCESS)  # without bwrap the host's folders are the way in
    os.chmod(package / "random" / "__init__.py", 0o600)
    confine._readable_by_others.cache_clear()
    assert confine.preload_needed(confine.BWRAP)
    os.chmod(package / "random" / "__init__.py", 0o644)
    os.chmod(package / "random", 0o700)
    confine._readable_by_others.cache_clear()
    assert confine.preload_needed(confine.BWRAP)
    confine._readable_by_others.cache_clear()


LAZY_NUMPY = """
import numpy as np


def relu_forward(x):
    parts = np.fft.fft(np.ones(4)).real.sum() + np.linalg.norm(np.ones(4)) + np.ma.masked_array([1.0]).sum()
    parts += np.polynomial.Polynomial([1.0, 2.0])(1.0) + np.random.default_rng(0).random() * 0
    return np.maximum(0, x) * (parts / parts), x


def relu_backward(dout, cache):
    from numpy.lib.stride_tricks import sliding_window_view

    assert sliding_window_view(np.arange(4.0), 2).shape == (3, 2)
    return dout * (cache > 0)
"""


@needs_bwrap
def test_the_parts_of_numpy_imported_on_first_use_import_inside_bwrap(tmp_path):
    from gradref.grade import Options, grade_file

    (tmp_path / "lazy.py").write_text(LAZY_NUMPY)
    report = grade_file(str(tmp_path / "lazy.py"), Options(sandbox="bwrap", only=("relu_forward", "relu_backward")))
    assert report["isolation"] == "bwrap"
    assert {r["name"]: r["status"] for r in report["results"]} == {"relu_forward": "pass", "relu_backward": "pass"}
