"""`make dev` (scripts/dev.py): each stack keeps its files under its own run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import dev


def _env(monkeypatch: pytest.MonkeyPatch, run_dir: Path, db_name: str, storage: str | None = None) -> dict:
    if storage is None:
        monkeypatch.delenv("STORAGE_ROOT", raising=False)
    else:
        monkeypatch.setenv("STORAGE_ROOT", storage)
    return dev._env("postgresql://h/x", "redis://h/0", db_name=db_name, run_dir=run_dir)


def test_each_stack_stores_files_under_its_own_run_directory(monkeypatch, tmp_path):
    a = _env(monkeypatch, tmp_path / "run-a", "qyquant")
    b = _env(monkeypatch, tmp_path / "run-b", "qyquant")
    same_run_other_db = _env(monkeypatch, tmp_path / "run-a", "qyquant_2")
    assert a["STORAGE_ROOT"] == str(tmp_path / "run-a" / "storage" / "qyquant")
    assert len({a["STORAGE_ROOT"], b["STORAGE_ROOT"], same_run_other_db["STORAGE_ROOT"]}) == 3
    repo_storage = Path(dev.ROOT / "storage")
    assert all(repo_storage not in Path(e["STORAGE_ROOT"]).parents for e in (a, b, same_run_other_db))


def test_an_explicit_storage_root_is_kept(monkeypatch, tmp_path):
    assert _env(monkeypatch, tmp_path, "qyquant", storage="/srv/files")["STORAGE_ROOT"] == "/srv/files"
    assert _env(monkeypatch, tmp_path, "qyquant", storage="")["STORAGE_ROOT"].startswith(str(tmp_path))
