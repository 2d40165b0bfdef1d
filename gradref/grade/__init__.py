"""`gradref grade`: students' backward passes, run in a sandbox and judged against the oracle."""

from .grader import CannotGrade, Options, grade_file

__all__ = ["CannotGrade", "Options", "grade_file"]
