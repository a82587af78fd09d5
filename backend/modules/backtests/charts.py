"""Pictures of results, drawn server-side with matplotlib (Agg and SVG canvases, never a display).

``get_chart`` serves GET /api/backtests/{id}/chart.svg|.png: the equity curve with its trade marks
(buy fills as up triangles, sell fills as down triangles) above the drawdown. A completed result
never changes, so a picture is identified by (backtest, finish time, format, size, CHART_VERSION):
that is its ETag (a matching If-None-Match is answered before anything is drawn or read) and its
key in Redis, where drawn pictures are kept CACHE_TTL_S (Redis down: drawn every time).

``heatmap_png`` / ``heatmap_svg`` draw a matrix over two parameters for the sweeps.
matplotlib is imported on first use, so the API does not pay its import at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.core import jobs
from backend.core.db import get_owned_or_404
from backend.core.redis import cached_call, rkey
from backend.modules.backtests import trade_store
from backend.modules.backtests.errors import BacktestNotFound, NotCompleted
from backend.modules.backtests.models import Backtest
from backend.modules.backtests.read_models import equity_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

CHART_VERSION = "1"  # bump when the drawing changes: it is part of the ETag and the cache key
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
WIDTH_MIN, WIDTH_MAX, WIDTH_DEFAULT = 320, 2400, 960  # pixels
HEIGHT_MIN, HEIGHT_MAX, HEIGHT_DEFAULT = 240, 1600, 540
DPI = 100
MAX_MARKS = 2000  # fills marked on the curve; more are thinned evenly (they would be a smear anyway)
CACHE_TTL_S = 86_400
CACHE_CONTROL = "private, max-age=31536000, immutable"  # owner-only; a completed result never changes
BUY, SELL = "#16a34a", "#dc2626"


@dataclass(frozen=True)
class Chart:
    """A drawn picture (``data`` None when the caller's If-None-Match already names its ETag)."""

    data: bytes | None
    content_type: str
    etag: str


def chart_etag(row: Backtest, fmt: str, width: int, height: int) -> str:
    """Return the ETag of a backtest's picture in ``fmt`` at ``width`` x ``height`` pixels."""
    key = f"{CHART_VERSION}:{row.id}:{row.finished_at}:{fmt}:{width}x{height}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def get_chart(
    *,
    actor_id: str,
    backtest_id: str,
    fmt: str,
    width: int = WIDTH_DEFAULT,
    height: int = HEIGHT_DEFAULT,
    etags: Container[str] = (),
) -> Chart:
    """Return the picture of one of the caller's completed backtests (404 for others', 409 before)."""
    row = get_owned_or_404(Backtest, backtest_id, actor_id=actor_id, error=BacktestNotFound)
    if row.job.status != jobs.SUCCESS:
        raise NotCompleted()
    etag = chart_etag(row, fmt, width, height)
    if etag in etags:
        return Chart(data=None, content_type=FORMATS[fmt], etag=etag)
    key = rkey("charts", row.id, etag)
    cached = cached_call(lambda r: r.get(key), None)
    if cached is not None:
        return Chart(data=base64.b64decode(cached), content_type=FORMATS[fmt], etag=etag)
    data = draw_backtest(row, _fills(row.id), fmt=fmt, width=width, height=height)
    cached_call(lambda r: r.set(key, base64.b64encode(data).decode(), ex=CACHE_TTL_S), None)
    return Chart(data=data, content_type=FORMATS[fmt], etag=etag)


