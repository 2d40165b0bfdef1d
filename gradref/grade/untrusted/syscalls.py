"""The worker's system-call filter: the calls a submission never needs and that lead around the sandbox.

New namespaces (a user namespace gives every capability inside it), memory that is no process's
resident memory (memfd files, SysV shared memory), tracing other processes, kernel keys, BPF,
io_uring, mounts, module loading and internet or raw sockets (AF_INET, AF_INET6, AF_PACKET: in
process mode there is no network namespace to stop them) are refused with EPERM; clone3, whose flags a filter cannot read,
says ENOSYS, so that the C library falls back to clone, whose namespace flags are checked. Calls of
another architecture's numbering kill the process (libseccomp's default for a foreign architecture).

Built with libseccomp's own Python bindings (Debian/Ubuntu: python3-seccomp, which `make` installs as
root) into a BPF program: bubblewrap loads it with `--seccomp FD`; in process mode the worker loads it
itself before the submission runs. The bindings are a compiled module of the system's Python, so where
gradref runs in another interpreter this file runs under the system's one to build the program.
Standalone on purpose (the standard library only).
"""

import errno
import functools
import os
import subprocess
import sys
import tempfile

REFUSED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "memfd_create",
    "shmget",
    "shmat",
    "shmctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semctl",
    "semtimedop",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "adjtimex",
)
# CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
NETWORK_FAMILIES = (2, 10, 17)  # AF_INET, AF_INET6, AF_PACKET (AF_UNIX stays: the C library uses it)
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")


def build(seccomp):
    """The filter as BPF bytes, from libseccomp's bindings (the module `seccomp`)."""
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in REFUSED:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError):  # a call this kernel's headers do not know
            continue
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for family in NETWORK_FAMILIES:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "socket", seccomp.Arg(0, seccomp.EQ, family))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


@functools.lru_cache(maxsize=1)
def program():
    """The BPF program, or None when libseccomp's Python bindings are nowhere on this machine."""
    try:
        import seccomp
    except ImportError:
        pass
    else:
        return build(seccomp)
    for python in SYSTEM_PYTHONS:
        if not os.path.exists(python):  # (gradref's own interpreter, from a venv, sees other packages)
            continue
        try:
            made = subprocess.run([python, "-I", os.path.abspath(__file__)], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if made.returncode == 0 and made.stdout and len(made.stdout) % 8 == 0:
            return made.stdout
    return None


def problem():
    """None when the filter can be built here; else the sentence that says why not."""
    if program() is None:
        return "libseccomp's Python bindings are missing (Debian/Ubuntu: apt-get install python3-seccomp)"
    return None


if __name__ == "__main__":  # run by the system's Python: write the program to stdout
    import seccomp

    sys.stdout.buffer.write(build(seccomp))
