import numpy as np
import pytest

from backend.domain.marketdata.base import UnknownSymbolError
from backend.domain.marketdata.csv import CSVFormatError, CSVProvider, parse_ohlcv_csv, parse_time_ms

JAN2 = 1_704_153_600_000  # 2024-01-02T00:00:00Z
H = 3_600_000


@pytest.mark.parametrize(
    ("cell", "ms"),
    [
        ("1704153600", JAN2),  # Unix seconds
        ("1704153600.5", JAN2 + 500),  # fractional seconds
        ("1704153600000", JAN2),  # Unix ms
        ("2024-01-02", JAN2),  # date only: 00:00 UTC
        ("2024-01-02 03:00:00", JAN2 + 3 * H),  # no zone: UTC
        ("2024-01-02T03:00:00", JAN2 + 3 * H),
        ("2024-01-02T03:00:00Z", JAN2 + 3 * H),
        ("2024-01-02T03:00:00+02:00", JAN2 + 1 * H),  # 03:00 at +02:00 is 01:00 UTC
        ("2024-01-02T03:00:00.250-05:00", JAN2 + 8 * H + 250),
        (" 2024-01-02 ", JAN2),
    ],
)
def test_time_formats(cell, ms):
    assert parse_time_ms(cell) == ms


@pytest.mark.parametrize("cell", ["yesterday", "12345", "1e20", "nan", "2024-13-01", "02/01/2024"])
def test_unrecognised_times(cell):
    with pytest.raises(ValueError):
        parse_time_ms(cell)


def test_header_aliases_case_insensitive_and_any_column_order():
    text = "Vol,C,L,H,O,DateTime\n10,1.5,0.5,2,1,2024-01-02T00:00:00Z\n"
    bars = parse_ohlcv_csv(text)
    assert bars.time.tolist() == [JAN2]
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]) == (1, 2, 0.5, 1.5, 10)


def test_semicolon_file_without_volume_and_with_a_bom():
    bars = parse_ohlcv_csv("\ufeffTimestamp;Open;High;Low;Close\n1704153600000;1;2;0.5;1.5\n")
    assert bars.volume.tolist() == [0.0]


def test_headerless_file_is_read_positionally():
    bars = parse_ohlcv_csv("1704153600,1,2,0.5,1.5,7\n1704157200,1.5,3,1,2,8\n")
    assert bars.time.tolist() == [JAN2, JAN2 + H]
    assert bars.close.tolist() == [1.5, 2.0]
    assert bars.volume.tolist() == [7.0, 8.0]


def test_rows_are_sorted_and_gaps_are_kept():
    text = (
        "time,open,high,low,close,volume\n"
        "2024-01-02 05:00:00,3,3,3,3,1\n2024-01-02 00:00:00,1,1,1,1,1\n2024-01-02 01:00:00,2,2,2,2,1\n"
    )
    bars = parse_ohlcv_csv(text, interval="1h")
    assert bars.time.tolist() == [JAN2, JAN2 + H, JAN2 + 5 * H]  # 02:00-04:00 missing, not filled
    assert bars.close.tolist() == [1, 2, 3]


def test_identical_duplicate_rows_collapse():
    text = "time,open,high,low,close,volume\n1704153600,1,2,0.5,1.5,10\n1704153600,1,2,0.5,1.5,10\n"
    assert len(parse_ohlcv_csv(text)) == 1


def test_conflicting_duplicate_times_are_reported():
    text = (
        "time,open,high,low,close\n1704153600,1,2,0.5,1.5\n1704157200,1,2,0.5,1.5\n"
        "1704153600000,1,2,0.5,1.6\n"
    )
    with pytest.raises(CSVFormatError) as err:
        parse_ohlcv_csv(text)
    assert [(e.line, e.message) for e in err.value.errors] == [
        (4, "time duplicates line 2 with different values")
    ]


def test_every_bad_row_is_reported_with_its_file_line_and_nothing_is_returned():
    text = (
        "date,open,high,low,close,volume\n"  # line 1
        "2024-01-01,1,2,0.5,1.5,10\n"  # 2 ok
        "\n"  # 3 blank, skipped but counted
        "2024-01-03,1,abc,0.5,1.5,10\n"  # 4 high not a number
        "2024-01-04,1,2,0.5,,10\n"  # 5 close empty
        "not a date,1,2,0.5,1.5,10\n"  # 6 bad time
        "2024-01-06,1,0.8,0.5,1.5,10\n"  # 7 high below open/close
        "2024-01-07,1,2,1.2,1.5,10\n"  # 8 low above open
        "2024-01-08,1,2,0.5,1.5,-1\n"  # 9 negative volume
        "2024-01-09,0,2,0,1.5,10\n"  # 10 zero price
    )
    with pytest.raises(CSVFormatError) as err:
        parse_ohlcv_csv(text)
    assert [e.line for e in err.value.errors] == [4, 5, 6, 7, 8, 9, 10]
    assert err.value.total == 7
    messages = dict((e.line, e.message) for e in err.value.errors)
    assert messages[4] == "high 'abc' is not a number"
    assert messages[5] == "close is empty"
    assert messages[7] == "high is below open, low or close"
    assert messages[8] == "low is above open or close"
    assert messages[9] == "volume is negative"
    assert messages[10] == "prices must be positive"
    assert str(err.value).startswith("7 bad row(s): line 4:")


def test_reported_errors_are_capped_but_counted():
    text = "time,open,high,low,close\n" + "".join(f"x{i},1,1,1,1\n" for i in range(80))
    with pytest.raises(CSVFormatError) as err:
        parse_ohlcv_csv(text, max_errors=5)
    assert err.value.total == 80
    assert [e.line for e in err.value.errors] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("\n  \n", "the file is empty"),
        ("time,open,high,low,close\n", "the file has a header but no data rows"),
        ("time,open,high,close\n1704153600,1,2,1\n", "line 1: header has no column for low"),
    ],
)
def test_empty_and_incomplete_files(text, message):
    with pytest.raises(CSVFormatError, match=message):
        parse_ohlcv_csv(text)


def test_times_off_the_interval_grid_are_bad_rows():
    text = "time,open,high,low,close\n2024-01-02 00:00:00,1,1,1,1\n2024-01-02 00:30:00,1,1,1,1\n"
    with pytest.raises(CSVFormatError) as err:
        parse_ohlcv_csv(text, interval="1h")
    assert [(e.line, e.message) for e in err.value.errors] == [
        (3, "time '2024-01-02 00:30:00' is not on the 1h bar grid")
    ]
    assert len(parse_ohlcv_csv(text, interval="30m")) == 2


def test_unknown_interval_is_rejected_before_reading():
    with pytest.raises(ValueError, match="unknown interval"):
        parse_ohlcv_csv("time,open,high,low,close\n", interval="2h")


def test_csv_provider_serves_loaded_series_by_range():
    p = CSVProvider()
    p.add(
        "ACME",
        "1h",
        "time,open,high,low,close\n"
        + "".join(f"{1704153600 + k * 3600},{k + 1},{k + 1},{k + 1},{k + 1}\n" for k in range(5)),
    )
    bars = p.get_bars("ACME", "1h", JAN2 + H, JAN2 + 3 * H)
    assert bars.time.tolist() == [JAN2 + H, JAN2 + 2 * H]
    assert np.array_equal(bars.close, [2.0, 3.0])
    assert [s.symbol for s in p.symbols()] == ["ACME"]
    with pytest.raises(UnknownSymbolError):
        p.get_bars("ACME", "1d", 0, JAN2)
