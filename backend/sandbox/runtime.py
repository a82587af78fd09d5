"""Start the sandbox and talk to it: bubblewrap + seccomp + resource limits around one process.

One call = one fresh process: ``bwrap`` builds an empty root with only the Python runtime, numpy
and the runner mounted read-only, a small tmpfs at /tmp, new user/PID/network/IPC/UTS/cgroup
namespaces, no capabilities and an empty environment; the seccomp program (seccomp_filter.py) is
loaded just before the interpreter starts; the resource limits are set before ``bwrap`` is
executed (by util-linux's ``prlimit`` as a launcher, or a preexec function where it is missing)
and apply to everything below it. The worker feeds the request on stdin and reads the
answer on stdout, with a wall-clock deadline and an output cap; on either it kills the process
group, and the sandbox's PID namespace dies with its init (``--die-with-parent``).

To take the start-up off the critical path, each process keeps one *pre-started* sandbox per
set of limits: booted, numpy imported, waiting for its one request on stdin. It serves exactly
one run and is killed after it like any other; the next one is started as that run ends.

Nothing here ever runs user code outside that boundary: when bubblewrap, user namespaces or the
seccomp program are missing, SandboxUnavailable is raised instead.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.sandbox.errors import (
    SandboxUnavailable,
    StrategyError,
    StrategyOutputInvalid,
    StrategyTimeout,
)
from backend.sandbox.protocol import BOOT

GUEST_DIR = Path(__file__).resolve().parent / "guest"
INDICATORS = Path(__file__).resolve().parents[1] / "domain" / "backtest" / "indicators.py"
SECCOMP_SCRIPT = Path(__file__).resolve().parent / "seccomp_filter.py"
BWRAP_CANDIDATES = ("bwrap", "/usr/bin/bwrap")  # looked up on PATH, then where Debian installs it
SYSTEM_PYTHON = "/usr/bin/python3"  # the interpreter Debian's python3-seccomp is built for
LIB_DIR, SITE_DIR = "/qyq/lib", "/qyq/site"
SANDBOX_UID = 65534  # "nobody" inside the sandbox's user namespace
MAX_STDERR = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox run (defaults suit a backtest of up to ~1M bars)."""

    wall_seconds: float = 20.0  # deadline from start to answer; the whole process tree is killed
    cpu_seconds: int = 15  # RLIMIT_CPU (SIGXCPU at the limit, SIGKILL one second later)
    memory_bytes: int = 1 << 30  # RLIMIT_AS, address space (numpy itself maps ~100 MB)
    file_bytes: int = 1 << 20  # RLIMIT_FSIZE: largest file the code may write (in /tmp)
    tmpfs_bytes: int = 4 << 20  # size of the writable /tmp
    open_files: int = 32  # RLIMIT_NOFILE


@dataclass(frozen=True)
class Runtime:
    """What one sandbox start needs: the programs, the read-only mounts and the seccomp program."""

    bwrap: str
    prlimit: str | None  # util-linux's prlimit sets the limits and execs bwrap (else a preexec_fn)
    python: str
    mounts: tuple[str, ...]  # bwrap arguments that lay out the filesystem
    seccomp_bpf: bytes


