"""How often a failing function gets a diagnosis a student can act on, on one-line mutants.

`python -m bench.diagnosis [--mutants N] [--seed S]` changes one line of the course-style files in
tests/course/ at a time, the ways a slip of the hand does (an axis swapped, a transpose dropped, a
sign or an operator changed, a sum made a mean, += made =, an exponent changed), grades every mutant
as one batch, and counts over the functions that fail: those told something specific (a named
mistake or a line, "Likely mistake: ..."; or an error with its line) and those given only the worst
element of a wrong quantity. The vague ones are listed with the line that was changed, to read.
Unlike bench.pointing it uses no plant written for a diagnosis: nobody chose these mistakes.
"""

import argparse
import json
import os
import random
import re
import sys
import tempfile

from bench.hostile import gemm_rate
from gradref.grade import Options
from gradref.grade.front.batch import grade_folder

COURSE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "course")
FILES = ("layers_student.py", "conv_student.py", "norms_student.py", "seq_student.py")
# (pattern, replacement): each mutant applies one of them once, to one line.
SLIPS = (
    (r"axis=0\b", "axis=1"),
    (r"axis=1\b", "axis=0"),
    (r"\.T\b", ""),
    (r" \+ ", " - "),
    (r" - ", " + "),
    (r"np\.sum\(", "np.mean("),
    (r" \* ", " / "),
    (r"\(1 - ", "(1 + "),
    (r"\*\* 2", "** 3"),
    (r"\+= ", "= "),
)
SKIPPED = ("def ", "#", "import", "from", '"""')


def mutants(count, seed):
    """{name: (source, (file, line number, old line, new line))}, `count` of them drawn with `seed`."""
    every = []
    for course_file in FILES:
        with open(os.path.join(COURSE, course_file)) as handle:
            lines = handle.read().split("\n")
        for number, line in enumerate(lines):
            if not line.strip() or line.strip().startswith(SKIPPED):
                continue
            every += [(course_file, number, pattern, new) for pattern, new in SLIPS if re.search(pattern, line)]
    random.Random(seed).shuffle(every)
    found = {}
    for index, (course_file, number, pattern, new) in enumerate(every[:count]):
        with open(os.path.join(COURSE, course_file)) as handle:
            lines = handle.read().split("\n")
        old = lines[number]
        lines[number] = re.sub(pattern, new, old, count=1)
        name = f"m{index:03d}_{course_file[: -len('_student.py')]}"
        found[name] = ("\n".join(lines), (course_file, number + 1, old.strip(), lines[number].strip()))
    return found


def specific(result):
    """Whether a failing function's message says more than which quantity is wrong where."""
    return result["status"] != "fail" or result["message"].startswith("Likely mistake") or bool(result.get("where"))


def measure(folder, count, seed):
    """(counts, vague rows) of grading `count` mutants in `folder`."""
    batch, out = os.path.join(folder, "batch"), os.path.join(folder, "out")
    os.makedirs(batch)
    drawn = mutants(count, seed)
    for name, (source, _) in drawn.items():
        with open(os.path.join(batch, f"{name}.py"), "w") as handle:
            handle.write(source)
    grade_folder(batch, Options(timeout=20.0, memory_mb=1024), jobs=2, out=out)
    counts, vague = {"mutants": len(drawn), "caught by nothing": 0, "failing functions": 0, "specific": 0}, []
    for name, (_, change) in drawn.items():
        with open(os.path.join(out, f"{name}.py.json")) as handle:
            failing = [r for r in json.load(handle)["results"] if r["status"] in ("fail", "error", "timeout")]
        counts["caught by nothing"] += not failing
        for result in failing:
            counts["failing functions"] += 1
            counts["specific"] += specific(result)
            if not specific(result):
                vague.append((name, result["name"], change, result["message"][:160]))
    return counts, vague


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=int, default=70, help="how many one-line mutants (default 70)")
    parser.add_argument("--seed", type=int, default=1, help="which mutants are drawn (default 1)")
    args = parser.parse_args(argv)
    print(f"float32 GEMM: {gemm_rate():.0f} GF/s")
    with tempfile.TemporaryDirectory() as folder:
        counts, vague = measure(folder, args.mutants, args.seed)
    for name, function, (course_file, line, old, new), message in vague:
        print(f"  vague  {name} {function}: {course_file}:{line} `{old}` -> `{new}`\n         {message}")
    share = counts["specific"] / max(counts["failing functions"], 1)
    print(
        f"{counts['mutants']} mutants ({counts['caught by nothing']} caught by nothing: the same function, or a "
        f"line no sample reaches); {counts['failing functions']} failing functions, {counts['specific']} told "
        f"something specific ({share:.0%}), {len(vague)} only where a quantity is wrong"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
