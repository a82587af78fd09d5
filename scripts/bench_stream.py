"""Benchmark live streams: REST latency with N open streams, and worker-event-to-client delivery.

What runs (all on loopback, bounded in time):

1. A scratch stack like ``scripts/bench_api.py`` (its helpers: database ``qyq_bench_stream_<pid>``,
   migrated and seeded, production settings, own Redis prefix); N users registered through the
   API (fast password hashing: registration is not what is measured).
2. The served layout of ``make dev`` / docker-compose: the REST API on gunicorn gthread 2x4 and
   the stream process on gunicorn gevent (``backend.stream_wsgi:app``, one worker).
3. REST p50 of a few endpoints (``scripts/loadgen.py``, 32 keep-alive connections) without
   streams; then N SSE streams are opened (tickets from the REST API) and held by a separate
   process; REST again with them open; then the streams are closed and REST is measured once
   more (the baseline is the mean of the two stream-less runs).
4. Delivery: with the N streams open (one per registered user), this process publishes
   ``job.progress`` events through ``backend.core.events.publish`` (what a worker does) every
   ``--interval`` seconds, each for the next user; the holder records when each reaches its
   stream. Reported: p50/p95/max of the deliveries.

Usage: ``.venv/bin/python -m scripts.bench_stream [--streams 500] [--events 20] [--rounds 2]
[--duration 3] [--no-write]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import loadgen  # noqa: E402
from scripts.bench_api import (  # noqa: E402
    Gunicorn,
    ServerConfig,
    _target,
    http_json,
    login,
    machine,
    scratch_stack,
)
from scripts.perfdoc import update_section  # noqa: E402

ENDPOINTS = (("/api/users/me", True), ("/api/strategies/recent", False), ("/api/bots", True))
REST = ServerConfig("gthread", 2, 4)
STREAM = ServerConfig("gevent", 1, 1)


# --- the stream holder (its own process, so its reads cost the load generator nothing) ----------


async def _hold_one(port: int, ticket: str, opened: list[int], lat: dict[int, list[float]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/stream?topics=jobs&ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    status = (await reader.readline()).decode()
    if " 200 " not in status:
        raise RuntimeError(f"stream refused: {status.strip()}")
    opened[0] += 1
    while True:
        line = await reader.readline()
        if not line:
            return
        # chunked encoding: data lines arrive intact inside chunks; pick the SSE data lines out
        if line.startswith(b"data: "):
            now = time.time() * 1000
            body = json.loads(line[6:])
            seq, sent = body["data"].get("seq"), body["data"].get("sentAt")
            if seq is not None:
                lat.setdefault(int(seq), []).append(now - float(sent))


def hold_streams(port: int, tickets: list[str], ramp: float, ready: Any, stop: Any, out: Any) -> None:
    """Open one stream per ticket, hold them until ``stop``, then put the latencies on ``out``."""

    async def main() -> None:
        opened, lat = [0], {}
        tasks = []
        for ticket in tickets:
            tasks.append(asyncio.create_task(_hold_one(port, ticket, opened, lat)))
            await asyncio.sleep(ramp)  # clients arriving over a few seconds, not all at once
        deadline = time.monotonic() + 120
        while opened[0] < len(tickets) and time.monotonic() < deadline:
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise RuntimeError(str(failed[0].exception()))
            await asyncio.sleep(0.1)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for t in tasks:
            t.cancel()
        out.put({"opened": opened[0], "latencies": lat})

    asyncio.run(main())


# --- measuring ---------------------------------------------------------------------------------


def rest_p50(url: str, token: str, rounds: int, load: dict[str, Any]) -> dict[str, float]:
    """Return each endpoint's median over ``rounds`` of its loadgen p50 (ms)."""
    out = {}
    for path, auth in ENDPOINTS:
        p50s = []
        for _ in range(rounds):
            result = loadgen.run(url, _target(path, token if auth else None), **load)
            if result.non_2xx or result.errors:
                raise RuntimeError(f"{path}: {result.summary()}")
            p50s.append(result.pct(50))
        out[path] = statistics.median(p50s)
        print(f"  {path}: p50 {out[path]:.2f} ms", flush=True)
    return out


