"""Typed settings read from the environment: the one registry of configuration.

`Settings` is the only declaration of a setting: its field gives the type, the default and (in its
metadata, when it differs from the field name) the environment variable. `load_config()` reads
every field from the environment with the parser of its type and is called by `create_app`, which
copies the result into the Flask config; module code reads `current_app.config["KEY"]` with no
default of its own. Every variable read here appears in `.env.example` with a comment; nothing
reads `os.environ` anywhere else in the package.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from typing import Any, get_type_hints

# Development defaults: long enough for HS256, and refused outside development/test.
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-0000"
DEV_JWT_SECRET_KEY = "dev-only-jwt-secret-not-for-production-0000"
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", DEV_SECRET_KEY, DEV_JWT_SECRET_KEY}

Parser = Callable[[str], Any]


def _sqlalchemy_url(url: str) -> str:
    """Pin the psycopg2 driver (SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://)."""
    url = url.strip()
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


def _upper(raw: str) -> str:
    return raw.strip().upper()


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _comma_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _seconds(raw: str) -> timedelta:
    return timedelta(seconds=int(raw))


# Parser of each field type. A blank value means "the default" for the types listed in
# _BLANK_IS_DEFAULT; for text and lists it is a value (an empty string, an empty list).
_PARSERS: dict[Any, Parser] = {
    str: str.strip,
    int: int,
    float: float,
    bool: _bool,
    list[str]: _comma_list,
    timedelta: _seconds,
}
_BLANK_IS_DEFAULT = {int, float, bool, timedelta}
_EXPECTED = {int: "an integer", float: "a number", timedelta: "an integer (seconds)"}


def _env(name: str | None, default: Any, parse: Parser | None = None) -> Any:
    """Declare a setting read from variable `name` (None: not read from the environment at all).

    `parse` replaces the parser of the field's type when the text needs more than that.
    """
    return field(default=default, metadata={"env": name, "parse": parse})


@dataclass
class Settings:
    """Application settings; attribute names are the Flask config keys, defaults the only ones.

    A field is read from the environment variable of the same name unless `_env` names another
    one (or None: a constant of the app that tests may still override through `create_app`).
    """

    ENV: str = _env("APP_ENV", "development")
    SECRET_KEY: str = DEV_SECRET_KEY
    JWT_SECRET_KEY: str = DEV_JWT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI: str = _env(
        "DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/qyquant", _sqlalchemy_url
    )
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    CELERY_BROKER_URL: str = ""  # empty: REDIS_URL (see as_flask_config)
    REDIS_KEY_PREFIX: str = "qyq:"
    # The usual local frontends (Vite dev 5173, Vite preview 4173, CRA/Next 3000) on both host names.
    CORS_ORIGINS: list[str] = field(
        default_factory=lambda: [
            f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (5173, 4173, 3000)
        ]
    )
    MAX_CONTENT_LENGTH: int = 10 * 1024 * 1024
    JSON_MAX_DEPTH: int = 64  # deeper JSON bodies are refused with 422 (core/input_guard.py)
    LOG_LEVEL: str = _env("LOG_LEVEL", "INFO", _upper)
    JWT_ACCESS_TOKEN_EXPIRES: timedelta = _env("JWT_ACCESS_TOKEN_EXPIRES_S", timedelta(minutes=15))
    JWT_REFRESH_TOKEN_EXPIRES: timedelta = _env("JWT_REFRESH_TOKEN_EXPIRES_S", timedelta(days=30))
    RATELIMIT_LOGIN: str = "10 per minute"  # per address and username
    RATELIMIT_LOGIN_FAILURES: str = "20 per minute;200 per day"  # failed logins per address, any username
    RATELIMIT_REGISTER: str = "10 per hour;50 per day"  # registrations per address
    RATELIMIT_DEFAULT: str = _env(None, "")
    FERNET_KEYS: list[str] = field(default_factory=list)
    STORAGE_ROOT: str = ""  # empty: storage/ in the repository (core/storage.py)
    FILES_MAX_BYTES: int = 5 * 1024 * 1024
    AVATAR_MAX_BYTES: int = 1024 * 1024  # an uploaded avatar image (PUT /api/users/me/avatar)
    FORUM_TIP_MAX: str = "10000"  # a Decimal as text; parsed by the forum service
    FORUM_HOT_CANDIDATES: int = 500
    BACKTEST_MONTHLY_QUOTA: int = 100  # backtests a month the dashboard's stats card counts against
    BOT_LOOKBACK_BARS: int = 300  # trailing bars a bot tick feeds its strategy (>= indicator periods)
    BOT_WARMUP_BARS: int = 200  # history a new bot's strategy may see from before its creation
    BOT_DEFAULT_FEE_BPS: str = "10"  # Decimal text; used when POST /api/bots gives no fee_bps
    BOT_DEFAULT_SLIPPAGE_BPS: str = "5"
    BOT_TICK_RETRY_S: int = 60  # re-enqueue a due bot whose enqueued tick never ran
    BOT_CURVE_MAX: int = 5000  # latest equity points (and orders) GET /api/bots/{id}/performance returns
    JOB_STALE_AFTER_S: int = 20
    JOB_HEARTBEAT_S: float = 5.0
    JOB_MAX_ATTEMPTS: int = 2
    CELERY_TASK_TIME_LIMIT_S: int = 900
    CELERY_ALWAYS_EAGER: bool = False
    # glibc malloc in worker processes (backend/core/malloc.py, docs/engine.md): 0 (the default)
    # leaves glibc's dynamic thresholds, which keep a job's freed arrays for its next steps; fixed
    # thresholds (bytes) give them back to the system at once, ~5 MB off a 1M-bar job's peak for
    # ~40 % more time (every large array mapped and faulted in afresh).
    WORKER_MALLOC_MMAP_THRESHOLD: int = 0
    WORKER_MALLOC_TRIM_THRESHOLD: int = 0
    # After loading the numba kernels, a worker process drops LLVM's clean resident pages
    # (backend/core/resident.py, docs/engine.md): about 65 MB less RSS per process.
    WORKER_RELEASE_LLVM_PAGES: bool = True
    ADMIN_USERNAME: str = "admin"
    ADMIN_PASSWORD: str = "admin123"
    PASSWORD_HASH_PROFILE: str = "strong"
    PASSWORD_HASH_CONCURRENCY: int = 1  # Argon2 computations at once per process (core/password_gate.py)
    PASSWORD_HASH_WAIT_MS: int = 200  # longest wait for a hashing slot before 503 + Retry-After
    REDIS_TIMEOUT_MS: int = 500  # connect and read timeout of every Redis client (API, limiter, broker)
    REDIS_BACKOFF_S: int = 10  # after a Redis error, a process skips the session cache this long
    AUTH_CACHE_TTL_S: int = 10  # how long Redis caches a session's "still valid" (<= REDIS_BACKOFF_S)
    SESSIONS_KEEP_EXPIRED_DAYS: int = 30  # expired login sessions are deleted after this (beat, hourly)
    SHOWCASE_CACHE_TTL_S: int = 10  # lifetime of the dashboard's cached anonymous JSON (core/showcase.py)
    PERSONAL_CACHE_TTL_S: int = 10  # lifetime of a user's cached hot reads, 0 disables (core/personal.py)
    HEALTH_TIMEOUT_MS: int = 1500  # /api/health reports a check still running after this as failed
    EVENTS_STREAM_MAXLEN: int = 1000  # events kept per user (and market) stream: the Last-Event-ID window
    EVENTS_STREAM_TTL_S: int = 86400  # an idle stream's key expires after this (core/events.py)
    STREAM_TICKET_TTL_S: int = 30  # a stream ticket (POST /api/stream/ticket) works once within this
    STREAM_HEARTBEAT_S: float = 15.0  # heartbeat comment, session check and longest XREAD block
    STREAM_MAX_PER_USER: int = 10  # open streams (SSE + WebSocket) per user; more: 429
    STREAM_MAX_TOPICS: int = 20  # topics (markets) one connection may follow
    STREAM_RETRY_MS: int = 3000  # the SSE `retry:` hint sent when a stream opens
    STREAM_WS_POLL_MS: int = 250  # /ws/market: longest wait on Redis between reads of client messages
    VERSION: str = _env(None, "0.1.0")
    # AI auditor (backend/modules/agent; docs/agent.md)
    OPENAI_API_KEY: str = ""
    OPENAI_BASE_URL: str = ""
    AGENT_MODEL: str = "gpt-4o"
    AGENT_EMBED_MODEL: str = "text-embedding-3-small"
    AGENT_EMBED_DIMS: int = 1536
    AGENT_MEMORY_COLLECTION: str = "qyquant_memories"
    AGENT_LLM_TIMEOUT_S: int = 30
    AGENT_LLM_ATTEMPTS: int = 3
    AGENT_LLM_BACKOFF_MS: int = 1000
    QDRANT_PATH: str = ".run/qdrant"  # an empty value also means this default (agent/settings.py)
    QDRANT_URL: str = ""
    QDRANT_API_KEY: str = ""
    MEM0_DIR: str = ""
    AGENT_MEMORY_LOCK_TIMEOUT_S: float = 10.0  # longest wait for the embedded Qdrant folder, then 503
    # Workflow engine (backend/modules/workflows; docs/workflows.md)
    WORKFLOW_MAX_NODES: int = 500
    WORKFLOW_MAX_EDGES: int = 2000
    # Market data (backend/modules/market; docs/market-data.md)
    MARKET_MOCK_SEED: int = 0
    MARKET_MOCK_CACHE_BARS: int = 2_000_000  # mock bars kept per process (LRU; 48 bytes a bar)
    # Backtests (backend/modules/backtests; docs/engine.md)
    BACKTEST_MAX_BARS: int = 200_000
    BACKTEST_KLINE_MAX: int = 2000
    BACKTEST_CURVE_MAX: int = 2000
    BACKTEST_POLL_TRADES_MAX: int = 500  # fills a result carries inline; all: GET .../{id}/trades
    BACKTEST_MAX_ACTIVE: int = 5
    # The engine's numba kernels (docs/engine.md); false: the pure-numpy path (same trades and
    # metrics), about 100 MB less resident per worker process and about half the engine speed.
    ENGINE_JIT: bool = True
    # Parameter sweeps (backend/modules/backtests/sweeps.py, sweep_work.py; docs/backtests.md)
    SWEEP_MAX_RUNS: int = 10_000
    SWEEP_CHUNK_RUNS: int = 50
    # Notification centre (backend/modules/notifications; docs/notifications.md)
    NOTIFICATIONS_MAX_PER_USER: int = 1000  # newest kept per user; older ones are deleted on arrival
    # Webhooks (backend/modules/webhooks; docs/webhooks.md)
    WEBHOOKS_ALLOW_PRIVATE: bool = False  # allow private/loopback/link-local targets (development only)
    WEBHOOKS_MAX_PER_USER: int = 10  # endpoints a user may register
    WEBHOOKS_MAX_ATTEMPTS: int = 6  # delivery attempts before a delivery is failed for good
    WEBHOOKS_RETRY_BASE_S: int = 30  # first retry delay; doubles per attempt
    WEBHOOKS_RETRY_MAX_S: int = 3600  # longest retry delay
    WEBHOOKS_CONNECT_TIMEOUT_S: float = 3.0
    WEBHOOKS_READ_TIMEOUT_S: float = 5.0  # whole response, headers and body
    WEBHOOKS_MAX_RESPONSE_BYTES: int = 65536  # response bytes read (the rest is not read)
    WEBHOOKS_DELIVERIES_KEPT: int = 500  # newest deliveries kept per endpoint

    def as_flask_config(self) -> dict[str, Any]:
        """Return the settings as a dict for `app.config.update`, with derived keys."""
        cfg = {f.name: getattr(self, f.name) for f in fields(self)}
        cfg["CELERY_BROKER_URL"] = self.CELERY_BROKER_URL or self.REDIS_URL
        cfg["RATELIMIT_STORAGE_URI"] = self.REDIS_URL
        cfg["RATELIMIT_KEY_PREFIX"] = f"{self.REDIS_KEY_PREFIX}rl"
        cfg["RATELIMIT_HEADERS_ENABLED"] = True
        # flask-limiter would rewrite Retry-After on every response of a limited route (a 503 from
        # the password gate included); Retry-After comes from the error handlers alone.
        cfg["RATELIMIT_HEADER_RETRY_AFTER"] = "X-RateLimit-Retry-After"
        # Redis outage: fall back to a per-process in-memory limit rather than 500 every login.
        cfg["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
        cfg["RATELIMIT_SWALLOW_ERRORS"] = True
        # No SELECT 1 before every checkout and no second (empty) rollback at every checkin:
        # backend/core/db.py `init_engine_events` pings only connections that sat idle and rolls
        # back only a connection returned inside a transaction.
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": False,
            "pool_reset_on_return": None,
            # Bound every wait for Postgres: a server that accepts but never answers (frozen, or a
            # dead peer behind a live socket) fails the request in seconds instead of hanging it.
            "pool_timeout": 10,
            "connect_args": {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 30},
        }
        cfg["TESTING"] = self.ENV == "test"
        return cfg


def env_variables() -> dict[str, Field[Any]]:
    """Return the environment variable of every setting read from the environment, with its field."""
    return {f.metadata.get("env", f.name): f for f in fields(Settings) if f.metadata.get("env", f.name)}


def load_config(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `env` (default: `os.environ`) and validate them for the environment.

    An unset variable keeps the field's default; so does a blank one for numbers, flags and durations.
    """
    env = os.environ if env is None else env
    types = get_type_hints(Settings)
    values: dict[str, Any] = {}
    for name, f in env_variables().items():
        raw = env.get(name)
        if raw is None or (raw.strip() == "" and types[f.name] in _BLANK_IS_DEFAULT):
            continue
        parse = f.metadata.get("parse") or _PARSERS[types[f.name]]
        try:
            values[f.name] = parse(raw)
        except ValueError as exc:
            expected = _EXPECTED.get(types[f.name], "valid")
            raise ValueError(f"{name} must be {expected}, got {raw!r}") from exc
    s = Settings(**values)
    validate(s)
    return s


def validate(s: Settings) -> None:
    """Refuse inconsistent settings, and placeholder secrets or no encryption key outside dev/test."""
    if s.AUTH_CACHE_TTL_S > s.REDIS_BACKOFF_S:
        # core/sessions.py: a process that saw Redis fail must read Postgres until every
        # "session valid" lease cached before the failure has expired.
        raise ValueError("AUTH_CACHE_TTL_S must not exceed REDIS_BACKOFF_S")
    for name in ("SHOWCASE_CACHE_TTL_S", "PERSONAL_CACHE_TTL_S"):
        if getattr(s, name) > s.REDIS_BACKOFF_S:
            # core/changes.py (Batch): a process whose after-commit invalidation failed reads
            # Postgres until every entry filled before that write has expired.
            raise ValueError(f"{name} must not exceed REDIS_BACKOFF_S")
    if s.ENV in {"development", "test"}:
        return
    problems = [
        name
        for name in ("SECRET_KEY", "JWT_SECRET_KEY")
        if getattr(s, name) in PLACEHOLDER_SECRETS or len(getattr(s, name)) < 32
    ]
    if not s.FERNET_KEYS:
        problems.append("FERNET_KEYS")
    if problems:
        raise RuntimeError(
            f"refusing to start in {s.ENV!r}: set real values for {', '.join(problems)} "
            "(secrets of at least 32 characters; see .env.example)"
        )
