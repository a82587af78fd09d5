"""The anonymous showcase reads (the dashboard's GETs) served from pre-serialised JSON in Redis.

A route decorated with `cached` answers from Redis when it can: one ``HGET`` per request, the
cached ``data`` bytes spliced into the success envelope; no SQL, no marshmallow, no JSON encoding.
On a miss it runs the view, dumps the result with the route's schema and stores the JSON.

Never stale after a write: each showcase names the tables it reads; `backend.core.changes` notes
the tables that every flush and every INSERT/UPDATE/DELETE statement writes, and once that
transaction commits the showcases reading any of them are dropped (before the writer's own
response is sent). A fill cannot undo a drop: a reader that missed reads the
showcase's generation before running the view and stores its JSON only if the generation is
still the same (a Lua script); every drop increments the generation.

Before the query is parsed: `early`, right under ``@jwt_required(optional=True)``, looks the
request's raw query string up first. A fill also stores its JSON under the raw query string of the
request that computed it (field ``?<query>``): the same string always parses to the same
arguments, and only strings that validated are stored, so a hit needs no parsing and anything
else (invalid arguments included: the same 422 as before) takes the normal path.

A stored value is ``<version><generation>\n<data>``: a random version per fill
(``VERSION_CHARS`` hex characters) and the generation it was computed under. A lookup (`_LOOKUP`)
serves an entry only if its generation is the current one, so the generation alone retires every
entry, as a drop by a process of the previous release does (it knows only the generation and its
own unversioned hash, `_legacy_key`, which drops delete too: rolling deploys). A process keeps a
copy of the entries it served (`_COPIES`, at most ``COPIES_MAX_BYTES``) and sends the version it
holds; when Redis has that version under the field, the reply is the version alone and the copy
is served. Redis decides on every request, so a drop, an expiry or a newer fill is seen exactly as
without the copy; what the copy saves is moving a large entry (`backtests/latest`: ~160 KB) from
Redis into the process each time. A copy also holds its gzip, built by the first response to a
client that accepts it (`core/compression.py`, `envelope.success_response_json`), so a browser
gets the entry in ~a quarter of the bytes without the process compressing it per request.

Bounded: every lookup and fill goes through `cached_call` (``REDIS_TIMEOUT_MS``, then the view
runs directly for ``REDIS_BACKOFF_S``); the drops go in the commit's one Redis batch
(`changes.on_commit_pipelined`, ADR 0014: always tried, bounded by ``REDIS_TIMEOUT_MS``).
Entries expire after ``SHOWCASE_CACHE_TTL_S`` (at most ``REDIS_BACKOFF_S``), which bounds the
time-dependent fields (hot ranking's age decay, a bot's runtime) and the one case in which a drop
is lost: a write committed while Redis is unreachable from the writing process. ``0`` disables
the cache.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar, cast

import marshmallow as ma
from flask import Response, current_app, request
from flask_jwt_extended import get_jwt_identity

from backend.core import changes
from backend.core.compression import GzipMemo
from backend.core.envelope import success_response_json
from backend.core.redis import cached_call, lane, rkey

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# showcase name -> the tables its view reads (filled by `cached` when the routes are imported).
_READS: dict[str, frozenset[str]] = {}
_RAW = "?"  # field prefix of an entry stored under a raw query string
MAX_RAW_QUERY = 256  # longer query strings are never looked up raw
MAX_RAW_FIELDS = 64  # a hash holding this many entries takes no more raw ones
# The request object's attribute: (name, raw field, generation) of `early`'s miss.
_EARLY_STASH = "_qyq_showcase_early"

# Store the field/value pairs ARGV[4..] in KEYS[1] for ARGV[2] s, only if KEYS[2] (the generation)
# is ARGV[1]; a raw-query field only while the hash holds fewer than ARGV[3] entries. Each entry
# is two fields: the value, and under '#' .. field its head (version and generation, `_LOOKUP`).
_FILL = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 2 do
  if string.sub(ARGV[i], 1, 1) ~= '?' or redis.call('HLEN', KEYS[1]) < 2 * tonumber(ARGV[3])
      or redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    local nl = string.find(ARGV[i + 1], '\\n', 1, true)
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1], '#' .. ARGV[i], string.sub(ARGV[i + 1], 1, nl - 1))
  end
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 or ttl > tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

# The entry at field ARGV[1] of KEYS[1] if it was filled under the current generation (KEYS[2]):
# {value, offset of its data}, or only {version} when its version is ARGV[2], the one the caller
# holds; else {false, the generation}. A value is "<version><generation>\n<data>". The held
# version is checked against the entry's head (field '#' .. ARGV[1]), so the value (~160 KB for
# `backtests/latest`) is not read into the script when the caller's copy is current: reading it
# costs Redis ~0.4 ms a lookup. A value without a head (a fill of the previous release) is read.
_LOOKUP = """
local g = redis.call('GET', KEYS[2]) or ''
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], '#' .. ARGV[1]) == ARGV[2] .. g then return {ARGV[2]} end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local nl = string.find(v, '\\n', 17, true)
  if nl and string.sub(v, 17, nl - 1) == g then
    if ARGV[2] ~= '' and string.sub(v, 1, 16) == ARGV[2] then return {ARGV[2]} end
    return {v, nl}
  end
