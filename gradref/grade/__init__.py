"""`gradref grade`: students' backward passes, run in a sandbox and judged against the oracle.

Five rooms, each importing only the rooms listed before it (tests/test_layout.py keeps this true):
untrusted (running the student's code), explain (naming mistakes), course (what is graded and how it
is scored), judging (one submission, one sample), front (the commands, batches, reports, platforms).
"""

from .judging.grader import grade_file
from .judging.options import Options
from .untrusted.refusal import CannotGrade

__all__ = ["CannotGrade", "Options", "grade_file"]
