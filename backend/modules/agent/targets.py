"""Resolve an audit's target through the owning modules' services and compute its findings.

Other modules are reached only through their ``service.py``, imported lazily so the agent keeps
working (with fewer target kinds) in a build where a module is absent.
"""
from __future__ import annotations

import csv
import importlib
import io
import json
import logging
from typing import Any, Callable

import numpy as np

from backend.core.errors import NotFound
from backend.domain.audit.backtest import AuditReport, BacktestEvidence, audit_backtest
from backend.domain.audit.statements import StatementsError, audit_statements
from backend.modules.agent.errors import InvalidTarget, TargetNotFound, TargetUnsupported

logger = logging.getLogger(__name__)

YEAR_MS = 365 * 86_400_000  # crypto trades every day: annualise by calendar time
_SERVICES = {"backtest": "backtests", "strategy": "strategies", "bot": "bots", "file": "files"}


def service_fn(kind: str, name: str) -> Callable[..., Any]:
    """Return ``backend.modules.<module>.service.<name>`` or raise TargetUnsupported."""
    module = _SERVICES[kind]
    try:
        fn = getattr(importlib.import_module(f"backend.modules.{module}.service"), name)
    except (ImportError, AttributeError):
        raise TargetUnsupported(f"Auditing a {kind} is not available in this build.",
                                details={"kind": kind}) from None
    return fn


def call_owned(kind: str, name: str, **kwargs: Any) -> Any:
    """Call another module's service, turning its not-found into the agent's target-not-found."""
    try:
        return service_fn(kind, name)(**kwargs)
    except NotFound:
        raise TargetNotFound(f"The {kind} was not found.", details={"kind": kind}) from None


def periods_per_year(times_ms: np.ndarray) -> float:
    """Return bars per year from the median spacing of bar times (Unix ms); 365 for daily."""
    if len(times_ms) < 2:
        return 365.0
    step = float(np.median(np.diff(np.asarray(times_ms, dtype=np.float64))))
    return YEAR_MS / step if step > 0 else 365.0


# --- statements -------------------------------------------------------------------------------

def statements_from_bytes(data: bytes) -> dict[str, Any]:
    """Parse an uploaded JSON document or a CSV ``field,current,prior`` table into statements."""
    text = data.decode("utf-8-sig", errors="replace").strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidTarget("The file is not valid JSON.") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidTarget(f"The file is not a readable CSV: {exc}.") from None
    if not rows or [c.strip().lower() for c in rows[0][:3]] != ["field", "current", "prior"]:
        raise InvalidTarget("A statements CSV needs the header field,current,prior.")
    out: dict[str, Any] = {"current": {}, "prior": {}}
    for row in rows[1:]:
        cells = [c.strip() for c in row] + ["", ""]
        if not cells[0]:
            continue
        if cells[0] in ("marketCap", "symbol"):
            out[cells[0]] = cells[1]
            continue
        for col, period in ((1, "current"), (2, "prior")):
            if cells[col]:
                out[period][cells[0]] = cells[col]
    return out


def check_statements(raw: Any) -> AuditReport:
    """Score statements, turning a domain parse error into a 422 on ``statements``."""
    try:
        return audit_statements(raw)
    except StatementsError as exc:
        raise InvalidTarget(str(exc), details={"fields": {"statements": [str(exc)]}}) from None


def load_file_statements(*, actor_id: str, file_id: str) -> dict[str, Any]:
    """Read an uploaded CSV/JSON file of the caller's and return checked statements."""
    _row, data = call_owned("file", "get_file_content", actor_id=actor_id, file_id=file_id)
    raw = statements_from_bytes(data)
    check_statements(raw)
    return raw


# --- backtests, strategies, bots ----------------------------------------------------------------

def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def backtest_report(*, actor_id: str, backtest_id: str) -> AuditReport:
    """Rebuild a completed backtest of the caller's and audit it (with a doubled-cost re-run)."""
    from backend.domain.audit.rerun import evidence_from_run

    run = call_owned("backtest", "rebuild_run", actor_id=actor_id, backtest_id=backtest_id)
    bars = _field(run, "bars")
    ppy = _field(run, "periods_per_year") or periods_per_year(bars.time)
    ev = evidence_from_run(bars, _field(run, "signals"), _field(run, "config"), float(ppy),
                           result=_field(run, "result"), summary=_field(run, "metrics"))
    return audit_backtest(ev)


def latest_backtest_id(*, actor_id: str, strategy_id: str) -> str:
    """Return the id of the caller's latest completed backtest of a strategy, or raise InvalidTarget."""
    call_owned("strategy", "get_strategy", actor_id=actor_id, strategy_id=strategy_id)
    kpis = call_owned("backtest", "strategy_kpis", strategy_id=strategy_id, owner_id=actor_id)
    if not kpis or not kpis.get("backtestId"):
        raise InvalidTarget("This strategy has no completed backtest of yours to audit yet.")
    return str(kpis["backtestId"])


def bot_report(*, actor_id: str, bot_id: str) -> AuditReport:
    """Audit a paper bot's equity curve and closed-order PnL (no positions, so no exposure checks)."""
    perf = call_owned("bot", "get_performance", actor_id=actor_id, bot_id=bot_id)
    equity = np.array([float(p.value) for p in perf.equity], dtype=np.float64)
    times = np.array([int(p.time) for p in perf.equity], dtype=np.int64)
    pnls = np.array([float(o.pnl) for o in perf.orders if getattr(o, "pnl", None) is not None])
    if len(equity) < 2:
        raise InvalidTarget("This bot has not recorded enough equity points to audit.")
    ev = BacktestEvidence(equity=equity, exposure=None, trade_pnls=pnls,
                          periods_per_year=periods_per_year(times))
    return audit_backtest(ev)


def report_for(*, actor_id: str, kind: str, target_id: str | None, statements: Any) -> AuditReport:
    """Compute the deterministic report for one target."""
    if kind in ("statements", "file"):
        return check_statements(statements)
    if kind == "backtest":
        return backtest_report(actor_id=actor_id, backtest_id=str(target_id))
    if kind == "strategy":
        bt = latest_backtest_id(actor_id=actor_id, strategy_id=str(target_id))
        return backtest_report(actor_id=actor_id, backtest_id=bt)
    if kind == "bot":
        return bot_report(actor_id=actor_id, bot_id=str(target_id))
    raise InvalidTarget(f"Unknown target kind {kind!r}.")


_GETTERS = {"backtest": ("get_backtest", "backtest_id"), "strategy": ("get_strategy", "strategy_id"),
            "bot": ("get_bot", "bot_id")}


def check_target(*, actor_id: str, kind: str, target_id: str) -> str | None:
    """Return the target's symbol; raise TargetNotFound/TargetUnsupported unless the caller can read it."""
    getter, arg = _GETTERS[kind]
    view = call_owned(kind, getter, actor_id=actor_id, **{arg: target_id})
    if kind == "strategy":
        latest_backtest_id(actor_id=actor_id, strategy_id=target_id)
    symbol = _field(view, "symbol")
    return str(symbol)[:32] if symbol else None
