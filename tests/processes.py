"""For the tests that attack or stop gradref: a throwaway copy of the project to attack, gradref started
as a terminal would start it, and which processes outlive it."""

import os
import shutil
import threading
import time

from gradref.grade.untrusted.sandbox import process_tree

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


def grader_processes(root_pid):
    """(pid, resident MB) of gradref's own processes under root_pid: the grader's uid, not bwrap, not
    the sandboxes (which run under uids of their own)."""
    found = []
    for pid in process_tree(root_pid):
        try:
            with open(f"/proc/{pid}/status") as handle:
                status = dict(line.split(":", 1) for line in handle.read().splitlines() if ":" in line)
        except OSError:
            continue
        if int(status["Uid"].split()[0]) != os.geteuid() or status["Name"].strip() == "bwrap":
            continue
        found.append((pid, int(status.get("VmRSS", "0 kB").split()[0]) / 1024))
    return found


class MemorySampler(threading.Thread):
    """Samples, every 50 ms, the resident memory of gradref's processes under `root_pid`: the peak of the
    largest one and of all of them together."""

    def __init__(self, root_pid):
        super().__init__(daemon=True)
        self.root, self.largest, self.together, self.done = root_pid, 0.0, 0.0, False

    def run(self):
        while not self.done:
            sizes = [mb for _, mb in grader_processes(self.root)]
            self.largest = max([self.largest, *sizes])
            self.together = max(self.together, sum(sizes))
            time.sleep(0.05)

    def stop(self):
        self.done = True
        self.join()
        return self
