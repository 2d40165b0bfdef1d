"""For the tests that attack or stop gradref: a throwaway copy of the project to attack, gradref started
as a terminal would start it, and which processes outlive it."""

import os
import shutil
import time

from gradref.grade.sandbox import process_tree

# As in a terminal: a shell that started the tests in the background may have ignored SIGINT.
AS_IN_A_TERMINAL = (
    "import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from gradref.cli import main\nsys.exit(main(sys.argv[1:]))"
)


def descendants(pid):
    """Every process under `pid` (from /proc), recorded while they run."""
    return [p for p in process_tree(pid) if p != pid]


def still_alive(pids, wait=3.0):
    """(pid, command line) of those of `pids` still running (not zombies) after up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        alive = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")[:200]
            except OSError:
                continue
            if state != "Z":
                alive.append((pid, command))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def processes_of(uids, wait=3.0):
    """pids of live processes whose real uid is one of `uids`, after up to `wait` seconds for the ones
    just killed to go."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/status") as handle:
                    lines = handle.read().splitlines()
            except OSError:
                continue
            uid = next((int(line.split()[1]) for line in lines if line.startswith("Uid:")), None)
            state = next((line.split()[1] for line in lines if line.startswith("State:")), "")
            if uid in uids and state != "Z":
                found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


PACKAGES = ("conformance", "manual_grads", "reference", "gradref", "bench", "examples")


def throwaway_project(folder):
    """A copy of the project's packages under `folder`, for hostile code to aim at (never this checkout)."""
    copy = folder / "project"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for package in PACKAGES:
        shutil.copytree(os.path.join(root, package), copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "site-packages").mkdir()
    return str(copy)
