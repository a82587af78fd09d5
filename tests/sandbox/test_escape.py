"""Hostile strategies: each is contained, reports a clear reason and leaves the worker healthy.

A strategy can only talk back through its result or its error message, so the snippets that
probe for secrets raise what they found and the tests check the message holds nothing of the
host. After every test the worker has no sandbox process left (``leftover_processes``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from backend import sandbox
from backend.domain.backtest import strategies
from backend.sandbox import runtime
from backend.sandbox.templates import SMA_CROSS
from tests.sandbox.conftest import VALID_TAIL, leftover_processes

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., object]


@pytest.fixture(autouse=True)
def _worker_stays_healthy() -> Iterator[None]:
    """Every test ends with no sandbox process alive and a working sandbox."""
    yield
    deadline = time.monotonic() + 5
    while leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftover_processes() == []


def fail(run: Run, code: str, **limits: float) -> sandbox.SandboxError:
    """Run ``code`` and return the sandbox failure it must end with."""
    with pytest.raises(sandbox.SandboxError) as info:
        run(code, **limits)
    assert not isinstance(info.value, sandbox.SandboxUnavailable), info.value.message
    return info.value


def probe(run: Run, body: str) -> str:
    """Run ``body`` (which sets ``found``) and return ``found`` as the strategy reported it."""
    code = (
        f"def signals(bars, params):\n    import os, sys\n{_indent(body)}\n"
        "    raise RuntimeError('FOUND:' + repr(found))\n"
    )
    err = fail(run, code)
    assert err.reason == "strategy_error", err.message
    assert "FOUND:" in err.message, err.message
    return err.message.split("FOUND:", 1)[1]


def _indent(body: str) -> str:
    return "\n".join("    " + line for line in body.strip("\n").splitlines())


# --- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/etc/shadow",
        "/proc/1/environ",
        "/proc/self/environ",
        "/proc/self/mem",
        "/sys/kernel",
        str(REPO / "backend" / "config.py"),
        str(REPO / ".env"),
        str(REPO / "storage"),
        "/var/run/postgresql",
        "/root/.bash_history",
        "/home",
    ],
)
def test_host_paths_do_not_exist_inside(run: Run, path: str) -> None:
    found = probe(run, f"found = os.path.exists({path!r})")
    assert found == "False"


def test_reading_etc_passwd_fails(run: Run) -> None:
    err = fail(run, "def signals(bars, params):\n    return open('/etc/passwd').read()\n")
    assert err.reason == "strategy_error"
    assert err.message.startswith("FileNotFoundError")
    assert err.details["traceback"] == ["line 2, in signals: return open('/etc/passwd').read()"]


def test_a_secret_file_of_the_worker_is_invisible(run: Run, tmp_path: Path) -> None:
    secret = tmp_path / "storage" / "other-users-strategy.py"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET")
    found = probe(run, f"found = [os.path.exists({str(secret)!r}), os.listdir('/tmp')]")
    assert found == "[False, []]"


def test_the_whole_visible_filesystem_is_the_runtime(run: Run) -> None:
    found = probe(run, "found = sorted(os.listdir('/'))")
    assert set(eval(found)) <= {"dev", "lib", "lib64", "qyq", "root", "tmp", "usr"}  # noqa: S307 - a repr of strings


def test_the_runtime_is_read_only(run: Run) -> None:
    body = """
found = []
for path in ('/qyq/lib/qyq.py', '/qyq/site/numpy/__init__.py', '/newfile', '/dev/shm/x', '/usr/lib/x'):
    try:
        open(path, 'a').close()
        found.append('written ' + path)
    except OSError as exc:
        found.append(exc.errno)
