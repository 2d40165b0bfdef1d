"""`gradref grade`, `gradref autograder` and `gradref assignments`: students' code on the terminal."""

import dataclasses
import difflib
import os

from rich.markup import escape
from rich.table import Table

from conformance import cache

from ... import htmlreport, junit, output
from ... import report as report_command
from ...console import advancer, err, out, progress_bar
from ...output import UsageError
from ...text import clean
from ..course import assignments
from ..course.targets import ALL_NAMES, TOP_NAMES
from ..explain import feedback
from ..judging import unseen
from ..judging.grader import grade_file
from ..judging.options import Options
from ..untrusted import confine, sandbox, syscalls
from ..untrusted.refusal import CannotGrade
from . import batch, platforms, reports

STATUS_STYLE = {
    "pass": "green",
    "fail": "red bold",
    "error": "red bold",
    "timeout": "red bold",
    "missing": "dim",
    "cannot grade": "red bold",
}


def grade_table(result):
    """One row per function; the functions that are not defined folded into one row."""
    title = (
        f"gradref grade: {clean(os.path.basename(result['submission']))} "
        f"({', '.join(result['assignments']) or result['convention']}; {result['isolation']})"
    )
    table = Table(title=escape(title), show_lines=True)
    table.add_column("function")
    table.add_column("verdict")
    table.add_column("what is wrong", overflow="fold")
    absent = [e for e in result["results"] if e["status"] == "missing" and e["message"] == "not defined"]
    for entry in result["results"]:
        if entry in absent:
            continue
        style = STATUS_STYLE.get(entry["status"], "")
        table.add_row(
            escape(clean(entry["name"])) + _points(entry),
            f"[{style}]{entry['status']}[/]",
            escape(clean(entry["message"])),
        )
    if absent:
        names = [e["name"] + (f" (defined as {e['defined_as']}?)" if e.get("defined_as") else "") for e in absent]
        table.add_row(f"{len(absent)} not defined", "[dim]missing[/]", escape(clean(", ".join(names))))
    return table


def stand_in_lines(result):
    """What the submission imported that is a stand-in here, one line each kind, and the notebooks
    beside its files that could not be read."""
    found = result.get("stand_ins", {})
    lines = []
    if found.get("refused"):
        lines.append(
            f"imports {', '.join(found['refused'])}: not allowed in a submission, so a stand-in that fails any "
            "function that uses it"
        )
    if found.get("not_installed"):
        lines.append(
            f"imports {', '.join(found['not_installed'])}: not installed here, so a stand-in that fails any "
            "function that uses it"
        )
    lines += [f"{why}: left out, the rest graded" for why in result.get("unreadable_notebooks", [])]
    return lines


def _points(entry):
    return f" ({entry['points']:g}/{entry['max_points']:g})" if entry.get("max_points") else ""


MAX_TIMEOUT_S, MAX_SUBMISSION_S, MEMORY_RANGE_MB = 3600, 24 * 3600, (64, 1 << 20)


def _grade_options(args):
    if not (0 < args.timeout <= MAX_TIMEOUT_S):  # also refuses nan
        raise UsageError(f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_S}")
    if not (MEMORY_RANGE_MB[0] <= args.memory_mb <= MEMORY_RANGE_MB[1]):
        raise UsageError(f"--memory-mb must be between {MEMORY_RANGE_MB[0]} and {MEMORY_RANGE_MB[1]}")
    if not (0 < args.submission_timeout <= MAX_SUBMISSION_S):
        raise UsageError(f"--submission-timeout must be a number of seconds above 0 and at most {MAX_SUBMISSION_S}")
    for flag, names, known in (
        ("--require", args.require, ALL_NAMES),
        ("--only", args.only, tuple(dict.fromkeys(ALL_NAMES + TOP_NAMES))),
    ):
        unknown = [n for n in names or () if n not in known]
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(ALL_NAMES)}"
            raise UsageError(f"{flag} {unknown[0]!r} is not a gradable name; {hint}")
    missing = [p for p in args.support or () if not os.path.exists(p)]
    if missing:
        raise UsageError(f"--support {missing[0]}: no such file or folder")
    options = Options(
        timeout=args.timeout,
        submission_timeout=args.submission_timeout,
        memory_mb=args.memory_mb,
        support=tuple(args.support or ()),
        allow_imports=tuple(args.allow_imports or ()),
        convention=args.convention or "",
        require=tuple(args.require or ()),
        only=tuple(args.only or ()),
        sandbox=args.sandbox,
        strict=args.strict,
        dropout_p=args.dropout_p or Options.dropout_p,
        feedback=args.feedback,
        device=args.device,
    )
    if args.device == "cuda" and not _cuda_here():
        raise UsageError("--device cuda needs a GPU and a CUDA build of torch; this machine lacks one of them")
    if args.unseen_seed is not None and args.unseen_seed <= 0:
        raise UsageError("--unseen-seed must be a positive integer (0 names the public samples)")
    # Resolved once here, so that every process of a batch uses the same secret.
    options = dataclasses.replace(options, unseen_secret=args.unseen_seed or unseen.machine_secret())
    if args.assignment:
        try:
            spec = assignments.load(args.assignment)
        except assignments.SpecError as error:
            raise UsageError(str(error)) from None
        options = assignments.apply(spec, dataclasses.replace(options, assignment=spec))
        options = _flags_over_spec(args, spec, options)
    return options


