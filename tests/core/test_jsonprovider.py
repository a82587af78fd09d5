"""The JSON provider's money rule (backend/core/jsonprovider.py), in its one place."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.core.jsonprovider import decimal_json, decimal_number

VALUES = [
    "0",
    "3",
    "-7",
    "0.3",
    "1.10",
    "123456.7890123456",
    "1e-9",
    "-2.5e-12",
    str(2**53),
    str(2**53 - 1),
    "1e22",
]


@pytest.mark.parametrize("text", VALUES)
def test_a_decimal_is_written_as_the_provider_writes_it(app, text):
    value = Decimal(text)
    assert decimal_json(value) == app.json.dumps(value)
    assert app.json.loads(decimal_json(value)) == decimal_number(value)
    assert float(decimal_number(value)) == float(value)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_decimal_is_refused(app, text):
    with pytest.raises(TypeError):
        decimal_json(Decimal(text))
    with pytest.raises(TypeError):
        app.json.dumps(Decimal(text))
