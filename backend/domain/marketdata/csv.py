"""Parse OHLCV CSV text into bars, all or nothing.

Columns are found by header name (case-insensitive): time/date/timestamp/datetime, open/o,
high/h, low/l, close/c and optionally volume/vol/v (missing volume reads as 0). A file without a
header is read positionally as time, open, high, low, close[, volume]. Times may be Unix seconds,
Unix milliseconds, ISO 8601 (with or without zone; no zone means UTC), ``YYYY-MM-DD HH:MM:SS`` or
``YYYY-MM-DD`` (00:00 UTC). Output times are bar open times in Unix ms, ascending, unique.
Any bad row fails the whole parse with every problem listed by file line number (capped).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from backend.domain.bars import Bars
from backend.domain.marketdata.base import SymbolInfo, UnknownSymbolError
from backend.domain.marketdata.intervals import interval_ms, is_aligned

MAX_REPORTED_ERRORS = 50
_ALIASES = {
    "time": ("time", "date", "timestamp", "datetime"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v"),
}
_REQUIRED = ("time", "open", "high", "low", "close")
# Plausible epochs: 1973..2286 in seconds, and the same span in milliseconds.
_SECONDS_RANGE = (1e8, 1e10)
_MS_RANGE = (1e11, 1e13)


@dataclass(frozen=True)
class RowError:
    """One problem in the file: its 1-based line number and a human sentence."""

    line: int
    message: str


@dataclass
class CSVFormatError(ValueError):
    """Raise when CSV text cannot be imported; ``errors`` holds at most the cap, ``total`` all."""

    message: str
    errors: list[RowError] = field(default_factory=list)
    total: int = 0

    def __str__(self) -> str:
        return self.message


def parse_time_ms(text: str) -> int:
    """Parse one time cell into Unix ms (UTC); raise ValueError when no format fits."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        return _parse_iso_ms(value)
    if not math.isfinite(number):
        raise ValueError(f"time {value!r} is not a timestamp")
    if _SECONDS_RANGE[0] <= number < _SECONDS_RANGE[1]:
        return round(number * 1000)
    if _MS_RANGE[0] <= number < _MS_RANGE[1]:
        return round(number)
    raise ValueError(f"time {value!r} is neither Unix seconds nor Unix milliseconds")


def _parse_iso_ms(value: str) -> int:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"time {value!r} is not a recognised date/time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _find_columns(header: list[str]) -> dict[str, int] | None:
    """Map field -> column index from a header row; None when the row is not a header."""
    names = [cell.strip().lower() for cell in header]
    found = {}
    for name, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[name] = names.index(alias)
                break
    return found if found else None


def _sniff_delimiter(first_line: str) -> str:
    return max((",", ";", "\t"), key=first_line.count)


Row = tuple[int, float, float, float, float, float]  # (time ms, open, high, low, close, volume)
LineRow = tuple[int, float, float, float, float, float, int]  # a Row and its line number


