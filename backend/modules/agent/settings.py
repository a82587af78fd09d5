"""Agent settings from the app config: the OpenAI key, the model and the memory store."""
from __future__ import annotations

from flask import current_app

from backend.modules.agent.llm import LLMSettings
from backend.modules.agent.memory import MemorySettings
from backend.modules.users import service as users_service


def api_key_for(user_id: str) -> str | None:
    """Return the OpenAI key: the environment's, else the user's stored "openai" key (never logged)."""
    key = current_app.config.get("OPENAI_API_KEY") or None
    if key:
        return key
    stored = users_service.get_api_secret(user_id=user_id, exchange="openai")
    return stored[0] if stored else None


def llm_settings(api_key: str) -> LLMSettings:
    """Return the model settings from the app config."""
    c = current_app.config
    return LLMSettings(api_key=api_key, base_url=c.get("OPENAI_BASE_URL") or None,
                       model=c.get("AGENT_MODEL", "gpt-4o"), timeout_s=float(c.get("AGENT_LLM_TIMEOUT_S", 30)),
                       attempts=int(c.get("AGENT_LLM_ATTEMPTS", 3)),
                       backoff_s=int(c.get("AGENT_LLM_BACKOFF_MS", 1000)) / 1000.0)


def memory_settings(api_key: str) -> MemorySettings:
    """Return the Mem0/Qdrant settings from the app config."""
    c = current_app.config
    return MemorySettings(
        api_key=api_key, base_url=c.get("OPENAI_BASE_URL") or None, llm_model=c.get("AGENT_MODEL", "gpt-4o"),
        embed_model=c.get("AGENT_EMBED_MODEL", "text-embedding-3-small"),
        embed_dims=int(c.get("AGENT_EMBED_DIMS", 1536)), collection=c.get("AGENT_MEMORY_COLLECTION", "qyquant_memories"),
        qdrant_path=c.get("QDRANT_PATH") or ".run/qdrant", qdrant_url=c.get("QDRANT_URL") or None,
        qdrant_api_key=c.get("QDRANT_API_KEY") or None, mem0_dir=c.get("MEM0_DIR") or None)