"""
    found = probe(run, body)
    assert "written" not in found


def test_environment_is_empty(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:hunter2@db/qyq")
    monkeypatch.setenv("JWT_SECRET_KEY", "hunter2-jwt")
    found = probe(run, "found = dict(os.environ)")
    assert "hunter2" not in found
    assert eval(found) == {"OPENBLAS_NUM_THREADS": "1", "PWD": "/tmp"}  # noqa: S307 - a repr of a dict of strings


def test_process_identity_is_nobody_in_its_own_pid_namespace(run: Run) -> None:
    found = probe(run, "found = [os.getuid(), os.getpid() < 10, os.uname().nodename]")
    assert found == "[65534, True, 'sandbox']"


# --- network ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["('127.0.0.1', 5432)", "('127.0.0.1', 6379)", "('1.1.1.1', 443)", "('::1', 5432)"]
)
def test_no_socket_can_be_opened(run: Run, target: str) -> None:
    family = "socket.AF_INET6" if "::" in target else "socket.AF_INET"
    code = f"import socket\ndef signals(bars, params):\n    socket.create_connection({target}, timeout=1)\n"
    err = fail(run, code)
    assert err.reason == "strategy_error"
    assert "PermissionError" in err.message, err.message
    code = f"import socket\ndef signals(bars, params):\n    socket.socket({family}, socket.SOCK_DGRAM)\n"
    assert "Operation not permitted" in fail(run, code).message


def test_unix_sockets_and_socketpairs_are_refused(run: Run) -> None:
    code = "import socket\ndef signals(bars, params):\n    socket.socketpair()\n"
    assert "PermissionError" in fail(run, code).message
    code = (
        "import socket\ndef signals(bars, params):\n"
        "    socket.socket(socket.AF_UNIX).connect('/var/run/postgresql/.s.PGSQL.5432')\n"
    )
    assert "PermissionError" in fail(run, code).message


def test_raw_socket_syscall_through_ctypes_is_refused(run: Run) -> None:
    # socket(AF_INET, SOCK_STREAM, 0) = syscall 41 on x86_64; seccomp answers EPERM.
    found = probe(
        run,
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "found = [libc.syscall(41, 2, 1, 0), ctypes.get_errno()]",
    )
    assert found == "[-1, 1]"


# --- processes and the kernel -----------------------------------------------------------------


def test_os_system_cannot_run_anything(run: Run) -> None:
    found = probe(run, "found = os.system('echo escaped > /tmp/x; cat /etc/passwd')")
    assert found != "0"


@pytest.mark.parametrize(
    "call",
    [
        "import subprocess; subprocess.run(['/usr/bin/id'])",
        "import subprocess; subprocess.run([sys.executable, '-c', 'pass'])",
        "os.fork()",
        "os.posix_spawn(sys.executable, [sys.executable], {})",
        "import multiprocessing; multiprocessing.Process(target=print).start()",
    ],
)
def test_no_new_process(run: Run, call: str) -> None:
    err = fail(run, f"import os, sys\ndef signals(bars, params):\n    {call}\n")
    assert err.reason == "strategy_error"
    assert any(word in err.message for word in ("PermissionError", "FileNotFoundError", "OSError")), (
        err.message
    )


def test_fork_bomb_is_contained(run: Run) -> None:
    err = fail(run, "import os\ndef signals(bars, params):\n    while True:\n        os.fork()\n")
    assert err.reason == "strategy_error"
    assert err.message.startswith("PermissionError")


def test_thread_bomb_is_contained(run: Run) -> None:
    code = """
import threading, time
def signals(bars, params):
    while True:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
"""
    err = fail(run, code)
    assert err.reason in ("strategy_error", "strategy_memory"), err.message


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("ptrace", "libc.ptrace(16, 1, 0, 0)"),  # PTRACE_ATTACH to pid 1
        ("unshare", "libc.unshare(0x10000000)"),  # CLONE_NEWUSER
        ("mount", "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)"),
        ("keyctl", "libc.syscall(250, 0, 0, 0, 0, 0)"),
        ("bpf", "libc.syscall(321, 0, 0, 0)"),
        ("perf_event_open", "libc.syscall(298, 0, 0, -1, -1, 0)"),
        ("setns", "libc.syscall(308, 0, 0)"),
        ("io_uring_setup", "libc.syscall(425, 8, 0)"),
        ("clone3", "libc.syscall(435, 0, 0)"),
    ],
)
def test_dangerous_syscalls_are_refused(run: Run, name: str, call: str) -> None:
    found = probe(
        run, f"import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nfound = [{call}, ctypes.get_errno()]"
    )
    result, errno_value = eval(found)  # noqa: S307 - a repr of two ints
    assert result == -1, name
    assert errno_value in (1, 38), (name, errno_value)  # EPERM, or ENOSYS for clone3


def test_ctypes_system_gets_nowhere(run: Run) -> None:
    found = probe(run, "import ctypes\nfound = ctypes.CDLL(None).system(b'id')")
    assert found != "0"


# --- Python-level tricks: no boundary is built on them, the kernel's holds anyway --------------


def test_import_builtins_and_subclasses_walks_reach_nothing(run: Run) -> None:
    body = """
