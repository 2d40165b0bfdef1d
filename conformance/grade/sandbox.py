"""The grader's side of the sandbox: one worker process per submission, restarted after a crash.

Limits: a wall-clock timeout per call, and a memory limit enforced twice: RLIMIT_AS in the worker
and a watchdog here that reads the worker's resident memory and kills it past the limit (a process
running as root could raise its own rlimit).
"""
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
BLOCKED = ("jax", "jaxlib", "torch", "autograd", "tensorflow", "flax", "optax", "cupy",
           "gradref", "conformance", "manual_grads", "reference", "bench")
POLL_S = 0.02


@dataclass
class Outcome:
    """What came back from one call: a reply, or why none did."""
    status: str            # "ok", "error" (the code raised), "crash", "timeout", "memory"
    reply: dict = None
    message: str = ""
    stage: str = ""        # the student's function that was running when the process broke


def _rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _env():
    keep = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k in ("PATH", "LANG")}
    return {**keep, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


class Sandbox:
    """A worker for `submission`; `call()` restarts it whenever the previous call killed it."""

    def __init__(self, submission, timeout=10.0, memory_mb=2048, allow_imports=()):
        self.submission = os.path.abspath(submission)
        self.timeout, self.memory_mb = timeout, memory_mb
        # Allowing a name allows what it prefixes too: jax needs jaxlib.
        self.blocked = [name for name in BLOCKED if not any(name.startswith(a) for a in allow_imports)]
        self.workdir = tempfile.mkdtemp(prefix="gradref-sandbox-")
        self.proc, self.hello, self.counter = None, None, 0

    # ----- process management -----

    def start(self):
        """Start a fresh worker; returns its hello (the names the module defines, or the import error)."""
        self.stop()
        config = json.dumps({"memory_mb": self.memory_mb, "blocked": self.blocked})
        self.stderr = open(os.path.join(self.workdir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([sys.executable, "-I", WORKER, self.submission, config],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     cwd=self.workdir, env=_env(), start_new_session=True)
        self.buffer = b""
        outcome = self._wait(self.timeout + 20)   # importing numpy and the submission takes a moment
        self.hello = outcome.reply if outcome.status == "ok" else {"ok": False, "stage": "import",
                                                                    "error": outcome.message}
        return self.hello

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, 9)
                except OSError:
                    self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                stream.close()
            self.stderr.close()
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and bool(self.hello and self.hello.get("ok"))

    # ----- calls -----

    def put(self, array):
        """Write an input array for the next call; returns its argument spec."""
        self.counter += 1
        path = os.path.join(self.workdir, f"in{self.counter}.npy")
        np.save(path, np.asarray(array), allow_pickle=False)
        return {"file": path}

    def call(self, request, n_calls=1):
        """Send one request; wait up to n_calls x timeout for its reply."""
        if not self.alive():
            hello = self.start()
            if not hello.get("ok"):
                return Outcome("error", message=hello.get("error", "the submission could not be loaded"))
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died()
        outcome = self._wait(self.timeout * n_calls)
        if outcome.status == "ok" and not outcome.reply.get("ok"):
            return Outcome("error", outcome.reply, outcome.reply.get("error", "failed"),
                           outcome.reply.get("stage", ""))
        if outcome.status != "ok":
            outcome.stage = self._stage()
        return outcome

    def _stage(self):
        try:
            with open(os.path.join(self.workdir, "stage")) as handle:
                return handle.read(200).strip()
        except OSError:
            return ""

    def load(self, spec):
        """A result file as an exact np.ndarray (never a pickle, never a subclass)."""
        return np.load(spec["file"], allow_pickle=False)

    # ----- waiting -----

    def _wait(self, limit):
        deadline = time.monotonic() + limit
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                if time.monotonic() > deadline:
                    self.stop()
                    return Outcome("timeout", message=f"no answer within {limit:g} s (an endless loop?); "
                                                      "the process was stopped")
                if _rss_mb(self.proc.pid) > self.memory_mb:
                    self.stop()
                    return Outcome("memory", message=f"used more than {self.memory_mb} MB of memory; "
                                                     "the process was stopped")
                if selector.select(POLL_S):
                    chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                    if not chunk:
                        return self._died()
                    self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return Outcome("ok", json.loads(line))
        except json.JSONDecodeError:
            self.stop()
            return Outcome("crash", message="the submission's process wrote something that is not a reply")

    def _died(self):
        code = self.proc.wait() if self.proc else None
        self.stop()
        tail = self._stderr_tail()
        if code is not None and code < 0 and -code == 9:
            return Outcome("memory", message="the process was killed (out of memory?)")
        detail = f"; it printed: {tail}" if tail else ""
        return Outcome("crash", message=f"the submission's process exited with code {code} "
                                        f"(sys.exit or os._exit?){detail}")

    def _stderr_tail(self, lines=3):
        try:
            with open(os.path.join(self.workdir, "stderr.log"), "rb") as handle:
                text = handle.read().decode(errors="replace").strip().splitlines()
            return " | ".join(text[-lines:])[:400]
        except OSError:
            return ""