def register_users(url: str, count: int) -> list[tuple[str, str]]:
    """Register ``count`` users through the API; return (id, access token) of each."""
    run = time.time_ns()
    users = []
    for i in range(count):
        body = {"username": f"s{run % 10**8}_{i}", "password": "stream-bench-9"}
        status, got, _ = http_json("POST", url + "/api/auth/register", body)
        if status != 201:
            raise RuntimeError(f"register: {status} {got}")
        users.append((got["data"]["id"], got["data"]["access_token"]))
    return users


def publish_events(env: dict[str, str], user_ids: list[str], count: int, interval: float) -> None:
    """Publish ``count`` job.progress events, each for the next user, as a worker does (events.publish)."""
    import os

    os.environ.update(env)
    from backend.app import create_app
    from backend.config import load_config
    from backend.core import events

    app = create_app(load_config(env))
    with app.app_context():
        for seq in range(count):
            time.sleep(interval)
            event = events.Event(
                "job.progress", "jobs", user_ids[seq % len(user_ids)], object_id="bench",
                data={"jobId": "bench", "status": "RUNNING", "seq": seq, "sentAt": time.time() * 1000},
            )  # fmt: skip
            if events.publish(event) is None:
                raise RuntimeError("publish failed")


def _pct(values: list[float], p: float) -> float:
    return loadgen.percentile(values, p) if values else float("nan")