import builtins
opener = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'FileLoader'][0]
ev = builtins.__dict__['eval']
found = []
for attempt in (
    lambda: builtins.open('/etc/passwd').read(),
    lambda: ev("__import__('os').listdir('/work')"),
    lambda: opener('x', '/etc/hostname').get_data('/etc/hostname'),
    lambda: ev("__import__('socket').socket()"),
):
    try:
        found.append(('ESCAPED', attempt()))
    except OSError as exc:
        found.append(type(exc).__name__)
"""
    found = probe(run, body)
    assert "ESCAPED" not in found
    assert found == "['FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError', 'PermissionError']"


# --- resources --------------------------------------------------------------------------------


def test_memory_bomb_is_strategy_memory(run: Run) -> None:
    err = fail(run, "def signals(bars, params):\n    x = bytearray(8 * 1024**3)\n")
    assert err.reason == "strategy_memory"


def test_numpy_memory_bomb_is_strategy_memory(run: Run) -> None:
    err = fail(
        run,
        "import numpy as np\ndef signals(bars, params):\n"
        "    blocks = [np.ones(10**7) for _ in range(10**4)]\n",
    )
    assert err.reason == "strategy_memory"


def test_infinite_loop_is_strategy_timeout_on_cpu(run: Run) -> None:
    start = time.monotonic()
    err = fail(
        run, "def signals(bars, params):\n    while True:\n        pass\n", cpu_seconds=1, wall_seconds=20
    )
    assert err.reason == "strategy_timeout"
    assert "CPU" in err.message
    assert time.monotonic() - start < 10


def test_sleeping_forever_is_strategy_timeout_on_wall_clock(run: Run) -> None:
    start = time.monotonic()
    err = fail(run, "import time\ndef signals(bars, params):\n    time.sleep(3600)\n", wall_seconds=1.5)
    assert err.reason == "strategy_timeout"
    assert "1.5 seconds" in err.message
    assert time.monotonic() - start < 5


def test_ignoring_signals_does_not_escape_the_limits(run: Run) -> None:
    code = """
import signal
def signals(bars, params):
    for sig in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass
"""
    err = fail(run, code, cpu_seconds=1, wall_seconds=10)
    assert err.reason == "strategy_timeout"


def test_a_gigabyte_of_output_is_cut_off(run: Run) -> None:
    code = """
import os
def signals(bars, params):
    chunk = b'x' * (1 << 20)
    for _ in range(1024):
        for fd in range(3, 8):
            try:
                os.write(fd, chunk)
            except OSError:
                pass
"""
    err = fail(run, code)
    assert err.reason == "strategy_output_invalid"
    assert "larger than" in err.message


def test_printing_a_gigabyte_goes_nowhere(run: Run) -> None:
    code = "import sys\ndef signals(bars, params):\n    sys.stdout.write('x' * (1 << 30))\n    return {}\n"
    err = fail(run, code, memory_bytes=4 << 30)
    # Contained either way: the gigabyte never reaches the worker. On a loaded machine writing it to
    # /dev/null can outlast the wall clock, so a timeout is as valid an ending as the other two.
    assert err.reason in ("strategy_output_invalid", "strategy_memory", "strategy_timeout")


def test_writing_a_huge_file_is_refused(run: Run) -> None:
    code = (
        "def signals(bars, params):\n    with open('/tmp/big', 'wb') as fh:\n"
        "        fh.write(b'x' * (64 << 20))\n"
    )
    err = fail(run, code)
    assert err.reason == "strategy_error"
    assert "File too large" in err.message or "No space left" in err.message, err.message


def test_filling_tmp_with_small_files_is_bounded(run: Run) -> None:
    code = """
def signals(bars, params):
    for i in range(10000):
        with open(f'/tmp/f{i}', 'wb') as fh:
            fh.write(b'x' * (512 << 10))
