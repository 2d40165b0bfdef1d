"""Process pools that Ctrl-C stops at once: workers leave SIGINT to the parent, die with it, and
are ended by the parent (not left to finish their tasks) when it is interrupted."""
import signal


def quiet_worker(on_terminate=None):
    """Pool initializer: ignore Ctrl-C (the parent decides), run `on_terminate` on SIGTERM, and get
    SIGTERM if the parent dies without a word (SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if on_terminate is not None:
        signal.signal(signal.SIGTERM, on_terminate)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_pool(pool):
    """End a pool's processes now (Ctrl-C): terminate, then kill what is still alive after 5 s."""
    processes = list((getattr(pool, "_processes", None) or {}).values())   # shutdown() forgets them
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