def _cuda_here():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _flags_over_spec(args, spec, options):
    """A flag given on the command line wins over the assignment's setting; a conflict is said once."""
    given = {"dropout_p": args.dropout_p, "convention": args.convention}
    spec_values = {"dropout_p": spec.settings.get("dropout_p"), "convention": spec.convention}
    for key, value in given.items():
        if value is None:
            continue
        if spec_values[key] not in (None, value):
            flag = "--" + key.replace("_", "-")
            err.print(
                f"[yellow]note:[/] {flag} {value} overrides {escape(spec.name)}'s {key} = {spec_values[key]}",
                soft_wrap=True,
            )
        options = dataclasses.replace(options, **{key: value})
    return options


def _announce_isolation(options, class_folder):
    """Choose the isolation once, before any work; say so plainly when it is process-only.
    `class_folder`: where the submissions were handed in (the report's note names it too)."""
    try:
        isolation = confine.choose(options.sandbox)
    except confine.SandboxUnavailable as error:
        raise UsageError(str(error)) from None
    if isolation == confine.PROCESS:
        reason = confine.bwrap_problem() if options.sandbox == "auto" else "--sandbox process was asked for"
        err.print(
            f"[yellow]warning:[/] {escape(confine.isolation_note(isolation, cache.folder(), class_folder))} ({escape(reason or '')})",
            soft_wrap=True,
        )
    if syscalls.problem():
        err.print(f"[yellow]warning:[/] no system-call filter: {escape(syscalls.problem())}", soft_wrap=True)
    return isolation


def cmd_grade(args):
    options = _grade_options(args)
    sandbox.remove_stale_sandboxes()
    if args.batch:
        _announce_isolation(options, os.path.abspath(args.submission))
        return grade_batch(args, options)
    for path in (args.json, args.gradescope, args.junit, args.annotate, args.html):
        output.check_writable(path)
    if args.annotate and not args.submission.endswith(".ipynb"):
        raise UsageError(f"--annotate writes a copy of a notebook, and {args.submission} is not an .ipynb file")
    _announce_isolation(options, os.path.dirname(os.path.abspath(args.submission)))
    try:
        with progress_bar() as bar:
            task = bar.add_task("grading", total=None)
            result = grade_file(args.submission, options, advance=advancer(bar, task), annotate=args.annotate)
    except CannotGrade as error:
        # The reports are still written, so that a platform shows the student why.
        if args.json and args.json != "-":
            output.write_json(
                args.json,
                {
                    "submission": os.path.abspath(args.submission),
                    "passed": False,
                    "status": "cannot grade",
                    "error": str(error),
                },
            )
        if args.gradescope:
            output.write_json(args.gradescope, reports.gradescope_error(str(error)))
        raise UsageError(str(error)) from None
    if args.json != "-":
        out.print(grade_table(result))
        for line in stand_in_lines(result):
            out.print(line, soft_wrap=True, markup=False)
        counts = ", ".join(f"{n} {status}" for status, n in result["summary"].items())
        out.print(
            f"{'PASS' if result['passed'] else 'FAIL'}: {counts}; score {result['score']:g} of {result['max_score']:g}"
        )
    if args.json:
        output.write_json(args.json, {**result, "versions": output.versions()})
    if args.junit:
        output.write_atomic(args.junit, junit.from_grade(result))
    if args.gradescope:
        output.write_json(args.gradescope, reports.gradescope(result))
    if args.html:
        name = htmlreport.student_name(result)
        key = report_command.pseudonym_key(args.html, args.anonymise)
        output.write_atomic(args.html, htmlreport.student_page(name, result, key))
    return 0 if result["passed"] else 1


