"""`gradref similar`: pairs of a class's submissions (and of a submission and a public solution) ranked
by the wrong results and the code they share (gradref.similarity); a table, JSON, CSV and an HTML page."""

import hashlib
import json
import os
import tempfile

from rich.markup import escape
from rich.table import Table

from . import htmlreport, output, similarity
from .console import advancer, out, progress_bar
from .output import UsageError


def _options(assignment):
    """The grading options of the assignment spec `assignment` (the defaults without one)."""
    from .grade.course import assignments
    from .grade.judging.options import Options

    if not assignment:
        return Options()
    try:
        spec = assignments.load(assignment)
    except assignments.SpecError as error:
        raise UsageError(str(error)) from None
    return assignments.apply(spec, Options(assignment=spec))


def _reports(folder, paths, reports_dir, jobs, options, advance):
    """{submission name: report}: read from `reports_dir` (a batch's --out), or graded now into a
    folder that is removed once they are read."""
    if reports_dir is not None:
        return read_reports(paths, reports_dir)
    from .grade.front import batch

    with tempfile.TemporaryDirectory(prefix="gradref-similar-") as graded:
        batch.grade_folder(folder, options, jobs, graded, advance=advance)
        return read_reports(paths, graded)


def _public_grader(options, jobs, advance=None):
    """paths -> {path: report}: public files graded as the class is (those that cannot be, left out)."""
    from .grade.front import batch

    def grade(paths):
        found = {}
        for done, (path, report, _) in enumerate(batch.graded(paths, options, jobs), 1):
            if report:
                found[path] = report
            if advance:
                advance(done, len(paths), f"public: {os.path.basename(path)}")
        return found

    return grade


def grader_digest(assignment=""):
    """A digest of the grader's own code, of what reads its reports' wrong results, and of the
    assignment graded: a public file's wrong results, kept in the index, are taken again when any
    of them changes."""
    digest = hashlib.sha256(assignment.encode())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = [os.path.join(root, "gradref", name) for name in ("similarity.py", "findings.py")]
    for package in (os.path.join("gradref", "grade"), "conformance", "reference"):
        for folder, _, names in sorted(os.walk(os.path.join(root, package))):
            files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
    for path in files:
        with open(path, "rb") as handle:
            digest.update(os.path.basename(path).encode() + handle.read())
    return digest.hexdigest()[:16]


def read_reports(paths, reports_dir):
    """{submission name: report} of the submissions at `paths`, as a batch wrote them into `reports_dir`
    ({} for one it did not)."""
    from .grade.front.reports import report_name

    found = {}
    for path in paths:
        try:
            with open(os.path.join(reports_dir, report_name(path)), encoding="utf-8") as handle:
                found[os.path.basename(path)] = json.load(handle)
        except (OSError, ValueError):
            found[os.path.basename(path)] = {}  # not graded: its code still counts
    return found


