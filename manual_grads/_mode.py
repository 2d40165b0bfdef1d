"""The loss alone: what finite differences ask a whole model for."""

import contextlib
import contextvars

_VALUE_ONLY = contextvars.ContextVar("value_only", default=False)


@contextlib.contextmanager
def value_only():
    """Within it, a whole model's loss function returns (loss, None): finite differences need the
    value alone, and a model's gradients cost it twice what its loss does. The loss is computed as
    it always is, so it is the same to the bit."""
    token = _VALUE_ONLY.set(True)
    try:
        yield
    finally:
        _VALUE_ONLY.reset(token)


def gradients_wanted():
    """False inside value_only()."""
    return not _VALUE_ONLY.get()
