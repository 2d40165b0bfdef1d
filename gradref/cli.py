"""The `gradref` command: one subcommand per use, each defined in the module of that use.

check, precision, ops, cache: `gradref.check`; bench: `gradref.bench`; grade, autograder, assignments:
`gradref.grade.front.command`; similar: `gradref.similar`; example: `gradref.examples`.
"""

import argparse
import signal
import threading

from rich.markup import escape

from conformance import cache
from reference import oracle

from . import bench, check, examples, output, report, similar
from .console import err
from .grade.front import command as grade_command
from .output import UsageError

COMMANDS = (check, bench, grade_command, report, similar, examples)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gradref", description="Hand-written backward passes checked against JAX autodiff."
    )
    parser.add_argument("--version", action="version", version=f"gradref {output.versions()['gradref']}")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compute every oracle answer afresh and leave the cache alone (see `gradref cache`)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job's time limit, `kill`): gradref stops as on Ctrl-C, workers and reports
    included, and exits 143."""


def _raise_terminated(*_):
    raise Terminated()


def _on_sigterm(handler):
    """Install a SIGTERM handler where Python allows it (the main thread); the one it replaces."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def main(argv=None):
    """Entry point of `gradref` and `python -m gradref`; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.no_cache:
        cache.disable()
    cache.use_compilation_cache()
    previous = _on_sigterm(_raise_terminated)
    try:
        return args.run(args)
    except (UsageError, ValueError, oracle.NoDevice, oracle.PrecisionError) as error:
        err.print(f"gradref {args.command}: error: {escape(str(error))}", soft_wrap=True)
        if getattr(args, "json", None) == "-":  # stdout promised JSON: it gets JSON
            output.write_json("-", {"error": str(error), "exit_code": 2})
        return 2
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        err.print("gradref: terminated" if terminated else "gradref: interrupted")
        return 143 if terminated else 130
    finally:
        _on_sigterm(previous)
