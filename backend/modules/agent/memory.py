"""Per-user long-term memory: a small adapter over Mem0 2.x with Qdrant.

Why an adapter: Mem0 reads ``MEM0_TELEMETRY``/``MEM0_DIR`` at import (so they are set before the
lazy import), embedded Qdrant allows one client per folder per process (so the client is a
process-wide singleton handed to Mem0 as ``client=``), Mem0 2.x wants ``filters={"user_id": ...}``
for search/get_all, its ``get``/``delete`` do not check the owner (done here), and the
embedding size must be given to both the embedder and Qdrant.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_memories: dict[tuple, Any] = {}


@dataclass(frozen=True)
class MemorySettings:
    """Where memories live and which OpenAI-compatible endpoint embeds them."""

    api_key: str
    base_url: str | None
    llm_model: str
    embed_model: str
    embed_dims: int
    collection: str
    qdrant_path: str
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    mem0_dir: str | None = None


def _qdrant_client(s: MemorySettings) -> Any:
    """Return the process's one Qdrant client for this location (embedded folder or server)."""
    key = s.qdrant_url or os.path.abspath(s.qdrant_path)
    with _lock:
        if key not in _clients:
            from qdrant_client import QdrantClient

            if s.qdrant_url:
                _clients[key] = QdrantClient(url=s.qdrant_url, api_key=s.qdrant_api_key)
            else:
                os.makedirs(s.qdrant_path, exist_ok=True)
                _clients[key] = QdrantClient(path=s.qdrant_path)
        return _clients[key]


def _mem0_config(s: MemorySettings, client: Any) -> dict[str, Any]:
    openai = {"api_key": s.api_key, "openai_base_url": s.base_url}
    mem0_dir = s.mem0_dir or os.path.join(s.qdrant_path, "..", "mem0")
    return {
        "vector_store": {"provider": "qdrant", "config": {
            "collection_name": s.collection, "embedding_model_dims": s.embed_dims, "client": client}},
        "llm": {"provider": "openai", "config": {"model": s.llm_model, **openai}},
        "embedder": {"provider": "openai", "config": {
            "model": s.embed_model, "embedding_dims": s.embed_dims, **openai}},
        "history_db_path": os.path.join(mem0_dir, "history.db"),
    }


def _memory(s: MemorySettings) -> Any:
    """Return the Mem0 instance for these settings (one per key and location per process)."""
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    mem0_dir = os.path.abspath(s.mem0_dir or os.path.join(s.qdrant_path, "..", "mem0"))
    os.environ.setdefault("MEM0_DIR", mem0_dir)
    os.makedirs(mem0_dir, exist_ok=True)
    key_hash = hashlib.sha256(s.api_key.encode()).hexdigest()
    cache_key = (key_hash, s.base_url, s.qdrant_url or s.qdrant_path, s.collection, s.embed_dims)
    client = _qdrant_client(s)
    with _lock:
        if cache_key not in _memories:
            from mem0 import Memory

            _memories[cache_key] = Memory.from_config(_mem0_config(s, client))
        return _memories[cache_key]


def _row(item: dict[str, Any]) -> dict[str, Any]:
    meta = item.get("metadata") or {}
    return {"id": item["id"], "memory": item.get("memory", ""), "kind": meta.get("kind", "preference"),
            "score": item.get("score"), "createdAt": item.get("created_at")}


class MemoryStore:
    """One memory space per user id; every call names the user."""

    def __init__(self, settings: MemorySettings) -> None:
        self.mem = _memory(settings)

    def remember_statement(self, *, user_id: str, text: str) -> list[dict[str, Any]]:
        """Extract facts from what the user said (one LLM call) and store them."""
        out = self.mem.add([{"role": "user", "content": text}], user_id=user_id,
                           metadata={"kind": "preference"})
        return [_row(r) for r in out.get("results", [])]

    def remember_verbatim(self, *, user_id: str, text: str, kind: str) -> list[dict[str, Any]]:
        """Store ``text`` as it is (no LLM call), tagged with ``kind``."""
        out = self.mem.add(text, user_id=user_id, infer=False, metadata={"kind": kind})
        return [_row(r) for r in out.get("results", [])]

    def search(self, *, user_id: str, query: str, limit: int = 5) -> list[dict[str, Any]]:
        """Return the user's memories nearest to ``query``, best first."""
        out = self.mem.search(query, filters={"user_id": user_id}, top_k=limit)
        return [_row(r) for r in out.get("results", [])]

    def list(self, *, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Return the user's memories."""
        out = self.mem.get_all(filters={"user_id": user_id}, top_k=limit)
        return [_row(r) for r in out.get("results", [])]

    def delete(self, *, user_id: str, memory_id: str) -> bool:
        """Delete one memory if it belongs to ``user_id``; return whether it existed for them."""
        try:
            item = self.mem.get(memory_id)
        except Exception:  # noqa: BLE001 - Mem0/Qdrant raise various errors for malformed ids
            logger.info("memory lookup failed for id %s", memory_id)
            return False
        if not item or item.get("user_id") != user_id:
            return False
        self.mem.delete(memory_id)
        return True

    def delete_all(self, *, user_id: str) -> int:
        """Delete every memory of ``user_id``; return how many there were."""
        count = len(self.list(user_id=user_id, limit=10_000))
        if count:
            self.mem.delete_all(user_id=user_id)
        return count
