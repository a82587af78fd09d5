"""Resolve an audit's target through the owning modules' services and compute its findings.

Other modules are reached only through their ``service.py``; their not-found errors become the
agent's TargetNotFound.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import numpy as np

from backend.core.errors import NotFound
from backend.domain.audit.backtest import AuditReport, BacktestEvidence, audit_backtest
from backend.domain.audit.rerun import evidence_from_run
from backend.domain.audit.statements import StatementsError, audit_statements
from backend.modules.agent.errors import InvalidTarget, TargetNotFound
from backend.modules.backtests import service as backtests_service
from backend.modules.bots import service as bots_service
from backend.modules.files import service as files_service
from backend.modules.strategies import service as strategies_service

logger = logging.getLogger(__name__)

YEAR_MS = 365 * 86_400_000  # crypto trades every day: annualise by calendar time


@contextmanager
def owned(kind: str) -> Iterator[None]:
    """Turn another module's not-found (inside the block) into the agent's target-not-found."""
    try:
        yield
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
    with owned("file"):
        _row, data = files_service.get_file_content(actor_id=actor_id, file_id=file_id)
    raw = statements_from_bytes(data)
    check_statements(raw)
    return raw


# --- backtests, strategies, bots ----------------------------------------------------------------


def backtest_report(*, actor_id: str, backtest_id: str) -> AuditReport:
    """Rebuild a completed backtest of the caller's and audit it (with a doubled-cost re-run)."""
    with owned("backtest"):
        run = backtests_service.rebuild_run(actor_id=actor_id, backtest_id=backtest_id)
    ev = evidence_from_run(
        run.bars,
        run.signals,
        run.config,
        float(run.periods_per_year),
        result=run.result,
        summary=run.metrics,
        in_out_gap=run.in_out_gap,
    )
    return audit_backtest(ev)


def latest_backtest_id(*, actor_id: str, strategy_id: str) -> str:
    """Return the id of the caller's latest completed backtest of a strategy, or raise InvalidTarget."""
    with owned("strategy"):
        strategies_service.get_strategy(actor_id=actor_id, strategy_id=strategy_id)
    kpis = backtests_service.strategy_kpis(strategy_id=strategy_id, owner_id=actor_id)
    if not kpis or not kpis.get("backtestId"):
        raise InvalidTarget("This strategy has no completed backtest of yours to audit yet.")
    return str(kpis["backtestId"])


def bot_report(*, actor_id: str, bot_id: str) -> AuditReport:
    """Audit a paper bot's equity curve and the realised PnL of its closing fills (no exposure checks)."""
    with owned("bot"):
        perf = bots_service.get_performance(actor_id=actor_id, bot_id=bot_id)
    equity = np.array([float(p.value) for p in perf.equity], dtype=np.float64)
    times = np.array([int(p.time) for p in perf.equity], dtype=np.int64)
    pnls = np.array([float(o.pnl) for o in perf.orders if _closes(o.side, o.quantity, o.position_after)])
    if len(equity) < 2:
        raise InvalidTarget("This bot has not recorded enough equity points to audit.")
    ev = BacktestEvidence(
        equity=equity, exposure=None, trade_pnls=pnls, periods_per_year=periods_per_year(times)
    )
    return audit_backtest(ev)


def _closes(side: str, quantity: Decimal, position_after: Decimal) -> bool:
    """Return whether a fill closed (part of) a position: the position before it was on the other side."""
    sign = 1 if side == "buy" else -1
    return (position_after - sign * quantity) * sign < 0


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


def _target_symbol(actor_id: str, kind: str, target_id: str) -> str | None:
    """Return the symbol of a backtest, strategy or bot the caller can read (else TargetNotFound)."""
    with owned(kind):
        if kind == "backtest":
            return backtests_service.get_backtest(actor_id=actor_id, backtest_id=target_id).symbol
        if kind == "strategy":
            return strategies_service.get_strategy(actor_id=actor_id, strategy_id=target_id).symbol
        if kind == "bot":
            return bots_service.get_bot(actor_id=actor_id, bot_id=target_id).symbol
    raise InvalidTarget(f"Unknown target kind {kind!r}.")


def check_target(*, actor_id: str, kind: str, target_id: str) -> str | None:
    """Return the target's symbol; raise TargetNotFound unless the caller can read it."""
    symbol = _target_symbol(actor_id, kind, target_id)
    if kind == "strategy":
        latest_backtest_id(actor_id=actor_id, strategy_id=target_id)
    return symbol[:32] if symbol else None
