"""The `python` strategy kind through the public API: create, check, templates, ownership, backtests.

Each python strategy runs in the real sandbox (bubblewrap + seccomp, tests/sandbox); Celery runs
eagerly, so a backtest job executes inside its submit request. Bots are in test_python_bots.py.
"""

from __future__ import annotations

import json

import pytest

from backend.modules.strategies import python_kind
from backend.sandbox import runtime
from backend.sandbox.templates import RSI, SMA_CROSS
from tests.helpers.api import error, fields, ok

SMA_SCHEMA = {
    "fast": {"type": "int", "default": 10, "min": 1, "max": 1000, "description": "Fast SMA period (bars)."},
    "slow": {"type": "int", "default": 30, "min": 2, "max": 5000, "description": "Slow SMA period (bars)."},
}


def body(code: str, **extra) -> dict:
    """Return a POST /api/strategies body of a python strategy."""
    return {"name": "py", "symbol": "BTCUSDT", "kind": "python", "code": code, **extra}


def strategy_code(signals_body: str, params: str = "{}") -> str:
    """Return strategy code with ``PARAMS = params`` and ``signals`` running ``signals_body``."""
    return f"import numpy as np\nPARAMS = {params}\n\ndef signals(bars, params):\n{signals_body}\n"


ZEROS = "    z = np.zeros(len(bars.close), dtype=bool)\n    return {'entries': z, 'exits': z}"


def _job(client, owner, resp) -> dict:
    assert resp.status_code == 202, resp.get_json()
    job_id = resp.get_json()["data"]["job_id"]
    return ok(client.get(f"/api/backtests/job/{job_id}", headers=owner.headers))


