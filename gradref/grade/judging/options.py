"""What the teacher chose for a grading run: limits, isolation, conventions, the assignment."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """What the teacher chose; frozen, so one submission's grading can never change another's."""

    timeout: float = 10.0  # per call of the student's code
    submission_timeout: float = 600.0  # the whole submission, every call and restart included
    memory_mb: int = 2048
    allow_imports: tuple = ()
    convention: str = ""  # "" = detect
    require: tuple = ()
    only: tuple = ()  # grade just these functions or classes (one being worked on); the others are left out
    sandbox: str = "auto"  # "auto", "bwrap" or "process"
    feedback: str = "full"  # how much of a diagnosis the report shows: verdict, hint or full (feedback.py)
    feedback_hidden: tuple = ()  # functions whose messages stay at the verdict level (hidden until published)
    allow_numerical_gradient: bool = False  # a backward may differentiate numerically (an assignment setting)
    allow_fast_layers: bool = False  # a naive layer may call the shipped cs231n.fast_layers (an assignment setting)
    strict: bool = False  # warnings (writes into arguments, extreme values) fail
    dropout_p: str = ""  # what dropout's p means: "keep", "drop", or "" for the course's (CS231n: keep; EECS 498: drop)
    support: tuple = ()  # course-provided modules put beside the submission (im2col, common/)
    framework: str = ""  # "numpy" or "torch" (EECS 498: arguments and results are torch tensors); "" = detect
    device: str = "cpu"  # torch submissions: the device their tensors are on ("cpu" or "cuda")
    assignment: object = None  # an assignments.Spec: what is listed, required and worth how much
    unseen_secret: int = None  # the secret behind the unseen-values samples (None: this machine's); each
    # submission's own seed is this mixed with its code (unseen.submission_seed)