end
return {false, g}
"""

VERSION_CHARS = 16  # a fill's version (hex), the first characters of every value it stores
COPIES_MAX_BYTES = 8 << 20  # entries a process keeps copies of; over it, it starts over


class Copy(NamedTuple):
    """A process's copy of one entry: its version, its data and the place for its gzip."""

    version: bytes
    data: bytes
    gzip: GzipMemo


class _Copies:
    """The entries this process served, by (hash key, field). Thread-safe.

    An entry is charged twice its data's size: the data, and room for its gzip (built on first
    use; deflate never makes JSON larger than its input by more than a few bytes per 16 KB).
    """

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], Copy] = {}
        self._bytes = 0
        self.max_bytes = max_bytes

    def get(self, key: str, field: str) -> Copy | None:
        return self._items.get((key, field))

    def put(self, key: str, field: str, version: bytes, data: bytes) -> Copy:
        """Keep a copy of the entry (unless it alone is over the budget); return it."""
        copy = Copy(version, data, GzipMemo())
        cost = 2 * len(data)
        with self._lock:
            old = self._items.pop((key, field), None)
            self._bytes -= 2 * len(old.data) if old else 0
            if cost > self.max_bytes:
                return copy
            if self._bytes + cost > self.max_bytes:
                self._items.clear()
                self._bytes = 0
            self._items[(key, field)] = copy
            self._bytes += cost
        return copy

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_COPIES = _Copies(COPIES_MAX_BYTES)


def _value(gen: str, data: str) -> str:
    """Return what a fill stores: a new random version, the generation it was computed under, the JSON."""
    return f"{secrets.token_hex(VERSION_CHARS // 2)}{gen}\n{data}"


def _key(name: str) -> str:
    # "v2": values carry a version and a generation. Processes of an older release read the
    # unversioned hash `_legacy_key`, never this one; drops delete both (rolling deploys).
    return rkey("showcase", "v2", name)


def _legacy_key(name: str) -> str:
    return rkey("showcase", name)


def _gen_key(name: str) -> str:
    return rkey("showcase", name, "gen")


def _keys(prefix: str, name: str) -> tuple[str, str]:
    """`_key` and `_gen_key` under the key prefix ``prefix`` (one config read for both)."""
    return f"{prefix}showcase:v2:{name}", f"{prefix}showcase:{name}:gen"


def cached(
    name: str, schema: ma.Schema, *, reads: Iterable[str], anonymous_only: bool = True
) -> Callable[[F], F]:
    """Serve the decorated view's result from the showcase cache ``name``.

    Goes below ``@blp.response`` and under ``@jwt_required(optional=True)``, which verifies any token
    and resets the identity this reads for every request.

    ``schema`` is the route's response schema; ``reads`` are the tables the view reads. With
    ``anonymous_only`` a caller with a token runs the view as usual (its answer is personal).
    The view's arguments (parsed query) select the cached variant.
    """
    _READS[name] = frozenset(reads)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ttl = int(current_app.config["SHOWCASE_CACHE_TTL_S"])
            if ttl <= 0 or (anonymous_only and get_jwt_identity() is not None):
                return view(*args, **kwargs)
            # The parsed arguments (a method view's `self` is not one of them) select the variant.
            parsed = [a for a in args if isinstance(a, Mapping)]
            variant = json.dumps([parsed, kwargs], sort_keys=True, default=str)
            return _respond(name, variant, ttl, lambda: schema.dump(view(*args, **kwargs)))

        wrapper._qyq_showcase = (name, anonymous_only)  # type: ignore[attr-defined]  # read by `early`
        return cast(F, wrapper)

    return decorate


