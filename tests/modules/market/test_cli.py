from backend.modules.market import service
from tests.fixtures.market import ACME_CSV, DAY, MARKET_NOW_MS

H = 3_600_000


def test_import_csv_command(app, tmp_path):
    path = tmp_path / "acme.csv"
    path.write_text(ACME_CSV)
    result = app.test_cli_runner().invoke(
        args=["market", "import-csv", str(path), "--symbol", "ACME", "--interval", "1h"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"imported 5 ACME 1h candles ({DAY - 2 * H} .. {DAY + 2 * H} ms)"
    bars = service.load_bars(symbol="ACME", interval="1h", start_ms=DAY, end_ms=DAY + H, provider="db")
    assert bars.close.tolist() == [105.0]


def test_import_csv_command_reports_bad_lines_and_fails(app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,open,high,low,close\n2025-11-15T00:00:00Z,1,2,1,1\n2025-11-15T00:30:00Z,1,2,1,1\n")
    result = app.test_cli_runner().invoke(
        args=["market", "import-csv", str(path), "--symbol", "ACME", "--interval", "1h"]
    )
    assert result.exit_code == 1
    assert "line 3: time '2025-11-15T00:30:00Z' is not on the 1h bar grid" in result.output
    assert "The CSV cannot be imported" in result.output
    assert [s.info.symbol for s in service.list_symbols()].count("ACME") == 0


def test_import_csv_command_argument_errors(app, tmp_path):
    runner = app.test_cli_runner()
    missing = runner.invoke(
        args=["market", "import-csv", str(tmp_path / "none.csv"), "--symbol", "A", "--interval", "1h"]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output
    path = tmp_path / "a.csv"
    path.write_text(ACME_CSV)
    bad_interval = runner.invoke(
        args=["market", "import-csv", str(path), "--symbol", "A", "--interval", "2h"]
    )
    assert bad_interval.exit_code == 2 and "'2h' is not one of" in bad_interval.output


def test_seed_mock_command(app, market_now):
    result = app.test_cli_runner().invoke(
        args=["market", "seed-mock", "--symbol", "xauusd", "--interval", "4h", "--days", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "seeded 12 XAUUSD 4h mock candles"
    bars = service.load_bars(symbol="XAUUSD", interval="4h", start_ms=0, end_ms=MARKET_NOW_MS, provider="db")
    assert bars.time[-1] == DAY - 4 * H  # the 00:00 4h bar is still open at 03:30
    unknown = app.test_cli_runner().invoke(args=["market", "seed-mock", "--symbol", "NOPE"])
    assert unknown.exit_code == 1 and "no symbol 'NOPE'" in unknown.output