def _fills(backtest_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the times (Unix ms) and sides (+1 buy, -1 sell) of a backtest's fills, in time order."""
    trades, _ = trade_store.read(backtest_id)
    times = np.column_stack((trades["entry_time"], trades["exit_time"])).ravel()
    opening = np.where(trades["side"] > 0, 1, -1)
    sides = np.column_stack((opening, -opening)).ravel()
    order = np.argsort(times, kind="stable")
    return times[order], sides[order].astype(np.int8)


# --- drawing (pure: arrays in, bytes out) ----------------------------------------------------------


def _figure(width: int, height: int) -> Figure:
    """Return an empty figure of ``width`` x ``height`` pixels on a non-interactive canvas."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "qyquant"  # stable element ids: the same input, the same SVG
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _encode(fig: Figure, fmt: str) -> bytes:
    """Return the figure as PNG or SVG bytes (no timestamps in the file, so output is repeatable)."""
    buf = io.BytesIO()
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata)
    return buf.getvalue()


def _marks(ax: Axes, time: np.ndarray, value: np.ndarray, fills: Any) -> None:
    """Mark fills on the curve (at the curve's value at their time), thinned to MAX_MARKS."""
    times, sides = fills
    if len(times) > MAX_MARKS:
        keep = np.linspace(0, len(times) - 1, MAX_MARKS).round().astype(np.int64)
        times, sides = times[keep], sides[keep]
    at = np.interp(times, time, value)
    stamps = times.astype("datetime64[ms]")
    for side, marker, color in ((1, "^", BUY), (-1, "v", SELL)):
        mask = sides == side
        ax.scatter(stamps[mask], at[mask], marker=marker, s=18, color=color, zorder=3, linewidths=0)


def _headline(metrics: dict[str, Any]) -> str:
    """Return the KPIs shown above the curve ("Return 12.3 %  Max DD -4.5 %  Trades 17")."""
    parts = []
    for label, key, unit in (("Return", "totalReturn", " %"), ("Max DD", "maxDrawdown", " %")):
        value = metrics.get(key)
        if isinstance(value, int | float):
            parts.append(f"{label} {value:.2f}{unit}")
    if isinstance(metrics.get("totalTrades"), int):
        parts.append(f"Trades {metrics['totalTrades']}")
    return "   ".join(parts)


def draw_backtest(row: Backtest, fills: Any, *, fmt: str, width: int, height: int) -> bytes:
    """Draw a result's equity curve with its fills and the drawdown below; return PNG or SVG bytes."""
    points = equity_of(row.equity_curve)
    time = np.array([p.time for p in points], dtype=np.int64)
    value = np.array([p.value for p in points], dtype=np.float64)
    when = time.astype("datetime64[ms]")
    fig = _figure(width, height)
    ax_eq, ax_dd = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    ax_eq.plot(when, value, color="#2563eb", linewidth=1.2)
    if len(time):
        _marks(ax_eq, time, value, fills)
        peak = np.maximum.accumulate(value)
        drawdown = np.where(peak > 0, value / np.where(peak > 0, peak, 1.0) - 1.0, 0.0) * 100.0
        ax_dd.fill_between(when, drawdown, 0.0, color=SELL, alpha=0.35, linewidth=0)
    ax_eq.set_title(row.name, loc="left", fontsize=10, parse_math=False)
    ax_eq.set_title(_headline(row.metrics or {}), loc="right", fontsize=9, color="#555555")
    ax_eq.set_ylabel("Equity")
    ax_dd.set_ylabel("Drawdown %")
    for ax in (ax_eq, ax_dd):
        ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _encode(fig, fmt)


def heatmap(
    matrix: Sequence[Sequence[float | None]] | np.ndarray,
    x_values: Sequence[Any],
    y_values: Sequence[Any],
    *,
    fmt: str = "png",
    x_label: str = "",
    y_label: str = "",
    metric: str = "",
    width: int = 800,
    height: int = 600,
) -> bytes:
    """Draw ``matrix[y][x]`` as a colour grid (None/NaN cells blank) with a colour bar; return bytes.

    For sweeps: ``x_values``/``y_values`` label the columns/rows; sizes are pixels (the caller
    bounds them, e.g. with WIDTH_MIN..WIDTH_MAX); ``fmt`` is ``png`` or ``svg``.
    """
    grid = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=np.float64)
    if grid.shape != (len(y_values), len(x_values)):
        raise ValueError(f"matrix is {grid.shape}, labels are {len(y_values)} x {len(x_values)}")
    fig = _figure(width, height)
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(x_values)), [str(v) for v in x_values])
    ax.set_yticks(range(len(y_values)), [str(v) for v in y_values])
    ax.set_xlabel(x_label, parse_math=False)
    ax.set_ylabel(y_label, parse_math=False)
    fig.colorbar(image, ax=ax).set_label(metric, parse_math=False)
    fig.tight_layout()
    return _encode(fig, fmt)


def heatmap_png(matrix: Any, x_values: Sequence[Any], y_values: Sequence[Any], **options: Any) -> bytes:
    """Draw a heatmap as PNG (see ``heatmap``)."""
    return heatmap(matrix, x_values, y_values, fmt="png", **options)


def heatmap_svg(matrix: Any, x_values: Sequence[Any], y_values: Sequence[Any], **options: Any) -> bytes:
    """Draw a heatmap as SVG (see ``heatmap``)."""
    return heatmap(matrix, x_values, y_values, fmt="svg", **options)