"""
    err = fail(run, code)
    assert "No space left" in err.message, err.message


def test_sys_exit_is_a_strategy_error(run: Run) -> None:
    err = fail(run, "import sys\ndef signals(bars, params):\n    sys.exit(0)\n")
    assert err.reason == "strategy_error"
    assert "sys.exit(0)" in err.message


def test_os_exit_is_a_strategy_error(run: Run) -> None:
    err = fail(run, "import os\ndef signals(bars, params):\n    os._exit(0)\n")
    assert err.reason == "strategy_error"
    assert "without a result" in err.message


def test_killing_itself_is_a_strategy_error(run: Run) -> None:
    err = fail(
        run, "import os, signal\ndef signals(bars, params):\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    assert err.reason == "strategy_error"
    assert "crashed (SIGSEGV)" in err.message


def test_killing_pid_1_of_the_namespace_ends_only_the_sandbox(run: Run) -> None:
    err = fail(
        run,
        "import os, signal\ndef signals(bars, params):\n"
        "    os.kill(1, signal.SIGKILL)\n    os.kill(-1, signal.SIGKILL)\n",
    )
    assert err.reason == "strategy_error"


# --- forged answers ---------------------------------------------------------------------------


def test_a_forged_response_with_bad_bytes_is_rejected(run: Run, bars: object) -> None:
    code = """
import json, os, struct
def signals(bars, params):
    n = len(bars.close)
    header = json.dumps({"ok": True, "params": {}, "keys": ["entries", "exits"], "n": n}).encode()
    frame = b"QYR1" + struct.pack("<I", len(header)) + header + b"\\x07" * (2 * n)
    os.write(3, frame)
    os._exit(0)
"""
    err = fail(run, code)
    assert err.reason == "strategy_output_invalid"
    assert "booleans" in err.message


def test_a_forged_failure_with_an_unknown_reason_is_rejected(run: Run) -> None:
    code = """
import json, os, struct
def signals(bars, params):
    header = json.dumps({"ok": False, "reason": "sandbox_unavailable", "message": "x"}).encode()
    os.write(3, b"QYR1" + struct.pack("<I", len(header)) + header)
    os._exit(0)
"""
    assert fail(run, code).reason == "strategy_output_invalid"


# --- every run starts clean -------------------------------------------------------------------


def test_monkeypatching_numpy_does_not_outlive_the_run(run: Run, bars: object) -> None:
    hostile = (
        """
import numpy, qyq, _indicators
numpy.mean = lambda *a, **k: 0.0
numpy.greater = None
qyq.sma = _indicators.sma = lambda x, n: x * 0
import sys
sys.modules['numpy'].__dict__.clear()
"""
        + VALID_TAIL
    )
    fail(run, hostile)  # numpy is cleared, so even its own tail fails
    signals = run(SMA_CROSS, {"fast": 10, "slow": 30})
    builtin = strategies.get_strategy("sma_cross").signals(bars, {"fast": 10, "slow": 30})  # type: ignore[arg-type]
    assert np.array_equal(signals.entries, builtin.entries)  # type: ignore[attr-defined]


def test_files_written_in_tmp_are_gone_next_run(run: Run) -> None:
    fail(run, "def signals(bars, params):\n    open('/tmp/marker', 'w').write('x')\n    raise ValueError\n")
    assert probe(run, "found = os.listdir('/tmp')") == "[]"


def test_the_worker_still_runs_strategies_after_all_this(run: Run) -> None:
    assert os.getpid() > 0
    signals = run(SMA_CROSS, {"fast": 5, "slow": 20})
    assert signals.entries.dtype == bool  # type: ignore[attr-defined]


def test_the_leftover_check_sees_a_live_sandbox() -> None:
    rt = runtime.load_runtime()
    read_fd, write_fd = os.pipe()
    os.write(write_fd, rt.seccomp_bpf)
    os.close(write_fd)
    proc = subprocess.Popen(  # noqa: S603 - the sandbox's own command
        runtime.command(rt, sandbox.Limits(), read_fd),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(read_fd,),
        env={},
        start_new_session=True,
    )
    os.close(read_fd)
    try:
        assert proc.stdout is not None and proc.stdout.read(4) == b"QYB1"  # booted, waiting for a request
        assert proc.pid in leftover_processes()
        assert len(leftover_processes()) >= 2  # the launcher and the runner in its namespace
    finally:
        runtime._kill(proc)
