"""Values a submission cannot know in advance.

The registry's samples are seeded and public: anyone can draw them, compute the right answers with
JAX, and hand in a "backward" that looks its inputs up in a table. So every graded function also
gets one sample drawn from a secret seed: this machine's secret (made once from os.urandom, kept
private, 0600, beside gradref's cache) mixed with the submission's own code. The same file meets the
same values on this machine (a regrade gives the same verdict); values a student got printed in one
report (an error message, a crash's output) say nothing of the values the next, edited file meets.
`grade --unseen-seed N` (or GRADREF_UNSEEN_SEED) names the secret instead: course staff who share it
can reproduce a verdict on another machine.
"""

import hashlib
import os
import tempfile

from conformance import cache

from ..untrusted.sandbox import python_files

FILE = "unseen-seed"


def machine_secret():
    """This machine's secret (made on first use); a fresh one per process where it cannot be kept."""
    named = os.environ.get("GRADREF_UNSEEN_SEED", "")
    if named:
        if not named.strip().isdigit() or int(named) == 0:
            raise ValueError(f"GRADREF_UNSEEN_SEED must be a positive integer, not {named!r}")
        return int(named)
    folder = cache.folder()
    path = os.path.join(folder, FILE)
    if cache.trusted(folder):
        kept = _read(path)
        if kept is None:
            _write(path, _fresh())
            kept = _read(path)  # whoever linked first (concurrent graders) wins for everyone
        if kept is not None:
            return kept
    return _fresh()


def submission_seed(secret, code_folder):
    """The seed of one submission's unseen samples: the secret mixed with every .py file the
    submission's sandbox holds (names and bytes)."""
    digest = hashlib.sha256(f"gradref unseen {secret}".encode())
    for name in python_files(code_folder):
        digest.update(name.encode() + b"\0")
        with open(os.path.join(code_folder, name), "rb") as handle:
            digest.update(handle.read())
        digest.update(b"\0")
    return int.from_bytes(digest.digest()[:7], "big") | 1


def fingerprint(seed):
    """What a report says of the seed: enough to tell two seeds apart, nothing to draw from."""
    return "sha256:" + hashlib.sha256(f"gradref unseen {seed}".encode()).hexdigest()[:12]


def _fresh():
    return int.from_bytes(os.urandom(7), "big") | 1  # never 0, which names the public samples


def _read(path):
    try:
        with open(path) as handle:
            seed = int(handle.read().strip())
        return seed if seed > 0 else None
    except (OSError, ValueError):
        return None


def _write(path, seed):
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-seed-")  # 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{seed}\n")
        try:
            os.link(scratch, path)  # atomic, and never over a seed already there
        finally:
            os.unlink(scratch)
    except OSError:
        pass
