"""Per-user long-term memory: a small adapter over Mem0 2.x with Qdrant.

Why an adapter: Mem0 reads ``MEM0_TELEMETRY``/``MEM0_DIR`` at import (so they are set before the
lazy import); Mem0 2.x wants ``filters={"user_id": ...}`` for search/get_all and its
``get``/``delete`` do not check the owner (done here); the embedding size must be given to both
the embedder and Qdrant. Embedded Qdrant locks its folder for one client in one process, and the
API and the Celery worker are different processes: so in embedded mode each operation opens the
folder under an inter-process file lock and closes it after (~0.1 s); with ``QDRANT_URL`` one
Mem0 instance per process talks to the server.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_server_memories: dict[tuple, Any] = {}


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
    lock_timeout_s: float = 10.0  # longest wait for the embedded folder (another process has it open)


@dataclass(frozen=True)
class Memory:
    """One remembered fact of a user's: ``kind`` is "preference" or "audit", ``created_at`` Unix ms."""

    id: str
    memory: str
    kind: str
    score: float | None
    created_at: int | None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON an audit keeps of a memory it used (``Audit.memories_used``)."""
        # Audits stored before this class existed hold "createdAt"; one spelling stays in the column.
        return {
            "id": self.id,
            "memory": self.memory,
            "kind": self.kind,
            "score": self.score,
            "createdAt": self.created_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Memory:
        """Return the memory ``to_json`` stored."""
        return cls(data["id"], data["memory"], data["kind"], data["score"], data["createdAt"])


def _prepare_env(s: MemorySettings) -> str:
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    mem0_dir = os.path.abspath(s.mem0_dir or os.path.join(s.qdrant_path, os.pardir, "mem0"))
    os.environ.setdefault("MEM0_DIR", mem0_dir)
    os.makedirs(mem0_dir, exist_ok=True)
    return mem0_dir


def _mem0_config(s: MemorySettings, client: Any) -> dict[str, Any]:
    openai = {"api_key": s.api_key, "openai_base_url": s.base_url}
    mem0_dir = _prepare_env(s)
    return {
        "vector_store": {
            "provider": "qdrant",
            "config": {
                "collection_name": s.collection,
                "embedding_model_dims": s.embed_dims,
                "client": client,
            },
        },
        "llm": {"provider": "openai", "config": {"model": s.llm_model, **openai}},
        "embedder": {
            "provider": "openai",
            "config": {"model": s.embed_model, "embedding_dims": s.embed_dims, **openai},
        },
        "history_db_path": os.path.join(mem0_dir, "history.db"),
    }


def _build(s: MemorySettings, client: Any) -> Any:
    from mem0 import Memory

    with warnings.catch_warnings():
        # Mem0 asks for payload indexes, which embedded Qdrant ignores (and warns about)
        warnings.filterwarnings("ignore", message="Payload indexes have no effect", category=UserWarning)
        return Memory.from_config(_mem0_config(s, client))


class MemoryBusy(TimeoutError):
    """Raised when the embedded memory folder stays locked (by this or another process) too long."""


_LOCK_POLL_S = 0.02


@contextmanager
def _folder_lock(path: str, timeout_s: float) -> Iterator[None]:
    """Hold the folder's inter-process lock; wait at most ``timeout_s`` for it (then MemoryBusy)."""
    os.makedirs(path, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    if not _lock.acquire(timeout=max(0.0, timeout_s)):
        raise MemoryBusy(f"memory folder {path} busy in this process for {timeout_s}s")
    try:
        with open(os.path.join(path, os.pardir, os.path.basename(path) + ".lock"), "w") as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MemoryBusy(
                            f"memory folder {path} locked by another process for {timeout_s}s"
                        ) from None
                    time.sleep(_LOCK_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        _lock.release()


@contextmanager
def open_store(s: MemorySettings) -> Iterator[MemoryStore]:
    """Yield a MemoryStore; embedded Qdrant is opened under a file lock and closed after."""
    _prepare_env(s)
    if s.qdrant_url:
        key = (hashlib.sha256(s.api_key.encode()).hexdigest(), s.base_url, s.qdrant_url, s.collection)
        with _lock:
            if key not in _server_memories:
                from qdrant_client import QdrantClient

                client = QdrantClient(url=s.qdrant_url, api_key=s.qdrant_api_key)
                _server_memories[key] = _build(s, client)
        yield MemoryStore(_server_memories[key])
        return
    with _folder_lock(s.qdrant_path, s.lock_timeout_s):
        from qdrant_client import QdrantClient

        client = QdrantClient(path=s.qdrant_path)
        try:
            yield MemoryStore(_build(s, client))
        finally:
            client.close()


def _ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def _row(item: dict[str, Any]) -> Memory:
    meta = item.get("metadata") or {}
    return Memory(
        id=item["id"],
        memory=item.get("memory", ""),
        kind=meta.get("kind", "preference"),
        score=item.get("score"),
        created_at=_ms(item.get("created_at")),
    )


class MemoryStore:
    """One memory space per user id; every call names the user (use through ``open_store``)."""

    def __init__(self, mem: Any) -> None:
        self.mem = mem

    def remember_statement(self, *, user_id: str, text: str) -> list[Memory]:
        """Extract facts from what the user said (one LLM call) and store them."""
        out = self.mem.add(
            [{"role": "user", "content": text}], user_id=user_id, metadata={"kind": "preference"}
        )
        return self._stored(out)

    def remember_verbatim(self, *, user_id: str, text: str, kind: str) -> list[Memory]:
        """Store ``text`` as it is (no LLM call), tagged with ``kind``."""
        out = self.mem.add(text, user_id=user_id, infer=False, metadata={"kind": kind})
        return self._stored(out)

    def _stored(self, out: dict[str, Any]) -> list[Memory]:
        # add() answers without timestamps or metadata; read the stored rows back
        return [_row(self.mem.get(r["id"]) or r) for r in out.get("results", [])]

    def search(self, *, user_id: str, query: str, limit: int = 5) -> list[Memory]:
        """Return the user's memories nearest to ``query``, best first."""
        out = self.mem.search(query, filters={"user_id": user_id}, top_k=limit)
        return [_row(r) for r in out.get("results", [])]

    def list(self, *, user_id: str, limit: int = 100) -> list[Memory]:
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
