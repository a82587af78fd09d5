"""The authenticated hot reads (my profile, my strategies, backtests and bots) served from
pre-serialised JSON in Redis, per user: the personal counterpart of `backend.core.showcase`.

A route decorated with `cached` answers from Redis when it can. The session check every
authenticated request makes (`backend.core.sessions.is_active`, through the JWT blocklist
callback) and the cache lookup are one Lua script, so a hit costs one Redis round trip: no SQL,
no query parsing, no marshmallow, no JSON encoding. The cached ``data`` bytes (and the list's
``X-Pagination`` header) are spliced into the success envelope. On a miss the view runs as usual
and its dumped result is stored.

Entries live in one hash per read and user (``personal:<read>:<user>``), one field per raw query
string of a request that succeeded: the same query string always parses to the same arguments,
and only validated ones are ever stored, so a hit needs no parsing and anything else (invalid
arguments included) takes the normal path. At most ``MAX_VARIANTS`` fields per hash.

Never stale after a write. `backend.core.changes` notes, per table, whose rows every flush and
every INSERT/UPDATE/DELETE statement writes (the owner column of an ORM object, or the
``qyq_owner`` execution option a Core writer passes). Once the transaction commits, those owners'
entries of the reads depending on the table are dropped (before the writer's own response is
sent). A write whose owner is unknown, or to a table a read depends on for everybody (the strategy
list shows other users' names), starts a new generation of the read: every entry carries the
generation it was filled under and a hit needs the current one. A fill cannot undo a drop: the
lookup that missed read the read's generation and the user's generation before the view read the
database, and the fill stores only if both are unchanged (a Lua script); every owner drop
increments the user's generation first.

Bounded like the showcase: every lookup and fill goes through `cached_call` (a Redis outage means
the view runs and the session check reads Postgres, exactly as without this cache); a commit's
drops go in its one Redis batch (`changes.Batch`: always sent, a failure opens the breaker, so the
writer's process reads Postgres until the entries it could not drop have expired). Every entry
expires within ``PERSONAL_CACHE_TTL_S`` (<= ``REDIS_BACKOFF_S``) of its hash's first fill, which
bounds the time-dependent fields (a bot's runtime) and, in other processes, a drop lost to an
outage. ``0`` disables the cache.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, Request, Response, current_app, request
from flask_jwt_extended import get_jwt_identity
from flask_smorest.utils import get_appcontext
from werkzeug.datastructures import Headers

from backend.core import changes
from backend.core.envelope import success_response_json
from backend.core.redis import cached_call, lane, rkey

F = TypeVar("F", bound=Callable[..., Any])

OWNER = "owner"  # a write to the table changes the read of the rows' owners only
EVERYONE = "everyone"  # a write to the table may change anybody's read

MAX_VARIANTS = 32  # fields (query strings) per read and user; a full hash starts over
MAX_QUERY = 512  # longer query strings are never cached
USER_GEN_TTL_S = 86400  # a user's generation outlives any fill in flight by far
PAGINATION_HEADER = "X-Pagination"

# read name -> {table: OWNER | EVERYONE} (filled by `cached` when the routes are imported).
_READS: dict[str, dict[str, str]] = {}
# (endpoint, method) -> read name or None (resolved on first use).
_ENDPOINTS: dict[tuple[str, str], str | None] = {}
_STASH = "_qyq_personal"  # the request object's attribute: the lookup made with the session check

# KEYS: the session family's cache key, the entry hash, the read's generation, the user's generation.
# ARGV: the user id ('' skips the family), the field. Returns {family} when the family is not the
# user's (missing, revoked or another user's: the caller decides, as `sessions.is_active` does),
# {family, 1, "<pagination>\n<data>"} for a hit, {family, 0, read gen, user gen} for a miss.
_LOOKUP = """
local fam = false
if ARGV[1] ~= '' then
  fam = redis.call('GET', KEYS[1])
  if fam ~= ARGV[1] then return {fam} end
end
local rg = redis.call('GET', KEYS[3]) or ''
local v = redis.call('HGET', KEYS[2], ARGV[2])
if v then
  local i = string.find(v, '\\n', 1, true)
  if i and string.sub(v, 1, i - 1) == rg then return {fam, 1, string.sub(v, i + 1)} end
end
return {fam, 0, rg, redis.call('GET', KEYS[4]) or ''}
"""

# KEYS: the entry hash, the read's generation, the user's generation. ARGV: read gen, user gen,
# field, "<pagination>\n<data>", ttl, MAX_VARIANTS. Stores only if neither generation moved.
_FILL = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return 0 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1] .. '\\n' .. ARGV[4])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 or ttl > tonumber(ARGV[5]) then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
return 1
"""


def _entry_key(read: str, user_id: str) -> str:
    return rkey("personal", read, user_id)


