"""core.schemas: the camelCase wire rule, and the shared Id and Symbol fields."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import marshmallow as ma
import pytest

import backend.modules
from backend.core.schemas import CamelSchema, Id, Symbol, camelize


class _Thing(CamelSchema):
    created_at = ma.fields.Integer(required=True)
    job_id = ma.fields.String(data_key="job_id")
    name = ma.fields.String()


@pytest.mark.parametrize(
    "name, wire",
    [
        ("created_at", "createdAt"),
        ("realised_pnl", "realisedPnl"),
        ("strategy_version_id", "strategyVersionId"),
        ("name", "name"),
    ],
)
def test_camelize(name, wire):
    assert camelize(name) == wire


def test_camel_schema_loads_dumps_and_reports_errors_by_the_camel_case_name():
    assert _Thing().load({"createdAt": 1, "job_id": "j", "name": "n"}) == {
        "created_at": 1,
        "job_id": "j",
        "name": "n",
    }
    assert _Thing().dump({"created_at": 1, "job_id": "j"}) == {"createdAt": 1, "job_id": "j"}
    with pytest.raises(ma.ValidationError) as err:
        _Thing().load({"created_at": 1})
    assert err.value.messages == {
        "createdAt": ["Missing data for required field."],
        "created_at": ["Unknown field."],
    }


def _module_schemas() -> list[type[ma.Schema]]:
    found = []
    for info in pkgutil.iter_modules(backend.modules.__path__):
        try:
            module = importlib.import_module(f"backend.modules.{info.name}.schemas")
        except ModuleNotFoundError:
            continue
        found += [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, ma.Schema) and obj.__module__ == module.__name__
        ]
    return found


def test_no_schema_spells_a_camel_case_name_by_hand():
    """Wire names come from CamelSchema: no `attribute=` mapping of a name to its own camelCase."""
    schemas = _module_schemas()
    assert len(schemas) > 50
    for schema in schemas:
        for name, field in schema().fields.items():
            wire = field.data_key or name
            assert not (field.attribute and camelize(field.attribute) == wire), (schema.__name__, name)
            if issubclass(schema, CamelSchema):
                assert name == name.lower(), f"{schema.__name__}.{name}: declare the snake_case name"


class _Target(ma.Schema):
    id = Id()
    file_id = Id(validate=ma.validate.Length(equal=36))
    symbol = Symbol()
    ticker = Symbol(max_length=64)


@pytest.mark.parametrize("value", ["0b7c5c6e-4d3a-4e8f-9a51-0c2d1e4f5a6b", "bt-1", "b1", "x" * 36])
def test_id_accepts_what_can_be_an_id(value):
    assert _Target().load({"id": value}) == {"id": value}


@pytest.mark.parametrize("value", ["", "x" * 37, "a b", "../etc", "ü"])
def test_id_rejects_what_can_never_be_an_id(value):
    with pytest.raises(ma.ValidationError) as err:
        _Target().load({"id": value})
    assert err.value.messages == {"id": ["Must be an id."]}


def test_id_takes_extra_rules():
    with pytest.raises(ma.ValidationError) as err:
        _Target().load({"file_id": "short"})
    assert err.value.messages == {"file_id": ["Length must be 36."]}


@pytest.mark.parametrize("value", ["BTCUSDT", "acme", "BINANCE:BTCUSDT", "BTC/USDT", "BRK.B", "X", "A" * 32])
def test_symbol_accepts_tickers(value):
    assert _Target().load({"symbol": value}) == {"symbol": value}


@pytest.mark.parametrize("value", ["", "A" * 33, "BAD SYMBOL!", "A;B"])
def test_symbol_rejects_anything_else(value):
    with pytest.raises(ma.ValidationError) as err:
        _Target().load({"symbol": value})
    assert err.value.messages == {"symbol": ["1-32 letters, digits or . _ : / -."]}


def test_symbol_max_length_is_a_parameter():
    long = "EXCHANGE:" + "A" * 32
    assert _Target().load({"ticker": long}) == {"ticker": long}
    with pytest.raises(ma.ValidationError):
        _Target().load({"ticker": "A" * 65})


def test_a_camel_case_request_body_reports_errors_by_its_wire_name(client, user):
    resp = client.put(
        "/api/users/me/api-keys", headers=user.headers, json={"exchange": "okx", "api_key": "k" * 8}
    )
    assert resp.status_code == 422
    assert resp.get_json()["details"]["fields"] == {
        "apiKey": ["Missing data for required field."],
        "api_key": ["Unknown field."],
    }
