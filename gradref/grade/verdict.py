"""The verdict on one function: its status, checks, warnings, named mistakes and notes."""

from dataclasses import dataclass, field

PASS, FAIL, ERROR, TIMEOUT, MISSING = "pass", "fail", "error", "timeout", "missing"
RANK = {PASS: 3, FAIL: 2, ERROR: 1, TIMEOUT: 1, MISSING: 0}  # which of two conventions the code follows


@dataclass
class Entry:
    """The verdict on one student-facing function or class."""

    name: str
    status: str = PASS
    message: str = ""
    checks: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    sample: str = ""  # the sample being graded, for the names of its checks
    stress: bool = False  # the sample is an extreme one: failures there are warnings
    strict: bool = False
    stopped: bool = False  # it broke its process (timeout, crash, a limit) or is not written yet
    mistakes: list = field(default_factory=list)  # catalogue keys of the mistakes named
    notes: list = field(default_factory=list)  # how it was graded, where that is a choice

    def check(self, name, passed, detail="", measured=False):
        """Record a check; `detail` says what went wrong, kept on a pass only when it is a measurement."""
        label = f"{name} [{self.sample}]"
        if passed and not measured:
            detail = ""
        if not passed and self.stress and not self.strict:
            self.warn(f"{label}: {detail}")
            self.checks.append({"name": label, "passed": True, "detail": "warning: " + detail})
            return
        self.checks.append({"name": label, "passed": bool(passed), "detail": detail})
        if not passed and self.status == PASS:
            self.status, self.message = FAIL, f"{label}: {detail}"

    def warn(self, text):
        if text not in self.warnings:
            self.warnings.append(text)
        if self.strict and self.status == PASS:
            self.status, self.message = FAIL, f"{text} (--strict)"

    def broke(self, status, message):
        if self.status in (PASS, FAIL):
            self.status, self.message = status, message
        self.checks.append({"name": f"runs [{self.sample}]", "passed": False, "detail": message})

    def not_yet(self, reason):
        self.status, self.message, self.stopped = MISSING, f"not implemented yet ({reason})", True

    def as_dict(self):
        message = self.message
        if self.hints:
            message = "Likely mistake: " + " ".join(dict.fromkeys(self.hints)) + f" First failing check: {self.message}"
        if self.status == PASS and not self.checks:  # never a pass on nothing
            self.status, message = ERROR, "nothing could be checked"
        if self.status == PASS:
            message = f"passed {sum(c['passed'] for c in self.checks)} checks"
            if self.notes:
                message += f" ({'; '.join(self.notes)})"
            if self.warnings:
                message += "; warning: " + "; ".join(self.warnings[:3])
            if self.hints:
                message += "; likely cause: " + " ".join(dict.fromkeys(self.hints))
        elif self.notes:
            message += f" ({'; '.join(self.notes)})"
        return {
            "name": self.name,
            "status": self.status,
            "message": message,
            "checks": self.checks,
            "diagnosis": list(dict.fromkeys(self.hints)),
            "mistakes": list(dict.fromkeys(self.mistakes)),
            "warnings": self.warnings,
            "notes": self.notes,
        }


def unique(results):
    """One row per function name: the first graded verdict wins over a later 'missing'."""
    seen = {}
    for result in results:
        if result["name"] not in seen or seen[result["name"]]["status"] == MISSING:
            seen[result["name"]] = result
    return list(seen.values())


def summary(results):
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
