"""Read models of backtests: what the services return and the schemas dump (snake_case; the wire
names come from ``schemas.py``).

The contract's Trade is a *fill*: each stored round trip yields an entry fill (``buy`` for a long,
``sell`` for a short; no pnl) and an exit fill (the opposite side, carrying the round trip's pnl).
Kline ``signal`` marks the bars where fills happened (buy/sell), i.e. bar t+1 for a signal at t.
A result's kline and equity curve are stored as the API sends them (``models.JSONText``) and go
into a view as they were read (``RawJSON``): the response carries them without parsing them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import numpy as np

from backend.core.jsonprovider import RawJSON, decimal_json
from backend.core.schemas import camelize
from backend.modules.backtests.fingerprint import Fingerprint, fingerprint_of
from backend.modules.backtests.models import Backtest
from backend.modules.backtests.trade_store import StoredTrade, money, trade_id

_FILL_NS = uuid.UUID("6f1f4d2e-8a55-4c7e-9a34-6c0f1c2b7d10")


@dataclass(frozen=True)
class Summary:
    """The contract's 8 KPIs of a completed run (percent numbers; None where undefined)."""

    total_return: float | None
    annualized_return: float | None
    sharpe_ratio: float | None
    max_drawdown: float | None
    win_rate: float | None
    profit_factor: float | None
    total_trades: int | None
    avg_holding_days: float | None


def summary_of(metrics: dict[str, Any] | None) -> Summary | None:
    """Return the summary of stored metrics (stored with the domain's camelCase keys), None without."""
    if metrics is None:
        return None
    return Summary(**{f.name: metrics.get(camelize(f.name)) for f in fields(Summary)})


@dataclass(frozen=True)
class Fill:
    """The contract's Trade: one fill; an exit fill carries its round trip's pnl."""

    id: str
    symbol: str
    side: str  # buy | sell
    price: Decimal
    quantity: Decimal
    pnl: Decimal | None
    timestamp: int


def fills_of(trades: Iterable[StoredTrade], symbol: str) -> list[Fill]:
    """Return the fills of stored round trips (two per round trip), oldest first."""
    out: list[Fill] = []
    for t in trades:
        opening, closing = ("buy", "sell") if t.side == "long" else ("sell", "buy")
        entry_id, exit_id = (str(uuid.uuid5(_FILL_NS, f"{t.id}:{end}")) for end in ("entry", "exit"))
        out.append(Fill(entry_id, symbol, opening, t.entry_price, t.quantity, None, t.entry_time))
        out.append(Fill(exit_id, symbol, closing, t.exit_price, t.quantity, t.pnl, t.exit_time))
    return out


def fill_ids(backtest_id: str, first: int, n: int) -> list[str]:
    """Return the fill ids of round trips ``first .. first + n - 1``: entry, exit, entry, ...

    The ids ``fills_of`` gives (``uuid5(_FILL_NS, "<trade id>:entry|exit")``), hashed the way
    ``uuid.uuid5`` does (SHA-1 of the namespace and the name, version and variant bits set) but
    formatted all at once instead of through one UUID object each.
    """
    if n <= 0:
        return []
    prefix = _FILL_NS.bytes
    names = (
        f"{trade_id(backtest_id, seq)}:{end}" for seq in range(first, first + n) for end in ("entry", "exit")
    )
    digests = b"".join(
        [hashlib.sha1(prefix + name.encode(), usedforsecurity=False).digest()[:16] for name in names]
    )
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.tobytes().hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, len(h), 32)
    ]


def money_json(value: float) -> str:
    """Return an engine float as the wire writes a stored money value: ``trade_store.money``'s
    Decimal as the JSON provider encodes it (`jsonprovider.decimal_json`)."""
    return decimal_json(money(value))


_MONEY_WIRE = ("entry_price", "exit_price", "quantity", "pnl")  # the round trip's money a fill shows


