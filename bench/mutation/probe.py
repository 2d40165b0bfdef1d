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
        changed = subprocess.run(["git", "diff", "--name-only", "--", "manual_grads"], capture_output=True,
                                 text=True, timeout=30).stdout.split()
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
    from conformance import runner
    for op in ordered_ops(mutated_modules()):
        for dtype in ("float64", "float32"):
            row = runner.run([op], [dtype], ["cpu"])[0]
            if row["status"] != "pass":
                print(f"killed by {op.name} {dtype}: {row['failures'][0][:300]}")
                return 1
    print("survived every op")
    return 0


if __name__ == "__main__":
    sys.exit(main())