def grade_batch(args, options):
    try:
        batch.submissions_in(args.submission)
    except CannotGrade as error:
        raise UsageError(str(error)) from None
    output.check_folder_writable(args.out)
    output.check_writable(args.json, made=args.out)  # --out is made first: a report may go into it
    output.check_writable(args.html, made=args.out)
    if args.html and _inside(args.html, _student_pages(args.out)):
        raise UsageError(f"--html {args.html} is inside {_student_pages(args.out)}, where the students' own pages go")
    output.check_folder_writable(args.gradescope)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    with progress_bar() as bar:
        task = bar.add_task("grading", total=None)
        rows = batch.grade_folder(
            args.submission, options, args.jobs, args.out, args.gradescope, advance=advancer(bar, task)
        )
    similar = None
    if args.similar:
        from ... import similar as similar_command

        similar, _ = similar_command.find_pairs(args.submission, reports_dir=args.out)
        similar = [p for p in similar if p["score"] > 0]
        output.write_json(os.path.join(args.out, "similar.json"), {"pairs": similar})
    if args.html:
        _write_html_pages(args, batch.submissions_in(args.submission), similar)
    table = Table(title=f"gradref grade: {len(rows)} submissions in {args.submission}")
    for column in reports.SUMMARY_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        table.add_row(
            *[f"[{style}]{row[c]}[/]" if c == "status" else escape(clean(str(row[c]))) for c in reports.SUMMARY_COLUMNS]
        )
    screen = err if args.json == "-" else out  # `--json -`: stdout holds the JSON alone
    screen.print(table)
    screen.print(f"reports in {args.out}/ (one JSON per submission, summary.csv, gradebook.csv)")
    if args.json:
        output.write_json(args.json, {"submissions": rows, "passed": all(r["status"] == "pass" for r in rows)})
    return 0 if all(row["status"] == "pass" for row in rows) else 1


def _student_pages(out):
    """The folder of the students' own pages: theirs alone, so that no student's name (a folder
    called `class`, say) can land on the teacher's class page."""
    return os.path.join(out, "students")


def _inside(path, folder):
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)


def _write_html_pages(args, paths, similar=None):
    """The class page at --html, and a page per student in --out/students/, named as its JSON report."""
    json_of = {path: os.path.join(args.out, reports.report_name(path)) for path in paths}
    written = [path for path in paths if os.path.isfile(json_of[path])]
    pairs = report_command.read_reports([json_of[path] for path in written])
    key = report_command.pseudonym_key(args.html, args.anonymise)  # one key for the class page and every student's
    report_command.write_class_page(args.html, pairs, key, similar)
    os.makedirs(_student_pages(args.out), exist_ok=True)
    for path, (name, result) in zip(written, pairs):
        page = os.path.join(_student_pages(args.out), reports.report_name(path).removesuffix(".json") + ".html")
        output.write_atomic(page, htmlreport.student_page(name, result, key))


def cmd_autograder(args):
    if not (0 < args.timeout <= MAX_TIMEOUT_S) or not (MEMORY_RANGE_MB[0] <= args.memory_mb <= MEMORY_RANGE_MB[1]):
        raise UsageError(f"--timeout must be in (0, {MAX_TIMEOUT_S}] and --memory-mb in {list(MEMORY_RANGE_MB)}")
    if args.action in ("run-gradescope", "run-prairielearn"):
        options = Options(timeout=args.timeout, memory_mb=args.memory_mb)
        run = platforms.run_gradescope if args.action == "run-gradescope" else platforms.run_prairielearn
        return run(args.root or ("/autograder" if args.action == "run-gradescope" else "/grade"), options)
    if args.action == "warm":
        if not args.assignment:
            raise UsageError("gradref autograder warm needs --assignment")
        try:
            spec = assignments.load(args.assignment)
        except assignments.SpecError as error:
            raise UsageError(str(error)) from None
        with progress_bar() as bar:
            bar.add_task(f"warming {spec.name}", total=None)
            count = platforms.warm(spec)
        out.print(f"computed {count} oracle answers and their compiled programs for {spec.name} into {cache.folder()}")
        return 0
    if not args.assignment or not args.out:
        raise UsageError(f"gradref autograder {args.action} needs --assignment and --out")
    missing = [p for p in (args.support or []) + ([args.wheel] if args.wheel else []) if not os.path.exists(p)]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder")
    try:
        spec = assignments.load(args.assignment)
        if args.action == "gradescope":
            output.check_writable(args.out)
            path = platforms.gradescope_bundle(
                spec, args.out, args.wheel, args.support or (), args.timeout, args.memory_mb
            )
        else:
            parent = os.path.dirname(os.path.abspath(args.out))
            if not os.path.exists(parent) and os.path.isdir(os.path.dirname(parent) or "/"):
                os.makedirs(parent, exist_ok=True)  # questions/ for questions/a2/, as mkdir -p would
            output.check_folder_writable(args.out)
            path = platforms.prairielearn_bundle(
                spec, args.out, args.wheel, args.support or (), args.timeout, args.memory_mb
            )
    except (assignments.SpecError, platforms.BundleError) as error:
        raise UsageError(str(error)) from None
    out.print(
        f"wrote {path} for {spec.name} ({spec.title}); upload it to "
        f"{'Gradescope as the autograder' if args.action == 'gradescope' else 'the question folder'}"
    )
    return 0