class _LineReader(Protocol):
    """What ``_read_rows`` needs of a ``csv.reader``: rows of cells and the current line."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...


def _parse_row(cells: list[str], columns: dict[str, int]) -> tuple[Row, list[str]]:
    """Return the parsed row and the list of problems found in it."""
    problems: list[str] = []
    values: dict[str, float] = {}
    t_ms = 0
    for name, index in columns.items():
        cell = cells[index].strip() if index < len(cells) else ""
        if cell == "":
            problems.append(f"{name} is empty")
        elif name == "time":
            try:
                t_ms = parse_time_ms(cell)
            except ValueError as exc:
                problems.append(str(exc))
        else:
            try:
                values[name] = float(cell)
                if not math.isfinite(values[name]):
                    raise ValueError
            except ValueError:
                problems.append(f"{name} {cell!r} is not a number")
    if not problems:
        problems += _check_ohlc(values)
    o, h, lo, c, v = (values.get(k, 0.0) for k in ("open", "high", "low", "close", "volume"))
    return (t_ms, o, h, lo, c, v), problems


def _check_ohlc(v: dict[str, float]) -> list[str]:
    problems: list[str] = []
    if min(v["open"], v["high"], v["low"], v["close"]) <= 0:
        problems.append("prices must be positive")
    if v["high"] < max(v["open"], v["close"], v["low"]):
        problems.append("high is below open, low or close")
    if v["low"] > min(v["open"], v["close"]):
        problems.append("low is above open or close")
    if v.get("volume", 0.0) < 0:
        problems.append("volume is negative")
    return problems


class _Report:
    """Collects row errors up to the cap while counting them all."""

    def __init__(self, cap: int) -> None:
        self.cap, self.total = cap, 0
        self.errors: list[RowError] = []

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.errors) < self.cap:
            self.errors.append(RowError(line, message))

    def raise_if_any(self) -> None:
        if self.total:
            shown = "; ".join(f"line {e.line}: {e.message}" for e in self.errors[:3])
            more = f" (and {self.total - 3} more)" if self.total > 3 else ""
            raise CSVFormatError(f"{self.total} bad row(s): {shown}{more}", self.errors, self.total)


def parse_ohlcv_csv(text: str, *, interval: str | None = None, max_errors: int = MAX_REPORTED_ERRORS) -> Bars:
    """Parse OHLCV CSV text into ascending bars (Unix ms open times); raise CSVFormatError.

    With ``interval``, times must sit on that interval's grid (e.g. 1h bars at hh:00 UTC).
    Exact duplicate rows collapse into one; the same time with different values is an error.
    """
    if interval is not None:
        interval_ms(interval)
    lines = text.lstrip("\ufeff").splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise CSVFormatError("the file is empty")
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=_sniff_delimiter(first))
    report = _Report(max_errors)
    rows = _read_rows(reader, interval, report=report)
    if not rows and not report.total:
        raise CSVFormatError("the file has a header but no data rows")
    kept = _dedupe(rows, report)
    report.raise_if_any()
    return Bars.from_arrays(*zip(*(r[:6] for r in kept), strict=True))


def _read_rows(reader: _LineReader, interval: str | None, *, report: _Report) -> list[LineRow]:
    """Return the good data rows as ``(time, o, h, l, c, v, line)``; report the bad ones."""
    columns = None
    rows: list[LineRow] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _find_columns(cells)
            missing = [name for name in _REQUIRED if columns is not None and name not in columns]
            if missing:
                raise CSVFormatError(f"line {reader.line_num}: header has no column for {', '.join(missing)}")
            if columns is not None:
                continue
            # No header: positional columns; a 5-column file has no volume column.
            names = ("time", "open", "high", "low", "close", "volume")
            columns = dict(zip(names, range(max(5, len(cells))), strict=False))
        row, problems = _parse_row(cells, columns)
        if not problems and interval is not None and not is_aligned(row[0], interval):
            problems.append(f"time {cells[columns['time']].strip()!r} is not on the {interval} bar grid")
        for problem in problems:
            report.add(reader.line_num, problem)
        if not problems:
            rows.append((*row, reader.line_num))
    return rows


def _dedupe(rows: list[LineRow], report: _Report) -> list[LineRow]:
    """Sort rows by time, collapse identical duplicates, report conflicting ones."""
    rows.sort(key=lambda r: (r[0], r[-1]))
    kept = rows[:1]
    for row in rows[1:]:
        prev = kept[-1]
        if row[0] != prev[0]:
            kept.append(row)
        elif row[1:6] != prev[1:6]:
            report.add(row[-1], f"time duplicates line {prev[-1]} with different values")
    return kept


class CSVProvider:
    """Serve bars parsed from CSV text, one (symbol, interval) series per text."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], Bars] = {}

    def add(self, symbol: str, interval: str, text: str) -> Bars:
        """Parse ``text`` as ``symbol``'s ``interval`` bars and serve them; return the bars."""
        bars = parse_ohlcv_csv(text, interval=interval)
        self._series[(symbol, interval)] = bars
        return bars

    def symbols(self) -> list[SymbolInfo]:
        """Return one generic description per loaded symbol."""
        names = sorted({symbol for symbol, _ in self._series})
        return [SymbolInfo(name, f"{name} (imported)", "stock") for name in names]

    def get_bars(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Bars:
        """Return loaded bars with open time in ``[start_ms, end_ms)`` (Unix ms), ascending."""
        try:
            return self._series[(symbol, interval)].between(start_ms, end_ms)
        except KeyError:
            raise UnknownSymbolError(f"no {interval} bars loaded for {symbol!r}") from None
