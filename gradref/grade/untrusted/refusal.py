"""The one exception for a submission that cannot be graded at all (exit 2, one plain sentence)."""


class CannotGrade(Exception):
    """The submission cannot be graded at all (exit 2); the message is one plain sentence."""