def report(
    *, when: str, streams: int, users: int, opened: int, before: dict[str, float],
    during: dict[str, float], after: dict[str, float], delivered: list[float], events: int,
    load: dict[str, Any],
) -> str:  # fmt: skip
    rows = []
    worst = noise = 0.0
    for path, _auth in ENDPOINTS:
        base = (before[path] + after[path]) / 2
        change = during[path] / base - 1 if base else 0.0
        spread = abs(after[path] - before[path]) / base if base else 0.0
        worst, noise = max(worst, change), max(noise, spread)
        rows.append(
            f"| `{path}` | {before[path]:.2f} | {after[path]:.2f} | {during[path]:.2f} | {change:+.0%} |"
        )
    verdict_rest = "met" if worst <= 0.20 else "NOT met"
    if noise > 0.20:  # the two stream-less runs disagree by more than the margin asked for
        verdict_rest = f"not measurable here (the two runs without streams differ by up to {noise:.0%})"
    verdict_latency = "met" if _pct(delivered, 50) < 50 else "NOT met"
    lines = [
        "## Live streams (`scripts/bench_stream.py`)",
        "",
        f"Measured {when} on {machine()}. REST: gunicorn gthread 2x4 (`backend.wsgi:app`); streams: "
        f"gunicorn gevent, 1 worker (`backend.stream_wsgi:app`), as in `make dev` and docker-compose. "
        f"{opened} of {streams} SSE streams (`topics=jobs`, spread over {users} users, held by a "
        "separate client process) "
        f"open during the second REST run. Load: `scripts/loadgen.py`, {load['connections']} keep-alive "
        f"connections, {load['duration_s']:.0f} s per run, p50 = median over rounds.",
        "",
        "| endpoint | p50 without streams, before (ms) | after (ms) | streams open (ms) | change vs mean |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Target: REST p50 within 20 % of its stream-less figure: **{verdict_rest}** (worst {worst:+.0%}). "
        "The REST API and the stream process share the machine's cores, so what streams can take from REST "
        "is CPU: idle streams take none (a heartbeat every STREAM_HEARTBEAT_S); on a loaded shared machine "
        "the run-to-run noise is larger than that.",
        "",
        f"Delivery (`core.events.publish` in another process, as a worker does, to the client's SSE `data:` "
        f"line; clocks of one machine): {events} events, each to the next user (so to that user's "
        f"{-(-streams // users)} streams), while all {opened} streams stay open:",
        "",
        "| deliveries | p50 (ms) | p95 (ms) | max (ms) |",
        "|---:|---:|---:|---:|",
        f"| {len(delivered)} | {_pct(delivered, 50):.1f} | {_pct(delivered, 95):.1f} | "
        f"{max(delivered, default=float('nan')):.1f} |",
        "",
        f"Target: delivery p50 < 50 ms: **{verdict_latency}**. Every open stream is one greenlet blocked in "
        "`XREAD BLOCK` on its own Redis connection, so idle streams cost no CPU between heartbeats and an "
        "event wakes only its user's streams. One event fanned out to hundreds of streams of the same user "
        "costs each of them its wake-up and write (about a second for 500 on this machine, measured while "
        "developing this): the per-user cap (`STREAM_MAX_PER_USER`, 10) keeps that fan-out small.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--users", type=int, default=50, help="streams are spread evenly over them")
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--ramp", type=float, default=0.03, help="seconds between stream openings")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between published events")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    load = {"connections": args.connections, "duration_s": args.duration, "warmup_s": args.warmup,
            "max_requests": 100_000}  # fmt: skip
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # Streams spread over --users users (each event goes to one user's streams); registrations are
    # not what is measured here, so fast password hashing and no registration limit.
    extra = {
        "STREAM_MAX_PER_USER": str(-(-args.streams // args.users)),
        "STREAM_HEARTBEAT_S": "15",
        "PASSWORD_HASH_PROFILE": "fast",
        "RATELIMIT_REGISTER": "1000000 per minute",
    }
    with (
        scratch_stack("bench_stream", extra) as stack,
        Gunicorn("backend.wsgi:app", REST, stack.env, "/api/health") as rest,
        Gunicorn("backend.stream_wsgi:app", STREAM, stack.env, "/api/health") as stream,
    ):
        token = login(rest.url)
        print("REST without streams", flush=True)
        before = rest_p50(rest.url, token, args.rounds, load)
        users = register_users(rest.url, args.users)
        tickets = []
        for i in range(args.streams):
            user_token = users[i % len(users)][1]
            status, body, _ = http_json("POST", rest.url + "/api/stream/ticket", token=user_token)
            if status != 201:
                raise RuntimeError(f"ticket: {status} {body}")
            tickets.append(body["data"]["ticket"])
        ctx = mp.get_context("spawn")
        ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        holder = ctx.Process(target=hold_streams, args=(stream.port, tickets, args.ramp, ready, stop, out))
        holder.start()
        while not ready.wait(1):
            if not holder.is_alive():
                kept = Path(tempfile.gettempdir()) / "qyq-bench-stream-server.log"
                kept.write_text(stream.log.read_text(errors="replace"))
                raise RuntimeError(f"the streams could not be opened (the stream server's log: {kept})")
        print(f"{args.streams} streams open; REST with streams", flush=True)
        during = rest_p50(rest.url, token, args.rounds, load)
        print("delivery", flush=True)
        publish_events(stack.env, [uid for uid, _ in users], args.events, args.interval)
        time.sleep(1.0)
        stop.set()
        held = out.get(timeout=60)
        holder.join(timeout=30)
        time.sleep(1.0)
        print("REST after the streams closed", flush=True)
        after = rest_p50(rest.url, token, args.rounds, load)
    lat: dict[int, list[float]] = {int(k): v for k, v in held["latencies"].items()}
    delivered = [x for v in lat.values() for x in v]
    text = report(
        when=when, streams=args.streams, users=args.users, opened=held["opened"], before=before,
        during=during, after=after, delivered=delivered, events=args.events, load=load,
    )  # fmt: skip
    print()
    print(text)
    if not args.no_write:
        print(f"\nwrote {update_section('streams', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