def fills_wire(backtest_id: str, trades: np.ndarray, symbol: str, limit: int | None = None) -> str:
    """Return the JSON text of ``TradeSchema`` of the first ``limit`` fills (all by default)
    of round trips ``trades`` (round trips 0, 1, ... of the backtest): the bytes the provider
    writes for ``fills_of``' fills, without a Fill, a dict or a Decimal per value on the way."""
    n = len(trades) if limit is None else min(len(trades), -(-limit // 2))
    if n == 0 or limit == 0:
        return "[]"
    head = trades[:n]
    ids = fill_ids(backtest_id, 0, n)
    sym = json.dumps(symbol, ensure_ascii=False)
    money_of = {name: [money_json(v) for v in head[name].tolist()] for name in _MONEY_WIRE}
    out: list[str] = []
    for i, (side, entry_time, exit_time) in enumerate(
        zip(head["side"].tolist(), head["entry_time"].tolist(), head["exit_time"].tolist(), strict=True)
    ):
        opening, closing = ('"buy"', '"sell"') if side > 0 else ('"sell"', '"buy"')
        quantity = money_of["quantity"][i]
        out.append(
            f'{{"id":"{ids[2 * i]}","symbol":{sym},"side":{opening},"price":{money_of["entry_price"][i]},'
            f'"quantity":{quantity},"pnl":null,"timestamp":{entry_time}}}'
        )
        out.append(
            f'{{"id":"{ids[2 * i + 1]}","symbol":{sym},"side":{closing},"price":{money_of["exit_price"][i]},'
            f'"quantity":{quantity},"pnl":{money_of["pnl"][i]},"timestamp":{exit_time}}}'
        )
    return "[" + ",".join(out[:limit]) + "]"


@dataclass(frozen=True)
class EquityPoint:
    """One point of the equity curve (quote currency)."""

    time: int
    value: float


def equity_of(text: str | None) -> list[EquityPoint]:
    """Return a stored equity curve (``[{"time", "value"}, ...]``) as points."""
    return [EquityPoint(p["time"], p["value"]) for p in json.loads(text or "[]")]


_NO_ROWS = RawJSON("[]")


@dataclass(frozen=True)
class BacktestView:
    """A backtest: its recorded inputs, its job's status and (detail/latest views) its result.

    ``status`` is the job's (PENDING, RUNNING, SUCCESS, FAILED, CANCELLED); ``error`` is
    ``{reason, message}`` for a failed or cancelled run; ``started_at`` is the submit time while
    queued; ``finished_at`` is when the run ended (completed, failed or cancelled).
    """

    id: str
    owner_id: str
    name: str
    symbol: str
    status: str
    started_at: int
    finished_at: int | None
    job_id: str
    strategy_id: str | None
    strategy_version_id: str | None
    kind: str
    params: dict[str, Any]
    interval: str
    start: int
    end: int
    provider: str
    initial_capital: Decimal
    fee_bps: Decimal
    slippage_bps: Decimal
    allow_short: bool
    engine_version: str
    bars_count: int | None
    created_at: int
    error: dict[str, str | None] | None
    summary: Summary | None
    metrics: dict[str, Any] | None
    kline: RawJSON  # the stored candles as sent (``KlineBarSchema`` of each); [] without the result
    trades: RawJSON  # the first fills as sent (``TradeSchema`` of each, ``fills_wire``)
    trades_total: int | None  # fills of the whole result (``trades`` may hold only the first ones)
    equity: RawJSON  # the stored curve as sent (``BacktestEquityPointSchema`` of each point)
    guardrails: dict[str, Any] | None = None  # detail/latest views: stored with the result
    walk_forward: dict[str, Any] | None = None
    fingerprint: Fingerprint | None = None  # what the stored result was computed from


def backtest_view(
    row: Backtest,
    trades: np.ndarray | None = None,
    *,
    trades_total: int | None = None,
    trades_max: int | None = None,
) -> BacktestView:
    """Return the view of a row; with its ``trades`` the result (kline, fills, equity) is included.

    ``trades`` are the first round trips (records, from the first on); at most ``trades_max`` of
    their fills are kept, and ``trades_total`` is the number of fills of the whole result
    (default: those kept).
    """
    job = row.job
    full = trades is not None
    fills = _NO_ROWS
    if trades is not None:
        fills = RawJSON(fills_wire(row.id, trades, row.symbol, trades_max))
    return BacktestView(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        symbol=row.symbol,
        status=job.status,
        started_at=int(job.started_at or row.created_at),
        finished_at=job.finished_at,
        job_id=row.job_id,
        strategy_id=row.strategy_id,
        strategy_version_id=row.strategy_version_id,
        kind=row.kind,
        params=dict(row.params),
        interval=row.interval,
        start=row.start_ms,
        end=row.end_ms,
        provider=row.provider,
        initial_capital=row.initial_capital,
        fee_bps=row.fee_bps,
        slippage_bps=row.slippage_bps,
        allow_short=row.allow_short,
        engine_version=row.engine_version,
        bars_count=row.bars_count,
        created_at=row.created_at,
        error={"reason": job.error_reason, "message": job.error} if job.error_reason else None,
        summary=summary_of(row.metrics),
        metrics=row.metrics,
        kline=RawJSON(row.kline) if full and row.kline is not None else _NO_ROWS,
        trades=fills,
        trades_total=(trades_total if trades_total is not None else _kept(trades, trades_max))
        if full
        else None,
        equity=RawJSON(row.equity_curve) if full and row.equity_curve is not None else _NO_ROWS,
        guardrails=row.guardrails if full else None,
        walk_forward=row.walk_forward if full else None,
        fingerprint=fingerprint_of(row),
    )


def _kept(trades: np.ndarray | None, limit: int | None) -> int:
    n = 0 if trades is None else 2 * len(trades)
    return n if limit is None else min(n, limit)


@dataclass(frozen=True)
class Kpis:
    """The verified KPIs of a completed backtest with what is needed to reproduce them."""

    backtest_id: str
    strategy_id: str | None
    strategy_version_id: str | None
    symbol: str
    interval: str
    kind: str
    params: dict[str, Any]
    start: int
    end: int
    engine_version: str
    finished_at: int | None
    summary: Summary | None


def kpis_of(row: Backtest) -> Kpis:
    """Return the KPIs of a completed backtest row."""
    return Kpis(
        backtest_id=row.id,
        strategy_id=row.strategy_id,
        strategy_version_id=row.strategy_version_id,
        symbol=row.symbol,
        interval=row.interval,
        kind=row.kind,
        params=dict(row.params),
        start=row.start_ms,
        end=row.end_ms,
        engine_version=row.engine_version,
        finished_at=row.finished_at,
        summary=summary_of(row.metrics),
    )