def _python_mounts() -> list[str]:
    """Return the bwrap arguments that mount this interpreter, its stdlib and numpy read-only."""
    import numpy  # noqa: PLC0415 - only to locate the package on disk

    args: list[str] = []

    def ro(src: str | Path, dest: str | Path) -> None:
        args.extend(["--ro-bind", str(src), str(dest)])

    python = os.path.realpath(sys.executable)
    ro(python, python)
    # The base interpreter's stdlib (with lib-dynload inside it), never a virtualenv's lib/ tree.
    stdlib = os.path.dirname(os.path.realpath(os.__file__))
    ro(stdlib, stdlib)
    if os.path.isdir(os.path.join(stdlib, "site-packages")):  # hide the base installation's packages
        args.extend(["--tmpfs", os.path.join(stdlib, "site-packages")])
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if libdir and soname and os.path.exists(os.path.join(libdir, soname)):
        ro(os.path.realpath(os.path.join(libdir, soname)), os.path.join(libdir, soname))
    # Shared libraries: the multiarch directory (libc, libm, ld.so's target) and /usr/lib64.
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for top in ("/lib", "/lib64"):
        if os.path.islink(top):
            args.extend(["--symlink", os.readlink(top), top])
        elif os.path.isdir(top):
            ro(top, top)
    for lib in (f"/usr/lib/{multiarch}" if multiarch else "", "/usr/lib64"):
        if lib and os.path.isdir(lib) and not os.path.islink(lib):
            ro(lib, lib)
    numpy_dir = Path(numpy.__file__).resolve().parent
    ro(numpy_dir, f"{SITE_DIR}/numpy")
    if (numpy_dir.parent / "numpy.libs").is_dir():  # the wheel's bundled OpenBLAS
        ro(numpy_dir.parent / "numpy.libs", f"{SITE_DIR}/numpy.libs")
    ro(GUEST_DIR / "runner.py", f"{LIB_DIR}/runner.py")
    ro(GUEST_DIR / "qyq.py", f"{LIB_DIR}/qyq.py")
    ro(INDICATORS, f"{LIB_DIR}/_indicators.py")
    return args


def _build_seccomp() -> bytes:
    """Return the seccomp BPF program, built by libseccomp's Python binding.

    In-process when this interpreter has the binding, otherwise by the system python3 running
    seccomp_filter.py as a script.
    """
    try:
        from backend.sandbox import seccomp_filter  # noqa: PLC0415

        flt = seccomp_filter.build_filter()
    except ImportError:
        pass
    else:
        read_fd, write_fd = os.pipe()
        try:
            with os.fdopen(write_fd, "wb") as sink:
                flt.export_bpf(sink)
            return os.read(read_fd, 1 << 20)
        finally:
            os.close(read_fd)
    if not os.path.exists(SYSTEM_PYTHON):
        raise SandboxUnavailable("libseccomp's Python binding is missing (Debian package python3-seccomp)")
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [SYSTEM_PYTHON, "-I", str(SECCOMP_SCRIPT)], capture_output=True, timeout=30, check=False, env={}
    )
    if done.returncode != 0 or not done.stdout or len(done.stdout) % 8:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise SandboxUnavailable(
            f"cannot build the seccomp filter (Debian package python3-seccomp needed): {detail[0]}"
        )
    return done.stdout


@functools.cache
def _runtime_cached() -> Runtime:
    """Return the Runtime (discovered once per process; failures are not cached)."""
    bwrap = next(filter(None, (shutil.which(path) for path in BWRAP_CANDIDATES)), None)
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed (Debian package bubblewrap)")
    return Runtime(
        bwrap,
        shutil.which("prlimit"),
        os.path.realpath(sys.executable),
        tuple(_python_mounts()),
        _build_seccomp(),
    )


def load_runtime() -> Runtime:
    """Return the sandbox runtime of this machine or raise SandboxUnavailable."""
    return _runtime_cached()


def command(rt: Runtime, limits: Limits, seccomp_fd: int) -> list[str]:
    """Return the command line of one run: [prlimit with the limits --] bwrap ... runner.py."""
    return [
        *_prlimit_prefix(rt, limits),
        rt.bwrap,
        "--unshare-all",  # user, pid, net, ipc, uts, cgroup: no network at all
        "--unshare-user",
        "--disable-userns",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "OPENBLAS_NUM_THREADS",
        "1",
        "--hostname",
        "sandbox",
        *rt.mounts,
        "--dev",
        "/dev",
        "--size",
        str(limits.tmpfs_bytes),
        "--tmpfs",
        "/tmp",
        "--chdir",
        "/tmp",
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--seccomp",
        str(seccomp_fd),
        "--",
        rt.python,
        "-I",  # isolated: no environment variables, no user site, no script directory
        "-S",  # no site module: nothing but the stdlib and the mounted numpy
        "-B",
        f"{LIB_DIR}/runner.py",
    ]


