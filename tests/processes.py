"""For the tests that stop gradref: start it as a terminal would, and see which processes outlive it."""

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