def early(view: F) -> F:
    """Answer from the showcase cache by the raw query string, before ``@blp.arguments`` parses it.

    Goes right under ``@jwt_required(optional=True)``, above ``@blp.arguments``, on a route whose
    view has `cached` below. A miss goes on to the parsing and `cached` (which then stores the JSON
    under this raw query string too).
    """
    name, anonymous_only = view._qyq_showcase  # type: ignore[attr-defined]

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        req = request._get_current_object()  # type: ignore[attr-defined]
        config = current_app.config
        ttl = int(config["SHOWCASE_CACHE_TTL_S"])
        raw = req.query_string
        if ttl <= 0 or len(raw) > MAX_RAW_QUERY or (anonymous_only and get_jwt_identity() is not None):
            return view(*args, **kwargs)
        field = _RAW + raw.decode("latin-1")
        keys = _keys(str(config["REDIS_KEY_PREFIX"]), name)
        held = _COPIES.get(keys[0], field)
        argv = (field, held.version if held else b"")
        reply = cached_call(lambda r: lane(r).script(_LOOKUP, keys, argv, raw=True), None)
        if reply and reply[0] is not None:
            value = reply[0]
            if held is None or value != held.version:  # else Redis holds the version this copy is of
                held = _COPIES.put(keys[0], field, value[:VERSION_CHARS], value[int(reply[1]) :])
            return success_response_json(held.data, gzip=held.gzip)
        if reply and len(reply) > 1:  # the generation, read before the view reads the database
            req.__dict__[_EARLY_STASH] = (name, field, reply[1].decode())  # this request's own
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _respond(name: str, variant: str, ttl: int, build: Callable[[], Any]) -> Response:
    key, gen_key = _key(name), _gen_key(name)
    stash = request._get_current_object().__dict__.pop(_EARLY_STASH, None)  # type: ignore[attr-defined]
    raw_field, early_gen = None, None
    if stash is not None and stash[0] == name:
        raw_field, early_gen = stash[1], stash[2]
    reply = cached_call(lambda r: lane(r).script(_LOOKUP, (key, gen_key), (variant, ""), raw=True), None)
    if reply and reply[0] is not None:
        value = reply[0]
        if raw_field and early_gen is not None:  # read after that generation: refused if a drop came between
            _fill(key, gen_key, early_gen, ttl, [raw_field, value])
        return success_response_json(value[int(reply[1]) :])
    # The generation before the view reads the database (`early` read it even sooner).
    gen = early_gen if early_gen is not None else (reply[1].decode() if reply else None)
    data = current_app.json.dumps(build(), separators=(",", ":"))
    if gen is not None:
        value = _value(gen, data)
        _fill(key, gen_key, gen, ttl, [variant, value, *((raw_field, value) if raw_field else ())])
    return success_response_json(data)


def _fill(key: str, gen_key: str, gen: str, ttl: int, pairs: list[str | bytes]) -> None:
    args = (gen, ttl, MAX_RAW_FIELDS, *pairs)
    cached_call(lambda r: lane(r).script(_FILL, (key, gen_key), args), 0)


def drop(names: Iterable[str]) -> None:
    """Drop these showcases' cached JSON and start a new generation (a fill in flight is refused)."""
    names = list(names)
    if not names:
        return

    def write(r: Any) -> None:
        pipe = r.pipeline(transaction=True)
        _queue_drop(pipe, names)
        pipe.execute()

    cached_call(write, None)


def _queue_drop(pipe: Any, names: Iterable[str]) -> None:
    """Queue `drop`'s writes onto ``pipe`` (a MULTI pipeline the caller sends)."""
    for name in names:
        pipe.incr(_gen_key(name))
        pipe.delete(_key(name), _legacy_key(name))


def drop_all() -> None:
    """Drop every showcase (tests between rolled-back transactions; after restoring a database)."""
    drop(_READS)
    _COPIES.clear()  # not needed for correctness (Redis decides), keeps tests independent


def showcases_reading(tables: set[str]) -> list[str]:
    """Return the showcases whose view reads any of ``tables``."""
    if changes.ANY_TABLE in tables:
        return list(_READS)
    return [name for name, reads in _READS.items() if reads & tables]


def _after_commit(written: changes.Changes, pipe: Any) -> None:
    # Only an app wired by create_app has the cache (changes sends nothing for a bare app).
    _queue_drop(pipe, showcases_reading(set(written)))


def init_showcase_events() -> None:
    """Drop the showcases a committed transaction changed (`backend.core.changes`; idempotent).

    Queued on the commit's one pipeline with the personal entries' drops (`changes.on_commit_pipelined`).
    """
    changes.init_write_events()
    changes.on_commit_pipelined(_after_commit)
