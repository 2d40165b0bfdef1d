"""Process pools that Ctrl-C stops at once: workers leave SIGINT to the parent, die with it, and
are ended by the parent (not left to finish their tasks) when it is interrupted."""

import contextlib
import multiprocessing
import os
import signal

HANDLER_DEADLINE_S = 20
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def one_blas_thread_each():
    """Processes started inside this block use one BLAS thread each, unless the user set a number.

    A pool already fills every core with processes; OpenBLAS's own threads in each would wait for a
    core another process holds, and OpenBLAS waits by spinning (a warm `gradref check --jobs 2` on two
    cores: 70 busy CPU-seconds with them, 49 without, and a quarter less time). Spawned processes read
    the environment when they start, so the pool's processes must be started inside the block."""
    added = [name for name in BLAS_THREADS if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def quiet_worker(on_terminate=None):
    """Pool initializer: ignore Ctrl-C (the parent decides), run `on_terminate` once on SIGTERM, and
    get SIGTERM if the parent dies without a word (SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if on_terminate is not None:
        signal.signal(signal.SIGTERM, _once(on_terminate))
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died while this process started up
        os.kill(os.getpid(), signal.SIGTERM)


def stop_pool(pool):
    """End a pool's processes now (Ctrl-C): terminate, then kill what is still alive after 5 s."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _once(on_terminate):
    """A SIGTERM handler that runs `on_terminate` once and cannot hang the process.

    A killed parent sends PR_SET_PDEATHSIG once per thread that exits, so SIGTERM can come again
    while the first handler runs; a nested clean-up would wait forever on locks the outer one
    holds. Further SIGTERMs are blocked, and SIGALRM (whose default action ends the process) ends
    it should the clean-up itself hang."""

    def handler(*_):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(HANDLER_DEADLINE_S)
        on_terminate()

    return handler