def _read_gen_key(read: str) -> str:
    return rkey("personal", "gen", read)


def _user_gen_key(user_id: str) -> str:
    return rkey("personal", "ugen", user_id)


def _lookup_keys(prefix: str, read: str, user_id: str) -> tuple[str, str, str]:
    """`_entry_key`, `_read_gen_key` and `_user_gen_key` under the key prefix ``prefix`` (one config read)."""
    base = f"{prefix}personal:"
    return f"{base}{read}:{user_id}", f"{base}gen:{read}", f"{base}ugen:{user_id}"


@dataclass(frozen=True)
class _Lookup:
    read: str
    user_id: str
    field: str
    hit: bytes | None  # b"<pagination>\n<data>", as Redis sent it
    read_gen: str = ""
    user_gen: str = ""


def cached(read: str, *, reads: Mapping[str, str]) -> Callable[[F], F]:
    """Serve the decorated view's 200 answers from the personal cache ``read``, per caller.

    Goes right under ``@jwt_required()`` (above ``@blp.arguments``, ``@blp.response`` and
    ``@paginated``: a hit skips them all). ``reads`` maps every table the view reads to `OWNER`
    (a write changes only the read of the rows' owners; the table must be in
    `changes.OWNER_COLUMNS`) or
    `EVERYONE`.
    """
    for table, mode in reads.items():
        if mode not in (OWNER, EVERYONE) or (mode == OWNER and table not in changes.OWNER_COLUMNS):
            raise ValueError(f"personal read {read}: no owner column for {table} ({mode})")
    _READS[read] = dict(reads)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            req = request._get_current_object()  # type: ignore[attr-defined]
            ttl = int(current_app.config["PERSONAL_CACHE_TTL_S"])
            field = _field(req)
            user_id = _identity()
            if ttl <= 0 or field is None or user_id is None:
                return view(*args, **kwargs)
            look = req.__dict__.pop(_STASH, None)
            wanted = (read, user_id, field)
            if not isinstance(look, _Lookup) or (look.read, look.user_id, look.field) != wanted:
                look = _lookup(read, user_id, field)
            if look is not None and look.hit is not None:
                return _respond(look.hit)
            get_appcontext().pop("result_dump", None)  # what this view dumps, nothing older
            response = view(*args, **kwargs)
            if look is not None:
                _fill(look, response, ttl)
            return response

        wrapper._qyq_personal_read = read  # type: ignore[attr-defined]  # found by `session_lookup`
        return cast(F, wrapper)

    return decorate


def _identity() -> str | None:
    identity = get_jwt_identity()
    return str(identity) if identity else None


def _field(req: Request) -> str | None:
    raw = req.query_string
    return raw.decode("latin-1") if len(raw) <= MAX_QUERY else None


def _read_of_request(app: Flask, req: Request) -> str | None:
    """Return the personal read the request's view serves, if any (memoised per endpoint)."""
    endpoint, method = req.endpoint, req.method
    if endpoint is None:
        return None
    key = (endpoint, method)
    try:
        return _ENDPOINTS[key]
    except KeyError:
        pass
    view: Any = app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, method.lower(), None)
    read = getattr(view, "_qyq_personal_read", None)
    _ENDPOINTS[key] = read if isinstance(read, str) else None
    return _ENDPOINTS[key]


def session_lookup(user_id: str) -> Callable[[str], str | None] | None:
    """For the session check of a request to a personal read: a reader of the family's cache entry
    that looks the caller's cache entry up in the same round trip (None for any other request).

    The reader returns what ``GET <family key>`` would (None when missing or Redis is down, so
    `sessions.is_active` behaves exactly as it does without this) and leaves the lookup on the
    request object for `cached` when the family is the caller's (a request's own attribute: no
    other request can see it).
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    req.__dict__.pop(_STASH, None)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    if req.method != "GET" or int(config["PERSONAL_CACHE_TTL_S"]) <= 0:
        return None
    read = _read_of_request(app, req)
    field = _field(req)
    if read is None or field is None:
        return None

    def read_family(family_key: str) -> str | None:
        keys = (family_key, *_lookup_keys(str(config["REDIS_KEY_PREFIX"]), read, user_id))
        reply = cached_call(lambda r: lane(r).script(_LOOKUP, keys, (user_id, field), raw=True), None)
        if not reply:
            return None
        family = None if reply[0] is None else reply[0].decode()
        if family == user_id and len(reply) >= 3:
            req.__dict__[_STASH] = _as_lookup(read, user_id, field, reply)
        return family

    return read_family


def _as_lookup(read: str, user_id: str, field: str, reply: list[Any]) -> _Lookup:
    if int(reply[1]) == 1:
        return _Lookup(read, user_id, field, hit=reply[2])
    return _Lookup(read, user_id, field, hit=None, read_gen=reply[2].decode(), user_gen=reply[3].decode())


def _lookup(read: str, user_id: str, field: str) -> _Lookup | None:
    """Look the caller's entry up without the session check (its family was not cached)."""
    entry = _entry_key(read, user_id)
    keys = (entry, entry, _read_gen_key(read), _user_gen_key(user_id))
    reply = cached_call(lambda r: lane(r).script(_LOOKUP, keys, ("", field), raw=True), None)
    if not reply or len(reply) < 3:
        return None
    return _as_lookup(read, user_id, field, reply)


