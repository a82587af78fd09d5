"""`flask market ...`: import CSV candles and materialise mock candles."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from backend.core.errors import AppError
from backend.domain.marketdata.intervals import INTERVALS
from backend.modules.market import service

cli = AppGroup("market", help="Market data: import CSV candles, seed mock candles.")


@cli.command("import-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--symbol", required=True, help="Ticker to store the candles under, e.g. XAUUSD.")
@click.option("--interval", required=True, type=click.Choice(INTERVALS), help="Bar interval of the file.")
def import_csv(file: Path, symbol: str, interval: str) -> None:
    """Import an OHLCV CSV file as one symbol's candles (all rows or none)."""
    try:
        result = service.import_candles(
            symbol=symbol, interval=interval, csv_text=file.read_text(encoding="utf-8-sig")
        )
    except AppError as exc:
        for row in exc.details.get("rows", []):
            click.echo(f"  line {row['line']}: {row['message']}", err=True)
        raise click.ClickException(exc.message) from None
    click.echo(
        f"imported {result.rows} {result.symbol} {result.interval} candles "
        f"({result.first_time} .. {result.last_time} ms)"
    )


@cli.command("seed-mock")
@click.option(
    "--symbol", "symbols", multiple=True, help="Symbol to seed (repeatable; default all mock symbols)."
)
@click.option("--interval", default="1h", show_default=True, type=click.Choice(INTERVALS))
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
def seed_mock(symbols: tuple[str, ...], interval: str, days: int) -> None:
    """Write the mock's last DAYS of bars into market_candles (imported rows are kept)."""
    try:
        results = service.seed_mock(symbols=list(symbols) or None, interval=interval, days=days)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    for result in results:
        click.echo(f"seeded {result.rows} {result.symbol} {result.interval} mock candles")
