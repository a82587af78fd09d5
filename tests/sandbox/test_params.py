"""`sandbox.params`: the PARAMS a user's code reports are validated in the API, never trusted."""

from __future__ import annotations

import pytest

from backend.sandbox.errors import StrategyOutputInvalid
from backend.sandbox.params import parse_descriptor


@pytest.mark.parametrize("key", ["default", "min", "max"])
def test_a_number_too_large_for_a_float_is_refused_not_a_crash(key):
    entry = {"type": "int", "default": 10, key: 10**400}  # Python code may declare any int
    with pytest.raises(StrategyOutputInvalid, match=f"{key} must be a finite number"):
        parse_descriptor({"fast": entry})


def test_a_valid_descriptor_is_parsed():
    specs = parse_descriptor({"fast": {"type": "int", "default": 10, "min": 2, "max": 200}})
    assert (specs["fast"].default, specs["fast"].min, specs["fast"].max) == (10, 2, 200)
