"""What the commands share: the terminal, progress bars, and the choices that 'all' stands for."""

import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .text import clean

DTYPES = ("float64", "float32")
DEVICES = ("cpu", "gpu")

# Outside a terminal (CI logs, pipes) rich would wrap tables at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 130)


def progress_bar():
    """A transient progress bar on stderr (stdout may hold `--json -`)."""
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def advancer(bar, task):
    """A progress callback `(done, total, label)` for the runners."""
    return lambda n, total, label: bar.update(task, completed=n, total=total, description=escape(clean(label, 60)))


def choices(value, all_values):
    """The values an option stands for: all of them for 'all'."""
    return list(all_values) if value == "all" else [value]