def _prlimit_prefix(rt: Runtime, limits: Limits) -> list[str]:
    """Return ``prlimit --cpu=... --`` (the launcher that sets the limits before bwrap), or []."""
    if rt.prlimit is None:
        return []
    return [
        rt.prlimit,
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def _set_limits(limits: Limits) -> Callable[[], None]:
    """Return the preexec function that applies ``limits`` in the child before bwrap runs."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


@dataclass
class _Exchange:
    """What came back from one run."""

    out: bytes
    err: bytes
    returncode: int | None
    timed_out: bool
    overflow: bool


def _pump(proc: subprocess.Popen[bytes], request: bytes, deadline: float, out_cap: int) -> _Exchange:
    """Write ``request`` to stdin and read stdout/stderr until EOF, the deadline or the cap."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
    sel.register(proc.stdin, selectors.EVENT_WRITE)
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    out, err, sent = bytearray(), bytearray(), 0
    view = memoryview(request)
    timed_out = overflow = False
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(remaining):
            if key.fileobj is proc.stdin:
                try:
                    sent += os.write(proc.stdin.fileno(), view[sent : sent + 65536])
                except (BrokenPipeError, BlockingIOError) as exc:
                    if isinstance(exc, BlockingIOError):
                        continue
                    sent = len(view)
                if sent >= len(view):
                    sel.unregister(proc.stdin)
                    proc.stdin.close()
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buf = out if key.fileobj is proc.stdout else err
            buf += chunk
            if len(out) > out_cap:
                overflow = True
                break
            if len(err) > MAX_STDERR:
                del err[MAX_STDERR:]
        if overflow:
            break
    sel.close()
    returncode = None if (timed_out or overflow) else _wait(proc, deadline)
    return _Exchange(bytes(out), bytes(err), returncode, timed_out or returncode is None, overflow)


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> int | None:
    """Return the exit status, or None when the process outlives the deadline."""
    try:
        return proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill bwrap's process group (the sandbox's PID namespace dies with it) and reap it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            stream.close()


def _spawn(rt: Runtime, limits: Limits) -> subprocess.Popen[bytes]:
    """Start one sandbox under ``limits``; it boots (numpy imported) and then waits for its request."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, rt.seccomp_bpf)
    finally:
        os.close(write_fd)
    try:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command(rt, limits, read_fd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(read_fd,),
            env={},
            cwd="/",
            start_new_session=True,
            # Without prlimit, the limits are set between fork and exec (not thread-safe, hence second).
            preexec_fn=None if rt.prlimit else _set_limits(limits),  # noqa: PLW1509
        )
    except OSError as exc:
        raise SandboxUnavailable(f"cannot start bubblewrap: {exc}") from None
    finally:
        os.close(read_fd)


@dataclass
class _Ready:
    """A pre-started sandbox: booted or booting, no request seen yet."""

    rt: Runtime
    proc: subprocess.Popen[bytes]


class _Prestarted:
    """At most one pre-started sandbox per (runtime, limits) in this process.

    A sandbox serves exactly one request and is killed after it, as without the pool; the pool
    only moves the start (bwrap, the interpreter, importing numpy: ~60-100 ms) off the critical
    path by starting the *next* run's sandbox as soon as one run ends. Nothing of a run can reach
    a later one: the next sandbox was started before the request it will serve existed. Entries
    from before a fork belong to the parent and are dropped untouched in the child.
    """

    MAX_ENTRIES = 4  # distinct Limits in use (run, describe, check); each idle sandbox is ~30 MB

    def __init__(self) -> None:
        self.enabled = True
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._ready: dict[Limits, _Ready] = {}

    def _mine(self) -> dict[Limits, _Ready]:
        if self._pid != os.getpid():  # a forked child: the parent's sandboxes are not ours to use
            self._ready, self._pid = {}, os.getpid()
        return self._ready

    def take(self, rt: Runtime, limits: Limits) -> subprocess.Popen[bytes] | None:
        """Return a live pre-started sandbox for exactly ``rt`` and ``limits``, or None."""
        with self._lock:
            entry = self._mine().pop(limits, None)
        if entry is None:
            return None
        if entry.rt != rt or entry.proc.poll() is not None:  # another runtime, or it died while idle
            _kill(entry.proc)
            return None
        return entry.proc

    def refill(self, rt: Runtime, limits: Limits) -> None:
        """Start the sandbox the next run under ``limits`` will use (errors are left to that run).

        Past MAX_ENTRIES, the sandbox of the least recently refilled limits is killed.
        """
        if not self.enabled:
            return
        with self._lock:
            if limits in self._mine():
                return
        try:
            proc = _spawn(rt, limits)
        except SandboxUnavailable:
            return
        evicted: list[_Ready] = []
        with self._lock:
            ready = self._mine()
            if limits in ready:  # another thread filled the slot meanwhile
                evicted.append(_Ready(rt, proc))
            else:
                ready[limits] = _Ready(rt, proc)
                while len(ready) > self.MAX_ENTRIES:
                    evicted.append(ready.pop(next(iter(ready))))
        for entry in evicted:
            _kill(entry.proc)

    def pids(self) -> list[int]:
        """Return the launcher pids of the idle sandboxes (for tests that look for leftovers)."""
        with self._lock:
            return [entry.proc.pid for entry in self._mine().values()]

    def clear(self) -> None:
        """Kill every idle sandbox of this process."""
        with self._lock:
            entries, self._ready = list(self._mine().values()), {}
        for entry in entries:
            _kill(entry.proc)


_PRESTARTED = _Prestarted()
atexit.register(_PRESTARTED.clear)


def set_prestart(enabled: bool) -> None:
    """Turn pre-starting the next sandbox on (the default) or off (and kill the idle ones)."""
    _PRESTARTED.enabled = enabled
    if not enabled:
        _PRESTARTED.clear()


def prestarted_pids() -> list[int]:
    """Return the launcher pids of this process's idle, pre-started sandboxes."""
    return _PRESTARTED.pids()


