"""Sweep spaces (pure): parsing, bounds, grid and random expansion, the heatmap, the deflated Sharpe."""

from __future__ import annotations

import pytest

from backend.modules.backtests import sweep_space as sp


def _errors(raw, method="grid") -> dict[str, list[str]]:
    with pytest.raises(sp.SpaceError) as caught:
        sp.parse_space(raw, method=method)
    return caught.value.fields


def test_a_grid_is_every_combination_first_parameter_slowest():
    axes = sp.parse_space({"fast": [5, 10], "slow": {"min": 20, "max": 40, "step": 10}}, method="grid")
    assert sp.grid_size(axes) == 6 and sp.run_count(axes, method="grid", samples=None) == 6
    points = sp.expand(axes, method="grid")
    assert points == [
        {"fast": 5, "slow": 20},
        {"fast": 5, "slow": 30},
        {"fast": 5, "slow": 40},
        {"fast": 10, "slow": 20},
        {"fast": 10, "slow": 30},
        {"fast": 10, "slow": 40},
    ]
    assert all(isinstance(p["slow"], int) for p in points)  # whole ranges stay whole numbers


def test_float_steps_are_rounded_and_include_max():
    axes = sp.parse_space({"lower": {"min": 0.1, "max": 0.5, "step": 0.1}}, method="grid")
    assert [p["lower"] for p in sp.expand(axes, method="grid")] == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_duplicate_list_values_run_once():
    axes = sp.parse_space({"fast": [5, 5, 10]}, method="grid")
    assert sp.expand(axes, method="grid") == [{"fast": 5}, {"fast": 10}]


@pytest.mark.parametrize(
    "raw, field",
    [
        ({}, "space"),
        ([5, 10], "space"),
        ({"fast": []}, "space.fast"),
        ({"fast": 5}, "space.fast"),
        ({"fast": [True]}, "space.fast"),
        ({"fast": {"min": 5, "max": 50}}, "space.fast.step"),  # a grid over an unbounded range
        ({"fast": {"min": 5}}, "space.fast.max"),
        ({"fast": {"min": 5, "max": 50, "step": "5"}}, "space.fast.step"),
        ({"fast": {"min": 5, "max": 50, "step": 0}}, "space.fast.step"),
        ({"fast": {"min": 5, "max": 50, "step": -1}}, "space.fast.step"),
        ({"fast": {"min": 50, "max": 5, "step": 1}}, "space.fast.max"),
        ({"fast": {"min": 5, "max": 50, "step": 5, "by": 2}}, "space.fast.by"),
    ],
)
def test_bad_spaces_name_the_field(raw, field):
    assert field in _errors(raw)


def test_a_random_sweep_may_draw_from_a_range_without_step():
    axes = sp.parse_space(
        {"lower": {"min": 10, "max": 40}, "upper": {"min": 60.0, "max": 90.0}}, method="random"
    )
    assert sp.grid_size(axes) is None
    points = sp.expand(axes, method="random", samples=50, seed=7)
    assert len(points) == 50 and points == sp.expand(axes, method="random", samples=50, seed=7)
    assert all(isinstance(p["lower"], int) and 10 <= p["lower"] <= 40 for p in points)
    assert all(60.0 <= p["upper"] <= 90.0 for p in points)
    assert points != sp.expand(axes, method="random", samples=50, seed=8)


def test_random_draws_distinct_grid_points_and_never_more_than_the_grid():
    axes = sp.parse_space({"fast": {"min": 1, "max": 100, "step": 1}, "slow": [200, 300]}, method="random")
    points = sp.expand(axes, method="random", samples=150, seed=1)
    assert len({(p["fast"], p["slow"]) for p in points}) == 150
    grid = {tuple(p.values()) for p in sp.expand(axes, method="grid")}
    assert {tuple(p.values()) for p in points} <= grid
    assert sp.run_count(axes, method="random", samples=10_000) == 200
    assert len(sp.expand(axes, method="random", samples=10_000, seed=1)) == 200


def test_a_huge_grid_is_counted_without_being_built():
    axes = sp.parse_space(
        {"a": {"min": 0, "max": 1, "step": 1e-9}, "b": {"min": 0, "max": 1, "step": 1e-9}}, method="grid"
    )
    assert sp.grid_size(axes) > 10**17
    assert len(sp.expand(axes, method="random", samples=3, seed=0)) == 3  # sampled by index


def test_heatmap_keeps_the_best_value_per_cell_when_more_parameters_vary():
    runs = [
        (0, {"fast": 5, "slow": 20, "k": 1}, 1.0),
        (1, {"fast": 5, "slow": 20, "k": 2}, 3.0),
        (2, {"fast": 10, "slow": 20, "k": 1}, None),
        (3, {"fast": 10, "slow": 30, "k": 1}, -2.0),
        (4, {"fast": 10, "slow": 30, "k": 2}, -1.0),
    ]
    best = sp.heatmap(runs, "fast", "slow", maximize=True)
    assert (best.x_values, best.y_values, best.aggregated) == ([5, 10], [20, 30], True)
    assert best.values == [[3.0, None], [None, -1.0]] and best.runs == [[1, None], [None, 4]]
    worst = sp.heatmap(runs, "fast", "slow", maximize=False)
    assert worst.values == [[1.0, None], [None, -2.0]]
    single = sp.heatmap([(0, {"x": 1, "y": 2}, 0.5)], "x", "y", maximize=True)
    assert (single.values, single.aggregated) == ([[0.5]], False)
