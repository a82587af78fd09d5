"""The sandbox's contract: parity with the built-ins, typed failures, PARAMS, protocol checks."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backend import sandbox
from backend.domain.backtest import engine, strategies
from backend.domain.backtest.strategies import ParamError, ParamSpec
from backend.domain.backtest.types import BacktestConfig
from backend.domain.bars import Bars
from backend.sandbox import protocol, runtime
from backend.sandbox.guest import runner
from backend.sandbox.templates import RSI, SMA_CROSS, TEMPLATES
from tests.sandbox.conftest import VALID_TAIL, make_bars

Run = Callable[..., object]
SIGNAL_FIELDS = ("entries", "exits", "short_entries", "short_exits")


# --- parity with the built-in kinds -----------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"fast": 10, "slow": 30}, {"fast": 3, "slow": 50}, {"fast": 1, "slow": 2}]
)
def test_sma_template_gives_the_builtin_sma_cross_signals_and_trades(params: dict[str, int]) -> None:
    bars = make_bars(5000, seed=11)
    ours = sandbox.run_signals(SMA_CROSS, bars, params)
    builtin = strategies.get_strategy("sma_cross").signals(bars, params)
    for name in SIGNAL_FIELDS:
        assert np.array_equal(getattr(ours, name), getattr(builtin, name)), name
    assert ours.entries.any()
    config = BacktestConfig(fee_bps=5, allow_short=True)
    assert np.array_equal(engine.run(bars, ours, config).trades, engine.run(bars, builtin, config).trades)


def test_rsi_template_gives_the_builtin_rsi_signals() -> None:
    bars = make_bars(3000, seed=5)
    params = {"period": 14, "lower": 30.0, "upper": 70.0}
    ours = sandbox.run_signals(RSI, bars, params)
    builtin = strategies.get_strategy("rsi").signals(bars, params)
    for name in SIGNAL_FIELDS:
        assert np.array_equal(getattr(ours, name), getattr(builtin, name)), name


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.key)
def test_every_template_describes_and_runs(template: object, bars: Bars) -> None:
    code = template.code  # type: ignore[attr-defined]
    specs = sandbox.describe(code)
    params = sandbox.validate_params(specs, {})
    evaluation = sandbox.evaluate(code, bars, params)
    assert evaluation.params == specs
    assert len(evaluation.signals) == len(bars)


def test_optional_short_keys_may_be_left_out(run: Run, bars: Bars) -> None:
    signals = run(VALID_TAIL)
    assert signals.short_entries is None and signals.short_exits is None  # type: ignore[attr-defined]
    assert len(signals) == len(bars)  # type: ignore[arg-type]


def test_bars_are_read_only_and_complete(run: Run, bars: Bars) -> None:
    code = """
def signals(bars, params):
    assert bars.time.dtype.name == 'int64' and bars.close.dtype.name == 'float64'
    assert len(bars.volume) == len(bars.time)
    assert params == {'x': 1.5}
    bars.close[0] = 1.0
