"""scripts/bench_api.py reads wrk's report (the cross-check with an independent load generator)."""

from __future__ import annotations

from scripts.bench_api import parse_wrk

# wrk 4.1.0 --latency output (a 404-only run with socket errors added, as wrk prints them).
WRK_OUT = """Running 1s test @ http://127.0.0.1:8765/nonexistent
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    3.58ms  16.12ms   71.12%
    Req/Sec   418.29    204.48     0.94k    90.48%
  Latency Distribution
     50%  431.00us
     75%    7.49ms
     90%   10.34ms
     99%    1.58s
  874 requests in 1.10s, 443.83KB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 874
Requests/sec:    794.57
Transfer/sec:    403.49KB
"""


def test_parse_wrk_reads_rate_percentiles_units_and_errors():
    rps, p50, p99, non_2xx, errors, requests = parse_wrk(WRK_OUT)
    assert rps == 794.57
    assert p50 == 0.431  # us -> ms
    assert p99 == 1580.0  # s -> ms
    assert (non_2xx, errors, requests) == (874, 6, 874)


def test_parse_wrk_of_a_clean_run_has_no_errors():
    clean = "\n".join(line for line in WRK_OUT.splitlines() if "errors" not in line and "Non-2xx" not in line)
    assert parse_wrk(clean)[3:5] == (0, 0)


def test_the_bare_large_body_is_an_envelope_of_exactly_the_asked_size():
    import json

    from scripts.bench_api import BARE_LARGE_PATH, bare_app

    client = bare_app().test_client()
    for size in (200, 162_491, 1_000_003):
        resp = client.get(f"{BARE_LARGE_PATH}?bytes={size}")
        body = resp.get_data()
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        assert len(body) == size
        assert set(json.loads(body)) == {"code", "message", "data", "request_id"}
    assert client.get(f"{BARE_LARGE_PATH}?bytes={1 << 30}").content_length == 16 << 20  # bounded
