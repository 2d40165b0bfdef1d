"""The verdict on one function: its status, checks, warnings, named mistakes and notes."""

import re
from dataclasses import dataclass, field

from ..course.assignments import KDIM_ONLY, SHAPE_ONLY, WARNINGS_ONLY
from ..explain.diagnose import ALL_ZEROS_ON_A_SAMPLE, CHANGES_A_RIGHT_ONE, NEVER_WRITTEN, NOT_REPRODUCED

PASS, FAIL, ERROR, TIMEOUT, MISSING = "pass", "fail", "error", "timeout", "missing"
# A catalogue mistake's sentence (diagnose.sentence): "dx: <says>. Look at: <formula>. At dx[1, 2]: got .., want ..".
CATALOGUE_SENTENCE = re.compile(
    r"^(?P<quantity>[^:]+): (?P<body>.+? Look at: .+?\.)(?P<numbers>(?: At \S+: got .*| It has shape .*)?)$", re.DOTALL
)
UNSEEN = "unseen values"  # in the name of the sample drawn from the secret seed
PUBLISHED_ONLY = "right on the published samples only"
CALLS_A_FAILING_FUNCTION = "calls_a_failing_function"  # the mistakes key of Entry.blame
NUMERICAL_GRADIENT = "numerical_gradient"  # the mistakes key of Entry.differentiates_numerically
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
    ran: list = field(default_factory=list)  # the samples it was called on
    stubbed: list = field(default_factory=list)  # ... of which it was a starter stub on these
    spared: list = field(default_factory=list)  # samples it could not be called on: its forward was a stub there
    unchecked: list = field(default_factory=list)  # samples where its forward failed and its cache is the student's
    stub_reason: str = ""
    formulas: list = field(default_factory=list)  # the formulas its hints show (stripped below the full level)
    factors: dict = field(default_factory=dict)  # quantity -> the constant factor of each sample it failed (None: none)
    factor_hints: dict = field(default_factory=dict)  # quantity -> the "constant factor" sentences said of it
    published_only: bool = False  # right on the published samples, not on values it could not know
    found: list = field(default_factory=list)  # (quantity, mistake key, sentence) of each diagnosis said
    heatmaps: list = field(default_factory=list)  # where a quantity is wrong, on the first sample it failed
    contradicted: set = field(default_factory=set)  # (quantity, key, how): a quantity shows that mistake is not it
    caused_by: list = field(default_factory=list)  # the student's own functions it calls that fail too
    where: dict = None  # {"line", "code", "file"}: the line of its own code the diagnosis points at

    def blame(self, failing):
        """It fails where its code calls the student's own `failing` functions, which fail on their
        own: that goes first, before any mistake of its own (which may vanish once they are fixed)."""
        self.caused_by = list(failing)
        names = ", ".join(failing)
        one = len(failing) == 1
        self.hints.insert(
            0,
            f"it calls your own {names}, which {'fails' if one else 'fail'} on {'its' if one else 'their'} own "
            f"(see {'its entry' if one else 'their entries'}): fix {'that' if one else 'those'} first; "
            f"{self.name} may pass once {'it does' if one else 'they do'}.",
        )
        self.mistakes.insert(0, CALLS_A_FAILING_FUNCTION)

    def differentiates_numerically(self, how="finite differences"):
        """Say what a backward that computes its gradient numerically should do instead, and name it."""
        self.hints.append(
            f"the backward differentiates numerically ({how}): derive the gradient with the chain rule instead."
        )
        if NUMERICAL_GRADIENT not in self.mistakes:
            self.mistakes.append(NUMERICAL_GRADIENT)

    def check(self, name, passed, detail="", measured=False, shape_only=False):
        """Record a check; `detail` says what went wrong, kept on a pass only when it is a measurement;
        `shape_only`: it failed on the shape alone, the values being right."""
        label = f"{name} [{self.sample}]"
        if passed and not measured:
            detail = ""
        if not passed and self.stress and not self.strict:
            self.warn(f"{label}: {detail}")
            self.checks.append({"name": label, "passed": True, "detail": "warning: " + detail})
            return
        self.checks.append({"name": label, "passed": bool(passed), "detail": detail})
        if not passed and shape_only:
            self.checks[-1]["shape_only"] = True
        if not passed and self.status == PASS:
            self.status, self.message = FAIL, f"{label}: {detail}"

    def record_heatmap(self, quantity, grid):
        """Keep |got - want| of a failing quantity (evidence.heatmap's grid) for its first failing sample."""
        if grid is not None and quantity not in {h["quantity"] for h in self.heatmaps}:
            self.heatmaps.append({"quantity": quantity, "sample": self.sample, **grid})

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
        """A starter stub on this sample (returns None, raises NotImplementedError)."""
        self.stubbed.append(self.sample)
        self.stub_reason = self.stub_reason or reason

    def settle(self, forward_name=""):
        """The rules that need every sample. A function is "not implemented" only when it is a stub on
        every sample it met; one that works on some samples and is a stub on others, or whose forward
        refused the samples it should have been checked on, fails; and one that is right on the
        published samples and wrong on values it could not know (answers looked up, not computed) fails
        with PUBLISHED_ONLY."""
        if self.ran and len(set(self.stubbed)) == len(set(self.ran)) and not self.spared:
            self.status, self.message = MISSING, f"not implemented yet ({self.stub_reason})"
            return
        if self.stubbed:
            self._fail(
                f"it is a starter stub ({self.stub_reason}) on {_samples(self.stubbed)} while it works on "
                "others: a function must work on every input"
            )
        if self.spared and self.ran:
            self._fail(
                f"it could not be checked on {_samples(self.spared)}: {forward_name or 'its forward'} refused "
                "them (a starter stub there) while it ran on the others"
            )
        if self.unchecked:
            self._say_unchecked(forward_name or "its forward")
        self._keep_factors_that_hold_everywhere()
        self._keep_names_that_hold_everywhere()
        self._say_all_zeros_once()
        self._say_each_mistake_once()
        failed = [c for c in self.checks if not c["passed"]]
        passed_public = any(c["passed"] and UNSEEN not in c["name"] for c in self.checks)
        if failed and passed_public and all(UNSEEN in c["name"] for c in failed):
            self.published_only = True

    def _say_unchecked(self, forward_name):
        """A backward is graded where its forward ran; where it never did, it is not a pass."""
        where = _samples(self.unchecked)
        if self.checks:
            self.notes.append(f"not checked on {where}, where {forward_name} failed (its cache is the student's own)")
        elif self.status == PASS:
            self.status, self.message = (
                ERROR,
                f"it could not be checked: {forward_name} failed on every sample, and the backward needs its cache",
            )

    def _keep_names_that_hold_everywhere(self):
        """A catalogue mistake is named for a quantity only when it reproduces that quantity on every
        sample where it failed (a loop that skips the last time step leaves dh0 at 0 only when T = 1), and
        not at all where a quantity of this function that it would change is right."""
        refuted = {k for _, k, how in self.contradicted if how == CHANGES_A_RIGHT_ONE}
        not_it = {(q, k) for q, k, how in self.contradicted if how == NOT_REPRODUCED}
        self._unsay({t for q, k, t in self.found if k in refuted or (q, k) in not_it})

    def _unsay(self, texts):
        """Take back diagnoses: their sentences, and the mistake keys no other sentence still names."""
        said = {k for _, k, _ in self.found}
        self.hints = [h for h in self.hints if h not in texts]
        self.found = [f for f in self.found if f[2] not in texts]
        kept = {k for _, k, _ in self.found}
        self.mistakes = [m for m in self.mistakes if m not in said or m in kept]

    def _keep_factors_that_hold_everywhere(self):
        """'A constant factor is off' only when one factor explains the quantity on every sample where
        it failed (a softmax summed over the whole batch is off by a factor that changes with it)."""
        for quantity, texts in self.factor_hints.items():
            factors = self.factors.get(quantity, [])
            known = [f for f in factors if f is not None]
            holds = len(known) == len(factors) and known and max(known) - min(known) <= 1e-6 * max(map(abs, known))
            # One factor everywhere: one sentence for it (the first sample's words); else none.
            self._unsay(set(texts[1:]) - {texts[0]} if holds else set(texts))

    def _say_all_zeros_once(self):
        """'dW is all zeros on sample small: ...' once per quantity, naming the samples (or every one),
        instead of once per sample."""
        samples = {}  # quantity -> the samples it is all zeros on
        for hint in self.hints:
            found = ALL_ZEROS_ON_A_SAMPLE.match(hint)
            if found:
                samples.setdefault(found[1], []).append(found[2])
        merged = []
        for hint in self.hints:
            found = ALL_ZEROS_ON_A_SAMPLE.match(hint)
            if not found:
                merged.append(hint)
            elif found[1] in samples:  # the first of its sentences stands for all of them
                named = list(dict.fromkeys(samples.pop(found[1])))
                where = "on every sample" if len(named) == len(set(self.ran)) > 1 else f"on {_samples(named)}"
                merged.append(f"{found[1]} is all zeros {where}: {NEVER_WRITTEN}")
        self.hints[:] = merged

    def _say_each_mistake_once(self):
        """'dx, dh0, dWx: <the mistake>. Look at: ...' once, where one catalogue mistake explains several
        quantities, instead of the same sentence for each (the first quantity's numbers kept)."""
        quantities = {}  # catalogue key -> the quantities its sentences name, in order
        for quantity, key, text in self.found:
            if text in self.hints and CATALOGUE_SENTENCE.match(text):
                quantities.setdefault(key, []).append(quantity)
        several = {k for k, named in quantities.items() if len(set(named)) > 1}
        checked = {}  # each quantity's first check: the order the function returns them in
        for number, check in enumerate(self.checks):
            checked.setdefault(quantity_of(check["name"]), number)
        merged = []
        for hint in self.hints:
            key = next((k for q, k, t in self.found if t == hint and k in several), None)
            if key is None:
                merged.append(hint)
            elif key in quantities:  # the first of its sentences stands for all of them
                found = CATALOGUE_SENTENCE.match(hint)
                ordered = sorted(dict.fromkeys(quantities.pop(key)), key=lambda q: checked.get(q, len(self.checks)))
                named = ", ".join(ordered)
                merged.append(f"{named}: {found['body']}{found['numbers']}")
        self.hints[:] = merged

    def _fail(self, message):
        label = f"works on every sample [{', '.join(dict.fromkeys(self.stubbed + self.spared))}]"
        self.checks.append({"name": label, "passed": False, "detail": message})
        if self.status in (PASS, FAIL, MISSING):
            self.status, self.message = FAIL, message

    def as_dict(self):
        message = self.message
        hints = [_ended(h) for h in dict.fromkeys(self.hints)]
        if self.hints:
            message = "Likely mistake: " + " ".join(hints) + f" First failing check: {self.message}"
        if self.status == PASS and not self.checks:  # never a pass on nothing
            self.status, message = ERROR, "nothing could be checked"
        if self.published_only:
            message = (
                f"{PUBLISHED_ONLY}: the published samples pass and values it could not know in advance fail, "
                f"as answers looked up rather than computed do. {message}"
            )
        if self.status == PASS:
            message = f"passed {sum(c['passed'] for c in self.checks)} checks"
            if self.notes:
                message += f" ({'; '.join(self.notes)})"
            if self.warnings:
                message += "; warning: " + "; ".join(self.warnings[:3])
            if self.hints:
                message += "; likely cause: " + " ".join(hints)
        elif self.notes:
            message += f" ({'; '.join(self.notes)})"
        where = {"where": dict(self.where)} if self.where and self.status != PASS else {}
        return {
            "name": self.name,
            "status": self.status,
            "message": message,
            **where,
            "checks": self.checks,
            "diagnosis": hints,
            "mistakes": list(dict.fromkeys(self.mistakes)),
            "warnings": self.warnings,
            "notes": self.notes,
            "published_only": self.published_only,
            "near_miss": self.near_miss(),
            "formulas": self.formulas,
            "heatmaps": self.heatmaps,
            "caused_by": self.caused_by,
        }

    def near_miss(self):
        """Which named near-miss a failing function is, if any (a teacher may give it a share of the
        points): SHAPE_ONLY, WARNINGS_ONLY or KDIM_ONLY; "" for anything else."""
        if self.status != FAIL or self.published_only:
            return ""
        failed = [c for c in self.checks if not c["passed"]]
        if not failed:
            return WARNINGS_ONLY if self.warnings else ""
        if all(c.get("shape_only") for c in failed):
            return SHAPE_ONLY
        samples = {sample_of(c["name"]) for c in failed}
        passed = {sample_of(c["name"]) for c in self.checks if c["passed"]}
        if all(s.startswith("kdim") for s in samples) and passed - samples:
            return KDIM_ONLY
        return ""


def _ended(sentence):
    """A sentence with its full stop: hints run one after another in a message."""
    return sentence if sentence.rstrip().endswith((".", "!", "?")) else sentence.rstrip() + "."


def quantity_of(check_name):
    """The quantity a check is on: 'dx' of 'dx [course]'."""
    return check_name.rsplit(" [", 1)[0]


def sample_of(check_name):
    """The sample a check ran on: 'course' of 'dx [course]' ("" for a name without one)."""
    return check_name.rsplit("[", 1)[-1].rstrip("]") if check_name.endswith("]") else ""


def defined_as_said(found):
    """What a report says of a function not defined under its name that the files define as `found`."""
    return f"the files define {found}: a function must have the assignment's name exactly"


def _samples(names):
    names = list(dict.fromkeys(names))
    return ("sample " if len(names) == 1 else "samples ") + ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")


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
