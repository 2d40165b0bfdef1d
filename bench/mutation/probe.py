"""The test command of a mutation run: `gradref check` over every registry op, stopping at the
first failing op (exit 1) and exiting 0 when the mutant passes everything.

The ops whose hand-written functions live in the mutated module (found with `git diff`, as
cosmic-ray edits the file in place) run first, so a killed mutant costs seconds.
"""

import os
import subprocess
import sys


def mutated_modules():
    try:
        changed = subprocess.run(
            ["git", "diff", "--name-only", "--", "manual_grads"], capture_output=True, text=True, timeout=30
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return set()
    return {os.path.splitext(path)[0].replace("/", ".") for path in changed}


def ordered_ops(modules):
    from conformance import registry

    ops = registry.ops()

    def touches(op):
        fns = [op.forward, op.backward] + [registry.lookup(registry.manual_grads, n) for n in op.manual_names]
        return any(getattr(fn, "__module__", "") in modules for fn in fns)

    return sorted(ops, key=lambda op: not touches(op))


def main():
    from conformance import checks

    for op in ordered_ops(mutated_modules()):
        for dtype in ("float64", "float32"):
            for check, case in checks.cases([op], (dtype,)):
                result = checks.run_check(check, case)  # stop at the first failing check
                if not result.passed:
                    print(f"killed: {result.message[:300]}")
                    return 1
    print("survived every op")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip the interpreter's teardown of JAX: seconds per mutant
