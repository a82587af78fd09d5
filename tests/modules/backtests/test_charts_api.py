"""GET /api/backtests/{id}/chart.svg|.png: real pictures, bounded sizes, owner only, cached by ETag
and in Redis; and the heatmap helper the sweeps draw with."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import pytest

from backend.modules.backtests import charts
from tests.fixtures.core_celery import hold_jobs
from tests.helpers.api import error, fields

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}svg"


def png_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk (after checking the signature)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def svg_size_pt(data: bytes) -> tuple[float, float]:
    """Return the SVG root's width and height in points (matplotlib writes ``<n>pt``)."""
    root = ET.fromstring(data)
    assert root.tag == SVG_NS
    return float(root.attrib["width"].removesuffix("pt")), float(root.attrib["height"].removesuffix("pt"))


@pytest.fixture
def backtest_id(user, run_backtest):
    """A completed SMA 5/20 run on mock hourly bars (it has trades to mark)."""
    resp = run_backtest(
        user, strategy={"kind": "sma_cross", "params": {"fast": 5, "slow": 20}}, symbol="BTCUSDT"
    )
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["data"]["backtest_id"]


def chart(client, owner, backtest_id, fmt="png", headers=None, **query):
    return client.get(
        f"/api/backtests/{backtest_id}/chart.{fmt}",
        query_string=query,
        headers={**owner.headers, **(headers or {})},
    )


def test_png_is_a_real_png_of_the_default_size(client, user, backtest_id):
    resp = chart(client, user, backtest_id)
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert png_size(resp.data) == (charts.WIDTH_DEFAULT, charts.HEIGHT_DEFAULT)


def test_png_has_the_requested_size(client, user, backtest_id):
    resp = chart(client, user, backtest_id, width=640, height=480)
    assert resp.status_code == 200 and png_size(resp.data) == (640, 480)


def test_svg_is_a_real_svg_of_the_requested_size(client, user, backtest_id):
    resp = chart(client, user, backtest_id, fmt="svg", width=800, height=400)
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert svg_size_pt(resp.data) == pytest.approx((800 * 0.72, 400 * 0.72))  # 72 pt per 100 px inch
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert b"<script" not in resp.data


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"width": charts.WIDTH_MIN - 1}, "width"),
        ({"width": charts.WIDTH_MAX + 1}, "width"),
        ({"height": charts.HEIGHT_MIN - 1}, "height"),
        ({"height": charts.HEIGHT_MAX + 1}, "height"),
        ({"width": "wide"}, "width"),
    ],
)
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_sizes_outside_the_bounds_are_422_naming_the_field(client, user, backtest_id, query, field, fmt):
    assert field in fields(chart(client, user, backtest_id, fmt, **query))


def test_the_bounds_themselves_are_accepted(client, user, backtest_id):
    resp = chart(client, user, backtest_id, width=charts.WIDTH_MIN, height=charts.HEIGHT_MIN)
    assert png_size(resp.data) == (charts.WIDTH_MIN, charts.HEIGHT_MIN)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_someone_elses_or_an_unknown_backtest_is_404(client, user, other_user, backtest_id, fmt):
    error(chart(client, other_user, backtest_id, fmt), 404, "not_found", "backtests.not_found")
    error(chart(client, user, "00000000-0000-0000-0000-000000000000", fmt), 404, "not_found")
    error(chart(client, user, "not-an-id", fmt), 404, "not_found")
    assert client.get(f"/api/backtests/{backtest_id}/chart.{fmt}").status_code == 401


def test_a_backtest_without_a_result_is_409(client, user, run_backtest, monkeypatch):
    hold_jobs(monkeypatch)
    pending = run_backtest(user, strategy={"kind": "sma_cross", "params": {}}, symbol="BTCUSDT")
    backtest_id = pending.get_json()["data"]["backtest_id"]
    error(chart(client, user, backtest_id), 409, "not_completed", "backtests.not_completed")


def test_caching_headers_and_a_304_for_a_known_etag(client, user, backtest_id):
    first = chart(client, user, backtest_id)
    cache_control = first.headers["Cache-Control"]
    assert "private" in cache_control and "immutable" in cache_control and "max-age=" in cache_control
    etag = first.headers["ETag"]
    again = chart(client, user, backtest_id, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    stale = chart(client, user, backtest_id, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_the_etag_depends_on_format_and_size(client, user, backtest_id):
    tags = {
        chart(client, user, backtest_id, fmt, width=w).headers["ETag"]
        for fmt in ("png", "svg")
        for w in (640, 800)
    }
    assert len(tags) == 4


def test_a_drawn_picture_is_served_from_the_cache(client, user, backtest_id, monkeypatch):
    first = chart(client, user, backtest_id, fmt="svg")

    def not_again(*_args, **_kwargs):
        raise AssertionError("drawn twice")

    monkeypatch.setattr(charts, "draw_backtest", not_again)
    second = chart(client, user, backtest_id, fmt="svg")
    assert second.status_code == 200 and second.data == first.data


def test_with_redis_down_the_picture_is_still_drawn(app, client, user, backtest_id):
    import redis as redis_lib

    from backend.core.redis import reset_backoff

    saved = app.extensions["redis"]
    app.extensions["redis"] = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        resp = chart(client, user, backtest_id, width=500)
    finally:
        app.extensions["redis"] = saved
        with app.app_context():
            reset_backoff()
    assert resp.status_code == 200 and png_size(resp.data) == (500, charts.HEIGHT_DEFAULT)


def test_the_same_result_draws_the_same_svg(app, client, user, backtest_id):
    from backend.extensions import db
    from backend.modules.backtests.models import Backtest

    with app.test_request_context():
        row = db.session.get(Backtest, backtest_id)
        marks = charts._fills(backtest_id)
        one = charts.draw_backtest(row, marks, fmt="svg", width=600, height=300)
        two = charts.draw_backtest(row, marks, fmt="svg", width=600, height=300)
    assert one == two
    assert len(marks[0]) >= 4 and set(marks[1].tolist()) == {1, -1}  # both kinds of fill are marked


# --- the heatmap helper (sweeps) -----------------------------------------------------------------


def test_heatmap_png_has_the_size_and_accepts_blank_cells():
    data = charts.heatmap_png(
        [[1.0, 2.0, None], [0.5, float("nan"), 3.0]],
        [5, 10, 20],
        [30, 60],
        x_label="fast",
        y_label="slow",
        metric="sharpeRatio $x$",  # no mathtext: a label is drawn as written
        width=400,
        height=300,
    )
    assert png_size(data) == (400, 300)


def test_heatmap_svg_is_an_svg():
    data = charts.heatmap_svg([[1, 2], [3, 4]], ["a", "b"], ["c", "d"], width=400, height=300)
    assert svg_size_pt(data) == pytest.approx((288.0, 216.0))


def test_heatmap_refuses_labels_that_do_not_match_the_matrix():
    with pytest.raises(ValueError, match="matrix is"):
        charts.heatmap_png([[1, 2, 3]], [1, 2], [1])
