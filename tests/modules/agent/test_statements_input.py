"""Uploaded statements: CSV field,current,prior tables and JSON documents."""

import json

import pytest

from backend.modules.agent.errors import InvalidTarget
from backend.modules.agent.targets import check_statements, periods_per_year, statements_from_bytes
from tests.domain.audit.test_statements import EXAMPLE


def _csv():
    lines = ["field,current,prior", "marketCap,1500,", "symbol,ACME,"]
    lines += [f"{k},{EXAMPLE['current'][k]},{EXAMPLE['prior'][k]}" for k in EXAMPLE["current"]]
    return ("\ufeff" + "\n".join(lines)).encode()


def test_csv_statements_score_like_the_json_example():
    raw = statements_from_bytes(_csv())
    assert raw["symbol"] == "ACME"
    assert check_statements(raw).score == check_statements(EXAMPLE).score == 90


def test_json_file():
    assert statements_from_bytes(json.dumps(EXAMPLE).encode())["marketCap"] == 1500


@pytest.mark.parametrize("data", [b"{not json", b"a,b,c\n1,2,3", b""])
def test_unreadable_files(data):
    with pytest.raises(InvalidTarget):
        statements_from_bytes(data)


def test_bad_statements_are_422_with_field_details():
    with pytest.raises(InvalidTarget) as err:
        check_statements({"current": {}, "prior": {}})
    assert err.value.details["fields"]["statements"][0].startswith("current is missing")


def test_periods_per_year_from_bar_spacing():
    day = 86_400_000
    assert periods_per_year([0, day, 2 * day]) == 365.0
    assert periods_per_year([0, 3_600_000, 7_200_000]) == 365.0 * 24


@pytest.mark.parametrize(
    "data", [b'field,current,prior\n"rev\renue,1,2', b"field,current,prior\nrev\renue,1,2"]
)
def test_csv_with_stray_carriage_returns_is_a_clean_422(data):
    # Found by fuzzing: csv.Error used to escape as a 500.
    with pytest.raises(InvalidTarget):
        check_statements(statements_from_bytes(data))