"""
    with pytest.raises(sandbox.StrategyError) as info:
        run(code, {"x": 1.5})
    assert "read-only" in info.value.message


def test_int_and_float_arrays_of_zeros_and_ones_are_accepted(run: Run) -> None:
    code = (
        "import numpy as np\ndef signals(bars, params):\n    n = len(bars.close)\n"
        "    return {'entries': np.ones(n), 'exits': np.zeros(n, dtype=int)}\n"
    )
    signals = run(code)
    assert signals.entries.all() and not signals.exits.any()  # type: ignore[attr-defined]


def test_empty_bars_give_empty_signals() -> None:
    signals = sandbox.run_signals(SMA_CROSS, Bars.empty(), {"fast": 10, "slow": 30})
    assert len(signals) == 0


# --- typed failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ("[1, 2]", "must return a dict"),
        ("{'entries': z}", "missing keys ['exits']"),
        ("{'entries': z, 'exits': z, 'buy': z}", "unknown keys ['buy']"),
        ("{'entries': z[:-1], 'exits': z}", "entries must be a 1-D array of 500 values"),
        ("{'entries': z.reshape(20, 25), 'exits': z}", "shape (20, 25)"),
        ("{'entries': np.full(len(z), np.nan), 'exits': z}", "contains NaN"),
        ("{'entries': np.full(len(z), 2), 'exits': z}", "(0/1)"),
        ("{'entries': np.array(['a'] * len(z)), 'exits': z}", "dtype <U1"),
    ],
)
def test_invalid_output_names_what_is_wrong(run: Run, returned: str, fragment: str) -> None:
    code = (
        "import numpy as np\ndef signals(bars, params):\n"
        f"    z = np.zeros(len(bars.close), dtype=bool)\n    return {returned}\n"
    )
    with pytest.raises(sandbox.StrategyOutputInvalid) as info:
        run(code)
    assert info.value.reason == "strategy_output_invalid"
    assert fragment in info.value.message


def test_strategy_error_keeps_only_the_users_traceback(run: Run) -> None:
    code = (
        "from qyq import sma\n\ndef helper(x):\n    return sma(x, 0)\n\n"
        "def signals(bars, params):\n    return helper(bars.close)\n"
    )
    with pytest.raises(sandbox.StrategyError) as info:
        run(code)
    err = info.value
    assert err.to_details()["reason"] == "strategy_error"
    assert err.message == "ValueError: period must be a positive integer, got 0"
    assert err.details["traceback"] == [
        "line 7, in signals: return helper(bars.close)",
        "line 4, in helper: return sma(x, 0)",
    ]


def test_errors_at_import_time_are_strategy_errors() -> None:
    with pytest.raises(sandbox.StrategyError) as info:
        sandbox.describe("import pandas\ndef signals(bars, params):\n    pass\n")
    assert "ModuleNotFoundError" in info.value.message
    assert info.value.details["traceback"] == ["line 1, in <module>: import pandas"]


def test_missing_signals_function_is_a_strategy_error() -> None:
    with pytest.raises(sandbox.StrategyError, match="signals\\(bars, params\\)"):
        sandbox.describe("PARAMS = {}\n")


# --- check (compile only) ---------------------------------------------------------------------


def test_check_reports_line_and_column() -> None:
    with pytest.raises(sandbox.CodeSyntaxError) as info:
        sandbox.check("PARAMS = {}\ndef signals(bars, params):\n    return {'entries': 1,, }\n")
    assert info.value.details == {"line": 3, "column": 26}
    assert info.value.reason == "strategy_syntax"


def test_check_refuses_code_over_64_kib() -> None:
    with pytest.raises(sandbox.CodeTooLarge) as info:
        sandbox.check("#" * (64 * 1024 + 1))
    assert info.value.details == {"limit": 65536}
    assert "65536" in info.value.message


def test_check_does_not_execute(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    sandbox.check(f"open({str(marker)!r}, 'w')\n")
    assert not marker.exists()


def test_check_survives_absurd_nesting() -> None:
    with pytest.raises(sandbox.CodeSyntaxError):
        sandbox.check("x = " + "(" * 5000 + ")" * 5000)
    with pytest.raises(sandbox.CodeSyntaxError):
        sandbox.check("x = 1\0")


# --- PARAMS -----------------------------------------------------------------------------------


def test_describe_returns_param_specs() -> None:
    specs = sandbox.describe(SMA_CROSS)
    assert specs["fast"] == ParamSpec("int", 10, 1, 1000, "Fast SMA period (bars).")
    assert sandbox.descriptor_json(specs)["slow"] == {
        "type": "int",
        "default": 30,
        "min": 2,
        "max": 5000,
        "description": "Slow SMA period (bars).",
    }


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ("[1]", "must be a dict"),
        ("{'x': 1}", "must be a dict like"),
        ("{'x': {'type': 'str', 'default': 'a'}}", "type must be 'int' or 'float'"),
        ("{'x': {'type': 'int'}}", "default is required"),
        ("{'x': {'type': 'int', 'default': 1.5}}", "whole number"),
        ("{'x': {'type': 'int', 'default': 1, 'min': 5}}", "at least 5"),
        ("{'x': {'type': 'int', 'default': 1, 'step': 1}}", "unknown fields ['step']"),
        ("{'1x': {'type': 'int', 'default': 1}}", "identifiers"),
        ("{'x': {'type': 'float', 'default': float('nan')}}", "plain JSON"),
        ("{'x': {'type': 'float', 'default': object()}}", "plain JSON"),
        ("{f'p{i}': {'type': 'int', 'default': 1} for i in range(40)}", "at most 32"),
    ],
)
def test_bad_params_are_output_invalid(params: str, fragment: str) -> None:
    with pytest.raises(sandbox.StrategyOutputInvalid) as info:
        sandbox.describe(f"PARAMS = {params}\n" + VALID_TAIL)
    assert fragment in info.value.message


def test_validate_params_applies_the_builtin_rules() -> None:
    specs = sandbox.describe(SMA_CROSS)
    assert sandbox.validate_params(specs, {"fast": 5.0}) == {"fast": 5, "slow": 30}
    with pytest.raises(ParamError) as info:
        sandbox.validate_params(specs, {"fast": 0, "slow": "x", "other": 1})
    assert info.value.fields == {
        "other": ["Unknown parameter."],
        "fast": ["Must be at least 1."],
        "slow": ["Must be a whole number."],
    }


# --- protocol ---------------------------------------------------------------------------------


def test_guest_and_worker_share_the_wire_constants() -> None:
    assert (runner.BOOT, runner.REQUEST, runner.RESPONSE) == (
        protocol.BOOT,
        protocol.REQUEST,
        protocol.RESPONSE,
    )
    assert runner.SIGNAL_KEYS == protocol.SIGNAL_KEYS
    assert runner.SITE_DIR == runtime.SITE_DIR


def _frame(header: object, payload: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return protocol.RESPONSE + struct.pack("<I", len(raw)) + raw + payload


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (b"", "no result frame"),
        (b"QYR1" + struct.pack("<I", 10**9), "too large"),
        (protocol.RESPONSE + struct.pack("<I", 3) + b"{{{", "not JSON"),
        (_frame([1]), "object with 'ok'"),
        (_frame({"ok": True, "keys": ["entries"], "n": 2}, b"\0\0"), "entries and exits are required"),
        (_frame({"ok": True, "keys": ["entries", "entries"], "n": 2}, b"\0" * 4), "distinct"),
        (_frame({"ok": True, "keys": ["entries", "exits"], "n": 3}, b"\0" * 6), "expected 2 values"),
        (_frame({"ok": True, "keys": ["entries", "exits"], "n": 2}, b"\0" * 5), "expected 4 signal bytes"),
        (_frame({"ok": True, "keys": ["entries", "exits"], "n": 2}, b"\0\1\2\0"), "booleans"),
        (_frame({"ok": False, "reason": "strategy_error", "message": 1}), "malformed failure"),
        (_frame({"ok": False, "reason": "strategy_error", "message": "m", "traceback": [1]}), "traceback"),
    ],
)
def test_decode_rejects_malformed_frames(frame: bytes, fragment: str) -> None:
    with pytest.raises(sandbox.StrategyOutputInvalid, match=fragment.replace("(", "\\(")):
        protocol.decode_response(frame, 2)


def test_decode_reads_a_valid_frame() -> None:
    header, arrays = protocol.decode_response(
        _frame({"ok": True, "keys": ["entries", "exits"], "n": 2}, b"\1\0\0\1"), 2
    )
    assert header["ok"] is True
    assert arrays["entries"].tolist() == [True, False] and arrays["exits"].tolist() == [False, True]


# --- never without the sandbox ----------------------------------------------------------------


@pytest.fixture
def fresh_runtime() -> object:
    """Forget the cached runtime before and after a test that breaks it."""
    runtime._runtime_cached.cache_clear()
    yield
    runtime._runtime_cached.cache_clear()


def test_missing_bwrap_is_sandbox_unavailable(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: object, tmp_path: Path
) -> None:
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    monkeypatch.setattr(runtime.os.path, "exists", lambda path: False)
    marker = tmp_path / "ran"
    with pytest.raises(sandbox.SandboxUnavailable) as info:
        sandbox.run_signals(f"open({str(marker)!r}, 'w')\n" + VALID_TAIL, make_bars(10), {})
    assert info.value.reason == "sandbox_unavailable"
    assert "bubblewrap" in info.value.message
    assert not marker.exists()
    assert sandbox.available() is False


def test_bwrap_that_cannot_create_namespaces_is_sandbox_unavailable(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: object, tmp_path: Path
) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(runtime.shutil, "which", lambda name: str(fake))
    with pytest.raises(sandbox.SandboxUnavailable, match="No permissions to creating new namespace"):
        sandbox.describe(VALID_TAIL)


def test_missing_seccomp_binding_is_sandbox_unavailable(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: object
) -> None:
    monkeypatch.setattr(runtime, "SYSTEM_PYTHON", "/nonexistent/python3")
    with pytest.raises(sandbox.SandboxUnavailable, match="python3-seccomp"):
        sandbox.describe(VALID_TAIL)


def test_the_sandbox_is_available_here() -> None:
    assert sandbox.available() is True


def test_limits_hold_without_prlimit_too(monkeypatch: pytest.MonkeyPatch, fresh_runtime: object) -> None:
    which = runtime.shutil.which
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None if name == "prlimit" else which(name))
    assert runtime.load_runtime().prlimit is None
    limits = sandbox.Limits(cpu_seconds=1, wall_seconds=10)
    with pytest.raises(sandbox.StrategyMemory):
        sandbox.run_signals("def signals(bars, params):\n    x = bytearray(8 << 30)\n", make_bars(10), {})
    with pytest.raises(sandbox.StrategyTimeout, match="CPU"):
        sandbox.run_signals(
            "def signals(bars, params):\n    while True:\n        pass\n", make_bars(10), {}, limits=limits
        )


def test_the_command_sets_every_limit_through_prlimit() -> None:
    rt = runtime.load_runtime()
    assert rt.prlimit is not None
    cmd = runtime.command(rt, sandbox.Limits(cpu_seconds=3, memory_bytes=1 << 29), 9)
    assert cmd[: cmd.index("--") + 1] == [
        rt.prlimit,
        "--cpu=3:4",
        f"--as={1 << 29}",
        f"--fsize={1 << 20}",
        "--nofile=32",
        "--core=0",
        "--",
    ]
    assert cmd[cmd.index("--seccomp") : cmd.index("--seccomp") + 2] == ["--seccomp", "9"]


# --- pre-started sandboxes ----------------------------------------------------------------------


SMA_PARAMS = {"fast": 10, "slow": 30}


def _idle_pid(limits: sandbox.Limits) -> int:
    """Return the pid of the pre-started sandbox waiting for a run under ``limits``."""
    return runtime._PRESTARTED._mine()[limits].proc.pid


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_every_run_uses_a_sandbox_that_served_nothing_before(bars: Bars) -> None:
    limits = sandbox.Limits(wall_seconds=10.0, cpu_seconds=5)
    sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS, limits=limits)
    first = _idle_pid(limits)  # the next run's sandbox, started as this one ended
    sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS, limits=limits)
    second = _idle_pid(limits)
    assert second != first and not _alive(first)  # the first one served one run and was killed
    # A run that leaves state behind does not reach the next run (which uses a pre-started one).
    dirty = "import numpy\nnumpy.ones = None\nopen('/tmp/left', 'w').write('x')\n" + VALID_TAIL
    sandbox.run_signals(dirty, bars, {}, limits=limits)
    probe = "import os\nif os.listdir('/tmp') or numpy.ones is None:\n    raise ValueError('dirty')\n"
    sandbox.run_signals("import numpy\n" + probe + VALID_TAIL, bars, {}, limits=limits)


def test_a_prestarted_sandbox_is_used_only_for_its_own_runtime_and_limits(bars: Bars) -> None:
    limits = sandbox.Limits(wall_seconds=9.0, cpu_seconds=4)
    sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS, limits=limits)
    rt = runtime.load_runtime()
    other = dataclasses.replace(rt, prlimit=None)
    assert runtime._PRESTARTED.take(other, limits) is None  # another runtime: killed, not used
    assert runtime._PRESTARTED.take(rt, sandbox.Limits(wall_seconds=9.0, cpu_seconds=3)) is None
    sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS, limits=limits)
    proc = runtime._PRESTARTED.take(rt, limits)
    assert proc is not None and proc.poll() is None
    runtime._kill(proc)


def test_a_prestarted_sandbox_that_died_is_replaced(bars: Bars) -> None:
    limits = sandbox.Limits(wall_seconds=8.0, cpu_seconds=4)
    sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS, limits=limits)
    idle = _idle_pid(limits)
    os.killpg(idle, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(idle) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS, limits=limits)) == len(bars)


def test_prestarting_can_be_turned_off(bars: Bars) -> None:
    sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS)
    assert runtime.prestarted_pids()
    runtime.set_prestart(False)
    try:
        assert runtime.prestarted_pids() == []
        sandbox.run_signals(SMA_CROSS, bars, SMA_PARAMS)
        assert runtime.prestarted_pids() == []
    finally:
        runtime.set_prestart(True)


def test_the_pool_keeps_at_most_a_few_idle_sandboxes(bars: Bars) -> None:
    for cpu in range(2, 3 + runtime._PRESTARTED.MAX_ENTRIES):
        sandbox.run_signals(
            SMA_CROSS, bars, SMA_PARAMS, limits=sandbox.Limits(wall_seconds=7.0, cpu_seconds=cpu)
        )
        if cpu == 2:
            oldest = _idle_pid(sandbox.Limits(wall_seconds=7.0, cpu_seconds=2))
    assert len(runtime.prestarted_pids()) == runtime._PRESTARTED.MAX_ENTRIES
    assert oldest not in runtime.prestarted_pids() and not _alive(oldest)  # evicted and killed