def _respond(hit: bytes) -> Response:
    """The envelope around the entry's data (a view of ``hit``, not a copy), with its pagination header."""
    newline = hit.find(b"\n")
    if newline < 0:  # never: `_fill` stores "<pagination>\n<data>" (as `hit.partition` would split it)
        pagination, data = hit, memoryview(b"")
    else:
        pagination, data = hit[:newline], memoryview(hit)[newline + 1 :]
    response = success_response_json(data)
    if pagination:
        value = pagination.decode()
        headers = response.headers
        if type(headers) is Headers and "\n" not in value and "\r" not in value:
            # What `headers[PAGINATION_HEADER] = value` does on this new response (it has no such
            # header yet): append it, the value checked for line breaks as werkzeug checks it.
            headers._list.append((PAGINATION_HEADER, value))
        else:
            headers[PAGINATION_HEADER] = value
    return response


def _fill(look: _Lookup, response: Any, ttl: int) -> None:
    if not isinstance(response, Response) or response.status_code != 200:
        return
    appcontext = get_appcontext()
    if "result_dump" not in appcontext:
        return
    data = current_app.json.dumps(appcontext["result_dump"], separators=(",", ":"))
    pagination = response.headers.get(PAGINATION_HEADER, "")
    if "\n" in pagination:  # never: flask-smorest writes it as compact JSON
        return
    keys = (_entry_key(look.read, look.user_id), _read_gen_key(look.read), _user_gen_key(look.user_id))
    args = (look.read_gen, look.user_gen, look.field, f"{pagination}\n{data}", ttl, MAX_VARIANTS)
    cached_call(lambda r: lane(r).script(_FILL, keys, args), 0)


# --- invalidation -------------------------------------------------------------------------------


def drop(*, owners: Mapping[str, Collection[str]] = {}, everyone: Iterable[str] = ()) -> None:  # noqa: B006
    """Drop ``owners[read]``'s entries of each read, and every entry of the reads in ``everyone``.

    Generations first (a fill in flight is refused), then the entries.
    """

    def write(r: Any) -> None:
        pipe = r.pipeline(transaction=True)
        _queue_drop(pipe, owners=owners, everyone=everyone)
        if len(pipe):
            pipe.execute()

    cached_call(write, None)


def _queue_drop(pipe: Any, *, owners: Mapping[str, Collection[str]], everyone: Iterable[str]) -> None:
    """Queue `drop`'s writes onto ``pipe`` (a MULTI pipeline the caller sends)."""
    everyone = [read for read in everyone if read in _READS]
    pairs = [(read, owner) for read, ids in owners.items() if read not in everyone for owner in ids]
    for read in everyone:
        pipe.incr(_read_gen_key(read))
    for owner in {owner for _, owner in pairs}:
        pipe.incr(_user_gen_key(owner))
        pipe.expire(_user_gen_key(owner), USER_GEN_TTL_S)
    for read, owner in pairs:
        pipe.delete(_entry_key(read, owner))


def drop_all() -> None:
    """Invalidate every personal entry (tests between rolled-back transactions; a restored database)."""
    drop(everyone=list(_READS))


def affected(writes: Mapping[str, Collection[str]]) -> tuple[dict[str, set[str]], set[str]]:
    """Return (owners per read, reads of everyone) that ``writes`` ({table: owners}) change."""
    owners: dict[str, set[str]] = {}
    everyone: set[str] = set()
    any_table = writes.get(changes.ANY_TABLE)
    for read, deps in _READS.items():
        for table, mode in deps.items():
            written = writes.get(table)
            if any_table is not None:
                written = {*(written or ()), *any_table}
            if written is None:
                continue
            if mode == EVERYONE or changes.UNKNOWN in written:
                everyone.add(read)
            else:
                owners.setdefault(read, set()).update(written)
    return {read: ids for read, ids in owners.items() if read not in everyone}, everyone


def _after_commit(written: changes.Changes, pipe: Any) -> None:
    owners, everyone = affected(written)
    _queue_drop(pipe, owners=owners, everyone=everyone)


def init_personal_events() -> None:
    """Drop the personal entries a committed transaction changed (`backend.core.changes`; idempotent).

    Queued on the commit's one pipeline with the showcases' drops (`changes.on_commit_pipelined`).
    """
    changes.init_write_events()
    changes.on_commit_pipelined(_after_commit)
