"""`gradref report`: the HTML class page from existing JSON reports (gradref's own, or those a
platform exported)."""

import json
import os
import secrets

from . import htmlreport, output
from .output import UsageError


def read_reports(paths):
    """(name, report) pairs from JSON report files and folders of them (summary files aside); a file
    that cannot be read becomes a 'cannot grade' entry that says why, never a stop."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".json"))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise UsageError(f"no such report file or folder: {path}")
    pairs = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            pairs.append((os.path.basename(path), {"error": f"the report could not be read ({error})"}))
            continue
        if not isinstance(report, dict):
            pairs.append((os.path.basename(path), {"error": "the report is not a JSON object"}))
            continue
        pairs.append((htmlreport.student_name(report, path.removesuffix(".json")), report))
    if not pairs:
        raise UsageError(f"no JSON reports in {', '.join(paths)}")
    return pairs


KEY_FILE = ".gradref-class-key"  # beside the class page: the secret behind its pseudonyms


def class_key(page):
    """The class's secret key for pseudonyms, kept beside its page `page` (made on first use, readable
    by its owner alone), so that a class keeps its pseudonyms from one run to the next."""
    path = os.path.join(os.path.dirname(os.path.abspath(page)), KEY_FILE)
    for _ in range(2):
        try:
            with open(path, "rb") as handle:
                key = handle.read()
            if len(key) >= 16:
                return key
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # another run made it just now: read theirs
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    raise UsageError(f"the class key {path} is not a key gradref made; remove it to make a new one")


def pseudonym_key(page, anonymise):
    """The key behind the pseudonyms of the pages beside `page`, or None when names are shown."""
    return class_key(page) if anonymise else None


def write_class_page(path, pairs, key=None, similar=None):
    output.write_atomic(path, htmlreport.class_page(pairs, key, similar=similar))


def cmd_report(args):
    pairs = read_reports(args.reports)
    output.check_writable(args.html)
    write_class_page(args.html, pairs, pseudonym_key(args.html, args.anonymise))
    graded = sum("results" in r for _, r in pairs)
    print(f"wrote {args.html}: {len(pairs)} reports, {graded} graded")
    return 0


def register(sub):
    report = sub.add_parser(
        "report",
        help="build the HTML class page from JSON reports",
        description="Build the HTML page of what a class got wrong from gradref's JSON reports (files, or "
        "folders of them, such as gradref grade --batch --out): score distribution, pass rate and named "
        "mistakes per function, per-sample pass rates, clusters of unexplained failures.",
    )
    report.add_argument("reports", nargs="+", metavar="REPORTS", help="JSON report files or folders of them")
    report.add_argument("--html", required=True, metavar="PATH", help="where to write the page")
    report.add_argument("--anonymise", action="store_true", help="replace student names by stable pseudonyms")
    report.set_defaults(run=cmd_report)
