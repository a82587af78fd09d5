"""Typed settings read from the environment: the one registry of configuration.

Every variable read here appears in `.env.example` with a comment. `load_config()` is called by
`create_app`; nothing reads `os.environ` anywhere else in the package.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Mapping

# Development defaults: long enough for HS256, and refused outside development/test.
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-0000"
DEV_JWT_SECRET_KEY = "dev-only-jwt-secret-not-for-production-0000"
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", DEV_SECRET_KEY, DEV_JWT_SECRET_KEY}


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default).strip()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _list(env: Mapping[str, str], name: str, default: str) -> list[str]:
    return [item.strip() for item in env.get(name, default).split(",") if item.strip()]


def _sqlalchemy_url(url: str) -> str:
    """Pin the psycopg2 driver (SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare):]
    return url


@dataclass
class Settings:
    """Application settings; attribute names are the Flask config keys."""

    ENV: str = "development"
    SECRET_KEY: str = DEV_SECRET_KEY
    JWT_SECRET_KEY: str = DEV_JWT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI: str = "postgresql://postgres@127.0.0.1:5432/qyquant"
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    CELERY_BROKER_URL: str = ""
    REDIS_KEY_PREFIX: str = "qyq:"
    CORS_ORIGINS: list[str] = field(default_factory=lambda: ["http://localhost:5173", "http://localhost:3000"])
    MAX_CONTENT_LENGTH: int = 10 * 1024 * 1024
    LOG_LEVEL: str = "INFO"
    JWT_ACCESS_TOKEN_EXPIRES: timedelta = timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES: timedelta = timedelta(days=30)
    RATELIMIT_LOGIN: str = "10 per minute"
    RATELIMIT_DEFAULT: str = ""
    FERNET_KEYS: list[str] = field(default_factory=list)
    STORAGE_ROOT: str = ""
    FILES_MAX_BYTES: int = 5 * 1024 * 1024
    FORUM_TIP_MAX: str = "10000"  # a Decimal as text; parsed by the forum service
    FORUM_HOT_CANDIDATES: int = 500
    BOT_LOOKBACK_BARS: int = 300  # trailing bars a bot tick feeds its strategy (>= indicator periods)
    BOT_WARMUP_BARS: int = 200  # history a new bot's strategy may see from before its creation
    BOT_DEFAULT_FEE_BPS: str = "10"  # Decimal text; used when POST /api/bots gives no fee_bps
    BOT_DEFAULT_SLIPPAGE_BPS: str = "5"
    BOT_TICK_RETRY_S: int = 60  # re-enqueue a due bot whose enqueued tick never ran
    BOT_CURVE_MAX: int = 5000  # latest equity points (and orders) GET /api/bots/{id}/performance returns
    JOB_STALE_AFTER_S: int = 120
    JOB_MAX_ATTEMPTS: int = 2
    CELERY_TASK_TIME_LIMIT_S: int = 900
    CELERY_ALWAYS_EAGER: bool = False
    ADMIN_USERNAME: str = "admin"
    ADMIN_PASSWORD: str = "admin123"
    PASSWORD_HASH_PROFILE: str = "strong"
    VERSION: str = "0.1.0"
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
    QDRANT_PATH: str = ".run/qdrant"
    QDRANT_URL: str = ""
    QDRANT_API_KEY: str = ""
    MEM0_DIR: str = ""
    # Workflow engine (backend/modules/workflows; docs/workflows.md)
    WORKFLOW_MAX_NODES: int = 500
    WORKFLOW_MAX_EDGES: int = 2000
    # Market data (backend/modules/market; docs/market-data.md)
    MARKET_MOCK_SEED: int = 0
    # Backtests (backend/modules/backtests; docs/engine.md)
    BACKTEST_MAX_BARS: int = 200_000
    BACKTEST_KLINE_MAX: int = 2000
    BACKTEST_CURVE_MAX: int = 2000
    BACKTEST_MAX_ACTIVE: int = 5

    def as_flask_config(self) -> dict[str, Any]:
        """Return the settings as a dict for `app.config.update`, with derived keys."""
        cfg = {f.name: getattr(self, f.name) for f in fields(self)}
        cfg["CELERY_BROKER_URL"] = self.CELERY_BROKER_URL or self.REDIS_URL
        cfg["RATELIMIT_STORAGE_URI"] = self.REDIS_URL
        cfg["RATELIMIT_KEY_PREFIX"] = f"{self.REDIS_KEY_PREFIX}rl"
        cfg["RATELIMIT_HEADERS_ENABLED"] = True
        # Redis outage: fall back to a per-process in-memory limit rather than 500 every login.
        cfg["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
        cfg["RATELIMIT_SWALLOW_ERRORS"] = True
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
        cfg["TESTING"] = self.ENV == "test"
        return cfg


def load_config(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `env` (default: `os.environ`) and validate them for the environment."""
    env = os.environ if env is None else env
    s = Settings(
        ENV=_str(env, "APP_ENV", "development"),
        SECRET_KEY=_str(env, "SECRET_KEY", DEV_SECRET_KEY),
        JWT_SECRET_KEY=_str(env, "JWT_SECRET_KEY", DEV_JWT_SECRET_KEY),
        SQLALCHEMY_DATABASE_URI=_sqlalchemy_url(_str(env, "DATABASE_URL", Settings.SQLALCHEMY_DATABASE_URI)),
        REDIS_URL=_str(env, "REDIS_URL", Settings.REDIS_URL),
        CELERY_BROKER_URL=_str(env, "CELERY_BROKER_URL", ""),
        REDIS_KEY_PREFIX=_str(env, "REDIS_KEY_PREFIX", "qyq:"),
        CORS_ORIGINS=_list(env, "CORS_ORIGINS", "http://localhost:5173,http://localhost:3000"),
        MAX_CONTENT_LENGTH=_int(env, "MAX_CONTENT_LENGTH", 10 * 1024 * 1024),
        LOG_LEVEL=_str(env, "LOG_LEVEL", "INFO").upper(),
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=_int(env, "JWT_ACCESS_TOKEN_EXPIRES_S", 15 * 60)),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=_int(env, "JWT_REFRESH_TOKEN_EXPIRES_S", 30 * 86400)),
        RATELIMIT_LOGIN=_str(env, "RATELIMIT_LOGIN", "10 per minute"),
        FERNET_KEYS=_list(env, "FERNET_KEYS", ""),
        STORAGE_ROOT=_str(env, "STORAGE_ROOT", ""),
        FILES_MAX_BYTES=_int(env, "FILES_MAX_BYTES", 5 * 1024 * 1024),
        FORUM_TIP_MAX=_str(env, "FORUM_TIP_MAX", "10000"),
        FORUM_HOT_CANDIDATES=_int(env, "FORUM_HOT_CANDIDATES", 500),
        BOT_LOOKBACK_BARS=_int(env, "BOT_LOOKBACK_BARS", 300),
        BOT_WARMUP_BARS=_int(env, "BOT_WARMUP_BARS", 200),
        BOT_DEFAULT_FEE_BPS=_str(env, "BOT_DEFAULT_FEE_BPS", "10"),
        BOT_DEFAULT_SLIPPAGE_BPS=_str(env, "BOT_DEFAULT_SLIPPAGE_BPS", "5"),
        BOT_TICK_RETRY_S=_int(env, "BOT_TICK_RETRY_S", 60),
        BOT_CURVE_MAX=_int(env, "BOT_CURVE_MAX", 5000),
        JOB_STALE_AFTER_S=_int(env, "JOB_STALE_AFTER_S", 120),
        JOB_MAX_ATTEMPTS=_int(env, "JOB_MAX_ATTEMPTS", 2),
        CELERY_TASK_TIME_LIMIT_S=_int(env, "CELERY_TASK_TIME_LIMIT_S", 900),
        CELERY_ALWAYS_EAGER=_bool(env, "CELERY_ALWAYS_EAGER", False),
        ADMIN_USERNAME=_str(env, "ADMIN_USERNAME", "admin"),
        ADMIN_PASSWORD=_str(env, "ADMIN_PASSWORD", "admin123"),
        PASSWORD_HASH_PROFILE=_str(env, "PASSWORD_HASH_PROFILE", "strong"),
        OPENAI_API_KEY=_str(env, "OPENAI_API_KEY", ""),
        OPENAI_BASE_URL=_str(env, "OPENAI_BASE_URL", ""),
        AGENT_MODEL=_str(env, "AGENT_MODEL", "gpt-4o"),
        AGENT_EMBED_MODEL=_str(env, "AGENT_EMBED_MODEL", "text-embedding-3-small"),
        AGENT_EMBED_DIMS=_int(env, "AGENT_EMBED_DIMS", 1536),
        AGENT_MEMORY_COLLECTION=_str(env, "AGENT_MEMORY_COLLECTION", "qyquant_memories"),
        AGENT_LLM_TIMEOUT_S=_int(env, "AGENT_LLM_TIMEOUT_S", 30),
        AGENT_LLM_ATTEMPTS=_int(env, "AGENT_LLM_ATTEMPTS", 3),
        AGENT_LLM_BACKOFF_MS=_int(env, "AGENT_LLM_BACKOFF_MS", 1000),
        QDRANT_PATH=_str(env, "QDRANT_PATH", ".run/qdrant"),
        QDRANT_URL=_str(env, "QDRANT_URL", ""),
        QDRANT_API_KEY=_str(env, "QDRANT_API_KEY", ""),
        MEM0_DIR=_str(env, "MEM0_DIR", ""),
        WORKFLOW_MAX_NODES=_int(env, "WORKFLOW_MAX_NODES", 500),
        WORKFLOW_MAX_EDGES=_int(env, "WORKFLOW_MAX_EDGES", 2000),
        MARKET_MOCK_SEED=_int(env, "MARKET_MOCK_SEED", 0),
        BACKTEST_MAX_BARS=_int(env, "BACKTEST_MAX_BARS", 200_000),
        BACKTEST_KLINE_MAX=_int(env, "BACKTEST_KLINE_MAX", 2000),
        BACKTEST_CURVE_MAX=_int(env, "BACKTEST_CURVE_MAX", 2000),
        BACKTEST_MAX_ACTIVE=_int(env, "BACKTEST_MAX_ACTIVE", 5),
    )
    validate(s)
    return s


def validate(s: Settings) -> None:
    """Refuse to run outside dev/test with placeholder secrets or no encryption key."""
    if s.ENV in {"development", "test"}:
        return
    problems = [name for name in ("SECRET_KEY", "JWT_SECRET_KEY")
                if getattr(s, name) in PLACEHOLDER_SECRETS or len(getattr(s, name)) < 32]
    if not s.FERNET_KEYS:
        problems.append("FERNET_KEYS")
    if problems:
        raise RuntimeError(
            f"refusing to start in {s.ENV!r}: set real values for {', '.join(problems)} "
            "(secrets of at least 32 characters; see .env.example)"
        )


