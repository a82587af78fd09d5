"""Agent settings from the app config: the OpenAI key, the model and the memory store."""

from __future__ import annotations

from flask import current_app

from backend.config import Settings
from backend.modules.agent.llm import LLMSettings
from backend.modules.agent.memory import MemorySettings
from backend.modules.users import service as users_service


def api_key_for(user_id: str) -> str | None:
    """Return the OpenAI key: the environment's, else the user's stored "openai" key (never logged)."""
    key = current_app.config["OPENAI_API_KEY"] or None
    if key:
        return key
    stored = users_service.get_api_secret(user_id=user_id, exchange="openai")
    return stored[0] if stored else None


def llm_settings(api_key: str) -> LLMSettings:
    """Return the model settings from the app config."""
    c = current_app.config
    return LLMSettings(
        api_key=api_key,
        base_url=c["OPENAI_BASE_URL"] or None,
        model=c["AGENT_MODEL"],
        timeout_s=float(c["AGENT_LLM_TIMEOUT_S"]),
        attempts=int(c["AGENT_LLM_ATTEMPTS"]),
        backoff_s=int(c["AGENT_LLM_BACKOFF_MS"]) / 1000.0,
    )


def memory_settings(api_key: str) -> MemorySettings:
    """Return the Mem0/Qdrant settings from the app config."""
    c = current_app.config
    return MemorySettings(
        api_key=api_key,
        base_url=c["OPENAI_BASE_URL"] or None,
        llm_model=c["AGENT_MODEL"],
        embed_model=c["AGENT_EMBED_MODEL"],
        embed_dims=int(c["AGENT_EMBED_DIMS"]),
        collection=c["AGENT_MEMORY_COLLECTION"],
        qdrant_path=c["QDRANT_PATH"] or Settings.QDRANT_PATH,
        qdrant_url=c["QDRANT_URL"] or None,
        qdrant_api_key=c["QDRANT_API_KEY"] or None,
        mem0_dir=c["MEM0_DIR"] or None,
        lock_timeout_s=float(c["AGENT_MEMORY_LOCK_TIMEOUT_S"]),
    )
