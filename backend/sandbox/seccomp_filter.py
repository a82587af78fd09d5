"""The sandbox's seccomp filter: which system calls user code may not make, compiled to BPF.

The filter allows by default and denies (EPERM) what a strategy has no use for and an attacker
would want: sockets, tracing other processes, mounts and namespaces, the kernel keyring, BPF,
perf, module loading, io_uring (it can open sockets behind the filter's back) and every way to
create a process (fork, vfork, clone without CLONE_THREAD; clone3 answers ENOSYS so that C
libraries fall back to clone, where the flags can be inspected). System calls of another
architecture (32-bit entry points) kill the process: that is libseccomp's default for a filter
built for the native architecture only.

The program is built with libseccomp's own Python binding (Debian package ``python3-seccomp``).
That binding exists for the system interpreter only, so when the worker runs on another Python
(a virtualenv of pyenv, the Docker image's /usr/local) this file is run as a script by the system
``python3``, which prints the BPF program on stdout. It therefore imports nothing from the project.
"""

from __future__ import annotations

import errno
import sys
from typing import Any

# Denied with EPERM whatever their arguments.
DENIED_SYSCALLS = (
    # network
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    # other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_open",
    "pidfd_getfd",
    "kcmp",
    # new processes (threads stay allowed through clone with CLONE_THREAD, see below)
    "fork",
    "vfork",
    "execveat",
    # mounts, namespaces, root changes
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    # kernel facilities a strategy never needs
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "name_to_handle_at",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "lookup_dcookie",
    "personality",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
)

CLONE_THREAD = 0x00010000


def build_filter() -> Any:
    """Return a ``seccomp.SyscallFilter`` with the rules above (needs the libseccomp binding)."""
    import seccomp  # type: ignore[import-not-found]  # noqa: PLC0415 - only importable on the interpreter that has the binding

    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    deny = seccomp.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(deny, name)
        except (RuntimeError, ValueError):  # unknown on this architecture / libseccomp version
            continue
    # clone(flags, ...): a new process has no CLONE_THREAD; a new thread has it.
    flt.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    # clone3 passes its flags in memory the filter cannot read: refuse it as "not implemented" so
    # glibc retries with clone, which the rule above inspects.
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return flt


def main() -> int:
    """Write the BPF program to stdout (run by the system python3 that has libseccomp's binding)."""
    sys.stdout.flush()
    build_filter().export_bpf(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