@pytest.fixture
def no_sandbox():
    """Point the sandbox at a bwrap that does not exist (as on a machine without bubblewrap)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "BWRAP_CANDIDATES", ("/nonexistent/bwrap",))
        runtime.reset()
        yield
    runtime.reset()


@pytest.fixture
def short_runs(monkeypatch):
    """Give backtests and bot ticks short sandbox limits (the infinite loops end in ~1 s)."""
    monkeypatch.setattr(python_kind, "RUN_LIMITS", runtime.Limits(wall_seconds=4.0, cpu_seconds=1))


# --- create, read, update -----------------------------------------------------------------------


def test_create_stores_code_and_returns_the_parameter_descriptor(client, user):
    data = ok(
        client.post("/api/strategies", json=body(SMA_CROSS, params={"fast": 5}), headers=user.headers), 201
    )
    assert (data["kind"], data["version"], data["params"]) == ("python", 1, {"fast": 5, "slow": 30})
    assert data["paramsSchema"] == SMA_SCHEMA and data["code"] == SMA_CROSS
    assert ok(client.get(f"/api/strategies/{data['id']}", headers=user.headers))["code"] == SMA_CROSS
    # Built-in kinds describe their parameters the same way (code: null).
    builtin = ok(
        client.post(
            "/api/strategies",
            json={"name": "b", "symbol": "BTCUSDT", "kind": "sma_cross"},
            headers=user.headers,
        ),
        201,
    )
    assert builtin["paramsSchema"]["fast"]["type"] == "int" and builtin["code"] is None


def test_create_rejects_bad_code_and_params_with_field_messages(client, user):
    post = lambda b: client.post("/api/strategies", json=b, headers=user.headers)  # noqa: E731
    too_big = error(post(body("x = 1\n" + "#" * (64 * 1024))), 422, code="strategies.code_invalid")
    assert "65536" in too_big["details"]["fields"]["code"][0] and too_big["details"]["limit"] == 65536
    syntax = error(post(body("PARAMS = {}\ndef signals(bars, params)\n    pass\n")), 422, "validation_error")
    assert (syntax["details"]["line"], syntax["details"]["column"]) == (2, 26)
    assert "line 2, column 26" in syntax["details"]["fields"]["code"][0]
    assert fields(post(body(SMA_CROSS, params={"fast": 0, "speed": 3}))) == {
        "params.fast": ["Must be at least 1."],
        "params.speed": ["Unknown parameter."],
    }
    assert "code" in fields(post({"name": "x", "symbol": "BTCUSDT", "kind": "python"}))
    assert "code" in fields(post({"name": "x", "symbol": "BTCUSDT", "kind": "rsi", "code": SMA_CROSS}))
    bad_params = error(
        post(body(strategy_code(ZEROS, "{'fast': {'type': 'str'}}"))), 422, "strategy_output_invalid"
    )
    assert "PARAMS['fast']" in bad_params["message"]
    crash = error(post(body("import numpy\nraise RuntimeError('at import')\n")), 422, "strategy_error")
    assert crash["message"].startswith("RuntimeError: at import")
    assert crash["details"]["traceback"] == ["line 2, in <module>: raise RuntimeError('at import')"]
    assert ok(client.get("/api/strategies", headers=user.headers)) == []  # nothing was stored


def test_code_changes_make_new_versions_and_keep_still_declared_params(client, user):
    created = ok(
        client.post("/api/strategies", json=body(SMA_CROSS, params={"fast": 7}), headers=user.headers), 201
    )
    url = f"/api/strategies/{created['id']}"
    same = ok(client.patch(url, json={"code": SMA_CROSS}, headers=user.headers))
    assert same["version"] == 1  # the same content: no new version
    renamed = SMA_CROSS.replace('"slow"', '"slower"').replace("params['slow']", "params['slower']")
    changed = ok(client.patch(url, json={"code": renamed}, headers=user.headers))
    assert changed["version"] == 2 and changed["params"] == {"fast": 7, "slower": 30}
    assert set(changed["paramsSchema"]) == {"fast", "slower"} and changed["code"] == renamed
    tuned = ok(client.patch(url, json={"params": {"fast": 9}}, headers=user.headers))
    assert (tuned["version"], tuned["params"], tuned["code"]) == (3, {"fast": 9, "slower": 30}, renamed)
    versions = ok(client.get(f"{url}/versions", headers=user.headers))
    assert len({v["contentHash"] for v in versions}) == 3
    assert "code" in fields(client.patch(url, json={"code": "def signals(:\n"}, headers=user.headers))
    to_builtin = ok(client.patch(url, json={"kind": "rsi"}, headers=user.headers))
    assert (to_builtin["kind"], to_builtin["code"], to_builtin["version"]) == ("rsi", None, 4)
    assert "code" in fields(client.patch(url, json={"code": SMA_CROSS}, headers=user.headers))


def test_code_is_shown_to_its_owner_only(client, user, other_user):
    secret = SMA_CROSS.replace("SMA crossover", "SECRET-ALPHA crossover")
    private = ok(client.post("/api/strategies", json=body(secret), headers=user.headers), 201)
    public = ok(client.post("/api/strategies", json=body(secret, published=True), headers=user.headers), 201)
    error(client.get(f"/api/strategies/{private['id']}", headers=other_user.headers), 404, "not_found")
    error(
        client.get(f"/api/strategies/{private['id']}/versions", headers=other_user.headers), 404, "not_found"
    )
    seen = ok(client.get(f"/api/strategies/{public['id']}", headers=other_user.headers))
    assert seen["code"] is None and seen["paramsSchema"] == SMA_SCHEMA  # the form, not the code
    for path in (f"/api/strategies/{public['id']}", f"/api/strategies/{public['id']}/versions"):
        for headers in (other_user.headers, {}):
            assert "SECRET-ALPHA" not in client.get(path, headers=headers).get_data(as_text=True)
    assert "SECRET-ALPHA" not in client.get("/api/strategies/recent", headers=other_user.headers).get_data(
        as_text=True
    )
    mine = ok(client.get("/api/strategies", headers=user.headers))
    assert len(mine) == 2 and all("code" not in s for s in mine)  # lists leave the code out


def test_no_sandbox_is_503_and_stores_nothing(client, user, no_sandbox):
    resp = client.post("/api/strategies", json=body(SMA_CROSS), headers=user.headers)
    found = error(resp, 503, "sandbox_unavailable", code="strategies.sandbox_unavailable")
    assert "bubblewrap" in found["message"]
    error(
        client.post("/api/strategies/check", json={"code": SMA_CROSS}, headers=user.headers),
        503,
        "sandbox_unavailable",
    )
    assert ok(client.get("/api/strategies", headers=user.headers)) == []
    # Syntax is still checked without a sandbox: compiling runs nothing.
    error(
        client.post("/api/strategies/check", json={"code": "def ("}, headers=user.headers),
        422,
        "validation_error",
    )


# --- check and templates ------------------------------------------------------------------------


def test_check_runs_the_code_on_sample_bars(client, user):
    found = ok(
        client.post(
            "/api/strategies/check",
            json={"code": SMA_CROSS, "params": {"fast": 3, "slow": 8}},
            headers=user.headers,
        )
    )
    assert found["bars"] == python_kind.CHECK_BARS and found["params"] == {"fast": 3, "slow": 8}
    assert set(found["signals"]) == {"entries", "exits", "shortEntries", "shortExits"}
    assert found["signals"]["entries"] > 0 and found["signalCount"] == sum(found["signals"].values())
    assert found["paramsSchema"] == SMA_SCHEMA
    rsi = ok(
        client.post(
            "/api/strategies/check",
            json={"code": RSI, "symbol": "ETHUSDT", "interval": "4h"},
            headers=user.headers,
        )
    )
    assert rsi["params"] == {"period": 14, "lower": 30.0, "upper": 70.0}
    assert ok(client.get("/api/strategies", headers=user.headers)) == []  # a check stores nothing


def test_check_reports_errors_users_can_act_on(client, user):
    check = lambda code, **kw: client.post(  # noqa: E731
        "/api/strategies/check", json={"code": code, **kw}, headers=user.headers
    )
    syntax = error(check("PARAMS = {}\n\ndef signals(bars, params):\n    return {'entries': [}\n"), 422)
    assert syntax["details"]["line"] == 4 and "code" in syntax["details"]["fields"]
    failing = strategy_code("    scale = 0\n    return helper(bars.close, scale)\n") + (
        "\ndef helper(close, scale):\n    return len(close) // scale\n"
    )
    crash = error(check(failing), 422, "strategy_error", code="strategies.strategy_failed")
    assert crash["message"].startswith("ZeroDivisionError")
    assert crash["details"]["traceback"] == [
        "line 6, in signals: return helper(bars.close, scale)",
        "line 10, in helper: return len(close) // scale",
    ]  # the user's own frames only: no runner, numpy or worker paths
    assert "runner" not in json.dumps(crash) and "/work" not in json.dumps(crash)
    short = strategy_code("    return {'entries': np.zeros(3, bool), 'exits': np.zeros(3, bool)}")
    assert (
        "entries must be a 1-D array of 300 values"
        in error(check(short), 422, "strategy_output_invalid")["message"]
    )
    assert fields(check(SMA_CROSS, params={"slow": 1})) == {"params.slow": ["Must be at least 2."]}
    assert "symbol" in fields(check(SMA_CROSS, symbol="NOPEUSDT"))
    error(client.post("/api/strategies/check", json={"code": SMA_CROSS}), 401, "token_missing")


def test_check_stops_a_runaway_strategy(client, user):
    loop = strategy_code("    while True:\n        pass")
    found = error(
        client.post("/api/strategies/check", json={"code": loop}, headers=user.headers),
        422,
        "strategy_timeout",
    )
    assert "CPU" in found["message"] or "seconds" in found["message"]


def test_templates_are_python_code_for_logged_in_users(client, user):
    templates = ok(client.get("/api/strategies/templates", headers=user.headers))
    assert [t["key"] for t in templates] == ["sma_cross", "rsi", "bollinger_breakout"]
    assert all("def signals(bars, params)" in t["code"] and t["title"] for t in templates)
    error(client.get("/api/strategies/templates"), 401, "token_missing")


# --- backtests ----------------------------------------------------------------------------------


def test_python_sma_backtest_trades_exactly_like_the_builtin(client, user, make_strategy, run_backtest):
    params = {"fast": 5, "slow": 20}
    python = make_strategy(user, kind="python", code=SMA_CROSS, params=params)["id"]
    builtin = make_strategy(user, kind="sma_cross", params=params)["id"]
    runs = [
        _job(client, user, run_backtest(user, strategy_id=sid, fee_bps=5, slippage_bps=2, allow_short=True))
        for sid in (python, builtin)
    ]
    assert [job["status"] for job in runs] == ["SUCCESS", "SUCCESS"]
    ours, theirs = (job["result"] for job in runs)

    def fills(result: dict) -> list[dict]:
        return [
            {k: v for k, v in fill.items() if k != "id"} for fill in result["trades"]
        ]  # ids differ per run

    assert len(ours["trades"]) > 4 and fills(ours) == fills(theirs)
    assert ours["summary"] == theirs["summary"] and ours["kline"] == theirs["kline"]
    detail = ok(client.get(f"/api/backtests/{runs[0]['backtest_id']}", headers=user.headers))
    assert (detail["kind"], detail["params"]) == ("python", params)


def test_inline_python_strategies_must_be_saved_first(client, user, run_backtest):
    resp = run_backtest(user, strategy={"kind": "python", "params": {}}, symbol="BTCUSDT")
    assert "kind" in fields(resp)


HOSTILE = [
    ("read_passwd", "    open('/etc/passwd').read()\n" + ZEROS, "strategy_error", "FileNotFoundError"),
    (
        "socket",
        "    import socket\n    socket.create_connection(('127.0.0.1', 5432))\n" + ZEROS,
        "strategy_error",
        "PermissionError",
    ),
    ("infinite_loop", "    while True:\n        pass", "strategy_timeout", "CPU"),
    ("memory_bomb", "    blob = bytearray(8 << 30)\n" + ZEROS, "strategy_memory", "memory"),
    (
        "wrong_length",
        "    return {'entries': np.zeros(3, bool), 'exits': np.zeros(3, bool)}",
        "strategy_output_invalid",
        "1-D",
    ),
    (
        "missing_key",
        "    return {'entries': np.zeros(len(bars.close), bool)}",
        "strategy_output_invalid",
        "exits",
    ),
    ("not_a_dict", "    return [1, 2]", "strategy_output_invalid", "dict"),
    ("raises", "    raise ValueError('no edge today')", "strategy_error", "ValueError: no edge today"),
]


@pytest.mark.parametrize(("name", "signals_body", "reason", "says"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_failing_strategy_fails_its_backtest_with_a_reason(
    client, user, make_strategy, run_backtest, short_runs, name, signals_body, reason, says
):
    sid = make_strategy(user, kind="python", code=strategy_code(signals_body))["id"]
    job = _job(client, user, run_backtest(user, strategy_id=sid))
    assert (job["status"], job["error"]["reason"]) == ("FAILED", reason), job
    assert says in job["error"]["message"] and "result" not in job
    detail = ok(client.get(f"/api/backtests/{job['backtest_id']}", headers=user.headers))
    assert detail["status"] == "failed" and detail["error"]["reason"] == reason
    # The worker is healthy: the next run of a good strategy succeeds.
    good = make_strategy(user, kind="python", code=SMA_CROSS)["id"]
    assert _job(client, user, run_backtest(user, strategy_id=good))["status"] == "SUCCESS"


def test_the_job_error_quotes_the_owners_traceback_but_not_to_others(
    client, user, other_user, make_strategy, run_backtest
):
    code = strategy_code("    return explode()") + "\ndef explode():\n    raise KeyError('SECRET-LINE')\n"
    sid = make_strategy(user, kind="python", code=code, published=True)["id"]
    mine = _job(client, user, run_backtest(user, strategy_id=sid))["error"]
    assert mine["reason"] == "strategy_error"
    assert mine["message"].splitlines() == [
        "KeyError: 'SECRET-LINE'",
        "line 5, in signals: return explode()",
        "line 8, in explode: raise KeyError('SECRET-LINE')",
    ]
    theirs = _job(client, other_user, run_backtest(other_user, strategy_id=sid))["error"]
    assert theirs == {"reason": "strategy_error", "message": "KeyError: 'SECRET-LINE'"}  # no code lines


def test_a_backtest_without_a_sandbox_fails_with_sandbox_unavailable(
    client, user, make_strategy, run_backtest
):
    sid = make_strategy(user, kind="python", code=SMA_CROSS)["id"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "BWRAP_CANDIDATES", ("/nonexistent/bwrap",))
        runtime.reset()
        job = _job(client, user, run_backtest(user, strategy_id=sid))
    runtime.reset()
    assert (job["status"], job["error"]["reason"]) == ("FAILED", "sandbox_unavailable")
    assert "bubblewrap" in job["error"]["message"]
