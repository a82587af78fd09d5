"""Strategy registry, parameter validation, hand-checked signals and the no-look-ahead property."""

import numpy as np
import pytest

from backend.domain.backtest import engine
from backend.domain.backtest import strategies as st
from backend.domain.backtest.types import BacktestConfig
from backend.domain.bars import Bars
from tests.helpers.bars import random_bars


def bars_from_close(close):
    close = np.asarray(close, dtype=float)
    return Bars.from_arrays(np.arange(len(close)) * 60_000, close, close, close, close, np.ones(len(close)))


def test_builtins_registered_with_defaults():
    assert [s.kind for s in st.list_strategies()][:2] == ["rsi", "sma_cross"]
    assert st.validate_params("sma_cross", {}) == {"fast": 10, "slow": 30}
    assert st.validate_params("rsi", {"period": 7}) == {"period": 7, "lower": 30.0, "upper": 70.0}


def test_validate_params_reports_every_bad_field():
    with pytest.raises(st.ParamError) as err:
        st.validate_params("sma_cross", {"fast": 2.5, "slow": 0, "speed": 1})
    assert set(err.value.fields) == {"fast", "slow", "speed"}
    assert err.value.fields["speed"] == ["Unknown parameter."]


def test_cross_field_rules():
    with pytest.raises(st.ParamError) as err:
        st.validate_params("sma_cross", {"fast": 30, "slow": 30})
    assert err.value.fields == {"fast": ["Must be below slow."]}
    with pytest.raises(st.ParamError) as err:
        st.validate_params("rsi", {"lower": 80})
    assert err.value.fields == {"lower": ["Must be below upper."]}


def test_type_checks_reject_bools_and_strings():
    with pytest.raises(st.ParamError) as err:
        st.validate_params("rsi", {"period": True, "lower": "20"})
    assert set(err.value.fields) == {"period", "lower"}
    assert st.validate_params("sma_cross", {"fast": 5.0})["fast"] == 5  # whole floats become ints
    assert st.validate_params("sma_cross", {"fast": np.int64(4)}) == {"fast": 4, "slow": 30}
    with pytest.raises(st.ParamError) as err:
        st.validate_params("rsi", {"lower": float("nan"), "upper": 10**400})
    assert set(err.value.fields) == {"lower", "upper"}


def test_unknown_kind_and_required_param():
    with pytest.raises(st.UnknownStrategyError):
        st.validate_params("nope", {})
    spec = st.StrategySpec(
        "test_required", "t", {"x": st.ParamSpec("int", None, 1, 9)}, signals=lambda bars, p: None
    )
    st.register_strategy(spec)
    with pytest.raises(st.ParamError) as err:
        st.validate_params("test_required", {})
    assert err.value.fields == {"x": ["Missing data for required field."]}


def test_sma_cross_signals_by_hand():
    # fast=1 (the close itself), slow=2: SMA2 = nan, 1.5, 2.5, 2, 1.5, 2.5.
    # close above SMA2 at bars 1, 2, 4, 5 and below at bar 3.
    close = [1, 2, 3, 1, 2, 3]
    s = st.get_strategy("sma_cross").signals(bars_from_close(close), {"fast": 1, "slow": 2})
    # bar 1 is the first bar with both values, so it is never a cross; down at 3, up again at 4
    assert s.entries.tolist() == [False, False, False, False, True, False]
    assert s.exits.tolist() == [False, False, False, True, False, False]
    assert (s.short_entries == s.exits).all()
    assert (s.short_exits == s.entries).all()


def test_rsi_signals_by_hand():
    # period 2: RSI = nan, nan, 50, 83.3, 90 (see test_indicators); lower 60 / upper 85
    s = st.get_strategy("rsi").signals(
        bars_from_close([10, 11, 10, 12, 13]), {"period": 2, "lower": 60, "upper": 85}
    )
    assert s.entries.tolist() == [False, False, True, False, False]
    assert s.exits.tolist() == [False, False, False, False, True]


@pytest.mark.parametrize(
    "kind,params", [("sma_cross", {"fast": 5, "slow": 20}), ("rsi", {"period": 6, "lower": 40, "upper": 60})]
)
def test_changing_future_bars_never_changes_past_signals(kind, params):
    bars = random_bars(400, seed=11)
    spec = st.get_strategy(kind)
    base = spec.signals(bars, params)
    base_target = engine.target_position(base, allow_short=True)
    base_run = engine.run(bars, base, BacktestConfig(allow_short=True, fee_bps=5))
    rng = np.random.default_rng(3)
    for cut in (50, 123, 250, 398):
        other = random_bars(400, seed=int(rng.integers(1e9)))
        cols = [
            np.concatenate((getattr(bars, f)[: cut + 1], getattr(other, f)[cut + 1 :]))
            for f in ("open", "high", "low", "close", "volume")
        ]
        mixed = Bars.from_arrays(bars.time, *cols)
        s = spec.signals(mixed, params)
        for name in ("entries", "exits", "short_entries", "short_exits"):
            assert (getattr(s, name)[: cut + 1] == getattr(base, name)[: cut + 1]).all(), (name, cut)
        assert (engine.target_position(s, allow_short=True)[: cut + 1] == base_target[: cut + 1]).all()
        # equity up to bar `cut` depends only on bars up to `cut` (fills use bar cut+1's open later)
        np.testing.assert_array_equal(
            engine.run(mixed, s, base_run.config).equity[:cut], base_run.equity[:cut]
        )