def _public_files(paths):
    """Every .py file, notebook and zip under the --against paths (files or folders)."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
            continue
        if not os.path.isdir(path):
            raise UsageError(f"--against {path}: no such file or folder")
        for root, folders, files in os.walk(path):
            folders[:] = sorted(f for f in folders if not f.startswith("."))
            found += [os.path.join(root, f) for f in sorted(files) if f.endswith((".py", ".ipynb"))]
    return found


def find_pairs(
    folder,
    against=(),
    starter=None,
    reports_dir=None,
    jobs=1,
    assignment="",
    advance=None,
    grade_against=True,
    index=None,
):
    """The ranked pairs of the submissions in `folder` (see gradref.similarity); the public files of
    `against` graded too unless `grade_against` is false (then compared by code only), their index
    kept in the folder `index` (the oracle cache's by default)."""
    from .grade.front import batch
    from .grade.untrusted.refusal import CannotGrade

    try:
        paths = batch.submissions_in(folder)
    except CannotGrade as error:
        raise UsageError(str(error)) from None
    if starter is not None and not os.path.exists(starter):
        raise UsageError(f"--starter {starter}: no such file or folder")
    public = _public_files(against)  # a missing one is said before anything is graded
    options = _options(assignment)
    reports = _reports(folder, paths, reports_dir, jobs, options, advance)
    documents = [similarity.read_document(p, os.path.basename(p)) for p in paths]
    grade = _public_grader(options, jobs, advance) if grade_against else None
    documents += similarity.read_public(public, index, grade, grader_digest(assignment))
    given = similarity.read_document(starter, "starter") if starter is not None else similarity.builtin_starter()
    similarity.subtract_starter(documents, given)
    return similarity.score_pairs(documents, reports), {d.name: d for d in documents}


def similar_table(pairs, top):
    table = Table(
        title="gradref similar: pairs ranked by shared wrong results and shared code (evidence, not a verdict)",
        caption="score: bits of evidence, read over all the ops both wrote or over the few that carry it, "
        "whichever says more",
    )
    for column in ("rank", "a", "b", "score", "behaviour", "code", "what they share"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("rank", "score", "behaviour", "code") else "left"
        )
    for rank, p in enumerate(pairs[:top], 1):
        first = p["functions"][0] if p["functions"] else {}
        table.add_row(
            str(rank),
            escape(p["a"]),
            escape(p["b"]),
            f"{p['score']:.1f}",
            f"{p['behaviour']:.1f}",
            f"{p['code']:.1f}",
            escape(f"{first.get('name', '')}: {first.get('shared_result') or 'matching code'}"),
        )
    return table


def cmd_similar(args):
    for path in (args.json, args.csv, args.html):
        output.check_writable(path)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.reports is not None and not os.path.isdir(args.reports):
        raise UsageError(f"--reports {args.reports}: no such folder")
    with progress_bar() as bar:
        task = bar.add_task("grading", total=None)
        pairs, documents = find_pairs(
            args.folder,
            args.against or (),
            args.starter,
            args.reports,
            args.jobs,
            args.assignment,
            advancer(bar, task),
            not args.against_code_only,
        )
    pairs = [p for p in pairs if p["score"] > 0]
    if args.json != "-":
        out.print(similar_table(pairs, args.top))
    if args.json:
        output.write_json(args.json, {"pairs": pairs})
    if args.csv:
        output.write_atomic(args.csv, similarity.write_csv(pairs))
    if args.html:
        from . import report as report_command

        key = report_command.pseudonym_key(args.html, args.anonymise)
        output.write_atomic(args.html, htmlreport.similar_page(pairs[: args.top], documents, key))
    return 0


def register(sub):
    """Add `similar` to the subcommands."""
    similar = sub.add_parser(
        "similar",
        help="rank pairs of submissions by the wrong results and the code they share",
        description="Grade a class's folder (or read its batch reports with --reports) and rank every pair "
        "of submissions, and every submission against public solutions (--against), by how rare the wrong "
        "results they share are and by the code they share function by function, the starter's code "
        "(--starter) subtracted. Evidence for a person to weigh, never a verdict. Exit 0, or 2 when it "
        "cannot run.",
    )
    similar.add_argument("folder", help="the class: a folder of submissions, as `gradref grade --batch` takes it")
    similar.add_argument(
        "--against", action="append", metavar="PATH", help="public solutions: files or folders (repeatable)"
    )
    similar.add_argument(
        "--against-code-only",
        action="store_true",
        help="compare the public files by code only (else each is graded once, kept in the index, and its "
        "wrong results count in how rare a shared one is)",
    )
    similar.add_argument(
        "--starter",
        metavar="PATH",
        help="the starter code the teacher gave (a file or folder); without it, the course's scaffolding of its layers, losses and update rules",
    )
    similar.add_argument(
        "--reports", metavar="DIR", help="the JSON reports of a `gradref grade --batch` run (else it grades)"
    )
    similar.add_argument("--assignment", metavar="NAME", default="", help="the assignment spec to grade with")
    similar.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N", help="grading processes")
    similar.add_argument(
        "--top", type=int, default=50, metavar="N", help="pairs shown in the table and the page (default 50)"
    )
    similar.add_argument("--json", metavar="PATH", help="write {'pairs': [...]} ranked by score ('-' for stdout)")
    similar.add_argument("--csv", metavar="PATH", help="write the pairs as CSV")
    similar.add_argument(
        "--html", metavar="PATH", help="write the pairs as an HTML page (no script, everything escaped)"
    )
    similar.add_argument("--anonymise", action="store_true", help="names replaced by stable pseudonyms on the page")
    similar.set_defaults(run=cmd_similar)