def cmd_assignments(args):
    specs = [assignments.load(name) for name in assignments.builtin_names()]
    if args.json:
        output.write_json(
            args.json,
            [
                {
                    "name": s.name,
                    "title": s.title,
                    "convention": s.convention,
                    "functions": [dataclasses.asdict(i) for i in s.items],
                    "settings": s.settings,
                }
                for s in specs
            ],
        )
    if args.json != "-":
        table = Table(title="gradref assignments: built-in specs (gradref grade --assignment NAME)")
        for column in ("name", "convention", "functions", "points", "title"):
            table.add_column(column)
        for spec in specs:
            required = [i for i in spec.items if i.required]
            table.add_row(
                spec.name,
                spec.convention,
                f"{len(required)} required, {len(spec.items) - len(required)} optional",
                f"{sum(i.points for i in required):g}",
                spec.title,
            )
        out.print(table)
    return 0


def register(sub):
    """Add `grade`, `autograder` and `assignments` to the subcommands."""
    grade = sub.add_parser(
        "grade",
        help="grade a student's layers.py (or a folder of them) safely",
        description="Run a student's forward and backward passes in a separate, "
        "limited process, compare them with the JAX oracle, and say what "
        "is wrong in words a student can act on. Exit 0 when every graded "
        "function passes, 1 when any fails, 2 when the file cannot be graded.",
    )
    grade.add_argument(
        "submission",
        metavar="SUBMISSION",
        help="one student's submission: a .py file, or a folder (their package, e.g. "
        "cs231n/ with layers.py and layer_utils.py); with --batch, a folder of submissions",
    )
    grade.add_argument(
        "--batch",
        action="store_true",
        help="SUBMISSION is a folder of students: each .py file, notebook, zip and sub-folder in it is one "
        "student's submission",
    )
    grade.add_argument(
        "--html",
        metavar="PATH",
        help="write an HTML page: the student's verdicts and heat maps (with --batch: the class page, and "
        "one page per student in --out/students/)",
    )
    grade.add_argument(
        "--similar",
        action="store_true",
        help="with --batch: also rank pairs of submissions by the rare wrong results and the code they share "
        "(gradref similar), into --out/similar.json and the class page",
    )
    grade.add_argument(
        "--anonymise", action="store_true", help="in the HTML pages, replace student names by stable pseudonyms"
    )
    grade.add_argument(
        "--annotate",
        metavar="OUT.ipynb",
        help="for a notebook submission: write a copy with a feedback cell after each graded function's cell",
    )
    grade.add_argument(
        "--support",
        action="append",
        metavar="PATH",
        help="a course-provided module or folder (im2col.py, fast_layers.py, the book's "
        "common/) put beside the submission; repeatable",
    )
    grade.add_argument(
        "--dropout-p",
        choices=("keep", "drop"),
        help="what dropout's p means: the probability of keeping a unit (CS231n since 2017) or of "
        "dropping one (CS231n 2016, EECS 498); overrides the assignment's setting (default: the "
        "course's)",
    )
    grade.add_argument(
        "--assignment",
        metavar="NAME|FILE.toml",
        help="grade as this assignment: its functions, points, required names and settings (see `gradref assignments`)",
    )
    grade.add_argument("--junit", metavar="PATH", help="also write JUnit XML (one test per check)")
    grade.add_argument(
        "--strict",
        action="store_true",
        help="warnings fail: writing into arguments (dout, the cache, w), trouble only at extreme values",
    )
    grade.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout)")
    grade.add_argument(
        "--gradescope", metavar="PATH", help="write Gradescope's results.json (for a folder: a folder of <name>.json)"
    )
    grade.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="per call of the student's code (default 10)"
    )
    grade.add_argument(
        "--feedback",
        choices=feedback.LEVELS,
        default=feedback.FULL,
        help="how much of a diagnosis to show: verdict (pass or fail), hint (what is wrong, in which "
        "quantity) or full (with the formula to look at; default, for people learning on their own)",
    )
    grade.add_argument(
        "--submission-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="for one whole submission, every call and restart included; what is left when it runs out "
        "is reported as timed out (default 600: a full assignment takes seconds to a minute)",
    )
    grade.add_argument(
        "--memory-mb", type=int, default=2048, metavar="N", help="memory limit of the student's process (default 2048)"
    )
    grade.add_argument(
        "--allow-imports",
        nargs="+",
        metavar="NAME",
        help="let the submission import these (jax, torch, autograd, ... are refused)",
    )
    grade.add_argument(
        "--convention",
        choices=("cs231n", "layers", "eecs498"),
        help="CS231n functions, textbook layer classes or EECS 498's PyTorch assignments (default: detect; "
        "a submission that imports torch is EECS 498's)",
    )
    grade.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="torch submissions: the device their tensors are on (default cpu; cuda needs a GPU and a CUDA "
        "build of torch, and is the only way the sandbox reaches the GPU)",
    )
    grade.add_argument(
        "--require", action="append", metavar="NAME", help="fail when this function or class is missing (repeatable)"
    )
    grade.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="grade just this function or class, e.g. while working on it (repeatable); the others are left out",
    )
    grade.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="N", help="for a folder: grade N submissions at once (default 1)"
    )
    grade.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "process"),
        default="auto",
        help="isolation of the student's code: bwrap (bubblewrap namespaces), process "
        "(a plain process: as root, in a worker root of its own with Landlock on top where the kernel has "
        "it; else advisory only), "
        "auto (bwrap when it works here; default)",
    )
    grade.add_argument(
        "--out",
        default="gradref-reports",
        metavar="DIR",
        help="for a folder: where the reports and summary.csv go (default gradref-reports)",
    )
    grade.add_argument(
        "--unseen-seed",
        type=int,
        metavar="N",
        help="the secret behind the sample each function meets with values nobody could know "
        "in advance, mixed with the submission's code (default: this machine's secret; "
        "share N to reproduce a verdict elsewhere)",
    )
    grade.set_defaults(run=cmd_grade)

    auto = sub.add_parser(
        "autograder",
        help="write a Gradescope or PrairieLearn autograder for an assignment",
        description="gradescope: write autograder.zip (setup.sh, run_autograder, a gradref "
        "wheel, the spec). prairielearn: write an external-grading question's "
        "tests/ folder and Dockerfile. run-gradescope and run-prairielearn are "
        "what those scripts call inside the platform's container; warm computes, at image-build time, the "
        "oracle's answers and compiled programs every submission of --assignment needs.",
    )
    auto.add_argument("action", choices=("gradescope", "prairielearn", "run-gradescope", "run-prairielearn", "warm"))
    auto.add_argument("--assignment", metavar="NAME|FILE.toml", help="the assignment spec (gradref assignments)")
    auto.add_argument("--out", metavar="PATH", help="autograder.zip (gradescope) or a folder (prairielearn)")
    auto.add_argument("--wheel", metavar="PATH", help="a gradref wheel to bundle (default: build one)")
    auto.add_argument("--support", action="append", metavar="PATH", help="course modules to bundle (repeatable)")
    auto.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per call (default 10)")
    auto.add_argument("--memory-mb", type=int, default=2048, metavar="N", help="per submission (default 2048)")
    auto.add_argument("--root", metavar="DIR", help="run-*: the platform's root (default /autograder or /grade)")
    auto.set_defaults(run=cmd_autograder)

    listing = sub.add_parser(
        "assignments",
        help="list the built-in assignment specs",
        description="List the built-in assignment specs (functions, points, settings) "
        "that `gradref grade --assignment NAME` and `gradref autograder` use.",
    )
    listing.add_argument("--json", metavar="PATH", help="write the specs as JSON ('-' for stdout)")
    listing.set_defaults(run=cmd_assignments)