def reset() -> None:
    """Forget the discovered runtime and kill the idle sandboxes (tests that change the machine)."""
    _runtime_cached.cache_clear()
    _PRESTARTED.clear()


def execute(request: bytes, limits: Limits, out_cap: int) -> bytes:
    """Run the runner on ``request`` in a fresh sandbox; return its response frame (boot removed).

    The sandbox is a pre-started one when this process has one ready for ``limits`` (it has
    served nothing before), else started now; either way it is killed after this one request,
    and the next run's sandbox is started at once. Raises SandboxUnavailable when the sandbox
    could not start, StrategyTimeout past the wall-clock or CPU limit, StrategyOutputInvalid
    past the output cap, StrategyError when the process died without answering.
    """
    rt = load_runtime()
    proc = _PRESTARTED.take(rt, limits) or _spawn(rt, limits)
    start = time.monotonic()
    try:
        result = _pump(proc, request, start + limits.wall_seconds, out_cap + len(BOOT))
    finally:
        _kill(proc)
        _PRESTARTED.refill(rt, limits)
    return _interpret(result, limits, out_cap)


def _interpret(result: _Exchange, limits: Limits, out_cap: int) -> bytes:
    """Return the response frame of a run, or raise the failure its exit tells."""
    booted = result.out.startswith(BOOT)
    if not booted:
        stderr = result.err.decode("utf-8", "replace").strip()
        why = stderr.splitlines()[-1] if stderr else f"exit status {result.returncode}"
        if result.timed_out:
            why = f"no start within {limits.wall_seconds:g} s"
        raise SandboxUnavailable(f"the sandbox could not start: {why}")
    if result.overflow:
        raise StrategyOutputInvalid(f"the strategy's output is larger than the {out_cap}-byte cap")
    if result.timed_out:
        raise StrategyTimeout(f"the strategy ran longer than {limits.wall_seconds:g} seconds")
    response = result.out[len(BOOT) :]
    if response:
        return response
    code = result.returncode
    if code in (128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        raise StrategyTimeout(f"the strategy used more than {limits.cpu_seconds} CPU seconds")
    if code is not None and code > 128:
        raise StrategyError(
            f"the strategy's process crashed ({signal.Signals(code - 128).name})"
            if code - 128 in signal.valid_signals()
            else f"the strategy's process crashed (status {code})"
        )
    raise StrategyError(f"the strategy's process exited (status {code}) without a result")
