"""A batch: every submission in a folder graded in a pool of processes, one report each, and the CSVs."""

import concurrent.futures
import hashlib
import multiprocessing
import os
import tempfile
from concurrent.futures.process import BrokenProcessPool

from conformance import pools

from ... import output
from ..judging.grader import grade_file
from ..judging.options import Options
from ..untrusted.refusal import CannotGrade
from ..untrusted.sandbox import close_all_sandboxes
from ..untrusted.staging import gradable_suffix
from .reports import gradebook_csv, gradescope, gradescope_error, report_name, required_points, summary_csv, summary_row


def mark_started(path, started):
    """Leave a mark in the folder `started`: a pool that dies then knows which submissions were running."""
    with open(_mark(path, started), "w"):
        pass


def _mark(path, started):
    return os.path.join(started, hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest())


def _grade_quietly(path, options, started):
    """One submission for the batch: a report, or the sentence that says why there is none."""
    mark_started(path, started)
    try:
        return grade_file(path, options), ""
    except CannotGrade as error:
        return None, str(error)
    except Exception as error:  # noqa: BLE001 - one broken submission never stops the batch
        return None, f"internal error while grading: {type(error).__name__}: {error}"


def submissions_in(folder):
    """The submissions of a batch: each .py file, notebook, zip upload and sub-folder (one student's
    package). A link is listed too, and refused when it is graded: links are never followed."""
    if not os.path.isdir(folder):
        raise CannotGrade(f"no such folder: {folder}")
    entries = sorted(os.path.join(folder, f) for f in os.listdir(folder) if not f.startswith((".", "__")))
    found = [p for p in entries if os.path.islink(p) or (gradable_suffix(p) and os.path.isfile(p)) or os.path.isdir(p)]
    if not found:
        raise CannotGrade(f"no .py, .ipynb or .zip files or student folders in {folder}")
    return found


def _quiet_worker():
    """Pool processes leave Ctrl-C to the parent and end their sandboxes when it ends them (the pool
    catches every exception its tasks raise, so the handler exits at once instead of raising)."""
    pools.quiet_worker(on_terminate=_end_now)


def _end_now(*_):
    close_all_sandboxes()
    os._exit(143)


def graded(files, options, jobs, grade=_grade_quietly):
    """(path, report or None, error) for every file, in the order they finish. A grading process that
    dies is replaced; the submissions that were running then are suspects, each tried once more on its
    own (so that a bystander that happened to run beside the killer twice is never charged), and only
    one that kills its process alone counts as cannot grade; those only waiting go on uncharged."""
    pending, suspects = list(files), []
    with tempfile.TemporaryDirectory(prefix="gradref-started-") as started:
        while pending or suspects:
            alone = bool(suspects)
            todo, workers = (suspects, 1) if alone else (pending, max(1, jobs))
            if alone:
                suspects = []
            else:
                pending = []
            for path, result, error in _one_pool(todo, options, workers, grade, started):
                if error is not _DIED:
                    yield path, result, error
                elif not os.path.exists(_mark(path, started)):  # it was only waiting
                    (suspects if alone else pending).append(path)
                elif alone:
                    yield path, None, "the grading process died twice while grading it"
                else:
                    suspects.append(path)
            for name in os.listdir(started):  # a fresh pool: nothing is running yet
                os.unlink(os.path.join(started, name))


_DIED = object()  # the pool's process died while this submission was queued or running


def _one_pool(files, options, workers, grade, started):
    """(path, report or None, error or _DIED) for each file, from one process pool."""
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet_worker
    )
    try:
        with pools.one_blas_thread_each():  # the workers start on the first submits
            futures = {pool.submit(grade, path, options, started): path for path in files}
        for future in concurrent.futures.as_completed(futures):
            try:
                result, error = future.result()
            except BrokenProcessPool:
                result, error = None, _DIED
            except Exception as crash:  # noqa: BLE001 - anything else is this submission's
                result, error = None, f"internal error while grading: {crash}"
            yield futures[future], result, error
        pool.shutdown(wait=True)
    except BaseException:
        pools.stop_pool(pool)
        raise


def grade_folder(folder, options=Options(), jobs=1, out="gradref-reports", gradescope_dir=None, advance=None):
    """Grade every .py file in `folder` in `jobs` processes; write one report each and summary.csv
    (also after Ctrl-C, for the submissions already graded)."""
    files = submissions_in(folder)
    os.makedirs(out, exist_ok=True)
    if gradescope_dir:
        os.makedirs(gradescope_dir, exist_ok=True)
    rows, reports_by_path = {}, {}
    try:
        for done, (path, result, error) in enumerate(graded(files, options, jobs), 1):
            reports_by_path[path] = result
            name = report_name(path)
            output.write_json(
                os.path.join(out, name),
                result or {"submission": os.path.abspath(path), "passed": False, "error": error},
            )
            if gradescope_dir:
                max_score = required_points(options.assignment) or 0.0
                output.write_json(
                    os.path.join(gradescope_dir, name),
                    gradescope(result) if result else gradescope_error(error, max_score),
                )
            rows[path] = summary_row(path, result, error, required_points(options.assignment))
            if advance:
                advance(done, len(files), os.path.basename(path))  # the progress bar cleans it
    finally:
        ordered = [rows[path] for path in files if path in rows]
        output.write_atomic(os.path.join(out, "summary.csv"), summary_csv(ordered))
        output.write_atomic(
            os.path.join(out, "gradebook.csv"),
            gradebook_csv({p: reports_by_path[p] for p in files if p in reports_by_path}, options.assignment),
        )
    return ordered
