"""Files: upload/download round trip, limits, type checks, ownership, listing, delete consistency."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path

import pytest

from tests.helpers.api import error, ok

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CSV = b"time,open,high,low,close,volume\n1700000000000,1,2,0.5,1.5,10\n"


def _stored_files(app) -> list[Path]:
    root = Path(app.config["STORAGE_ROOT"]) / "uploads"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("data", "name", "ctype"),
    [
        (PNG, "chart.png", "image/png"),
        (CSV, "bars.csv", "text/csv"),
        (b"%PDF-1.4\n%%EOF\n", "report.pdf", "application/pdf"),
        (b"def on_bar(b):\n    return None\n", "strategy.py", "text/x-python"),
    ],
)
def test_upload_and_download_are_byte_identical(client, user, upload, data, name, ctype):
    meta = ok(upload(user, data, name), 201)
    assert set(meta) == {"id", "filename", "contentType", "size", "sha256", "createdAt"}
    assert (meta["filename"], meta["contentType"], meta["size"]) == (name, ctype, len(data))
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()

    down = client.get(f"/api/files/{meta['id']}", headers=user.headers)
    assert down.status_code == 200
    assert down.data == data
    assert down.mimetype == ctype
    assert down.headers["Content-Disposition"].startswith(f'attachment; filename="{name}"')
    assert down.headers["X-Content-Type-Options"] == "nosniff"


def test_traversal_looking_names_are_harmless(app, client, user, upload):
    before = set(_stored_files(app))
    meta = ok(upload(user, CSV, "../../etc/passwd.csv"), 201)
    assert meta["filename"] == "passwd.csv"
    new = set(_stored_files(app)) - before
    assert len(new) == 1
    stored = new.pop()
    root = Path(app.config["STORAGE_ROOT"]).resolve()
    assert root in stored.resolve().parents
    assert stored.read_bytes() == CSV
    assert "passwd" not in stored.name  # generated name, never the client's
    assert client.get(f"/api/files/{meta['id']}", headers=user.headers).data == CSV


def test_unicode_names_get_a_safe_disposition(client, user, upload):
    meta = ok(upload(user, CSV, "行情 data.csv"), 201)
    assert meta["filename"] == "行情 data.csv"
    disposition = client.get(f"/api/files/{meta['id']}", headers=user.headers).headers["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"__ data.csv\"; filename*=UTF-8''%E8%A1%8C%E6%83%85%20data.csv"
    )


def test_quotes_and_newlines_cannot_break_the_header():
    from types import SimpleNamespace

    from backend.modules.files.routes import download_response
    from backend.modules.files.service import clean_filename

    name = clean_filename('a"b\r\nSet-Cookie: x=1;.csv')
    assert name == 'a"bSet-Cookie: x=1;.csv'
    resp = download_response(SimpleNamespace(original_name=name, content_type="text/csv"), b"x")
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"a_bSet-Cookie_ x_1_.csv\"; filename*=UTF-8''a%22bSet-Cookie%3A%20x%3D1%3B.csv"
    )
    assert "Set-Cookie" not in resp.headers
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"MZ\x90\x00binary", "tool.exe"),
        (b"%PDF-1.4", "fake.png"),
        (b"<script>alert(1)</script>", "page.html"),
        (PNG, "looks.csv"),
        (b"a,b\n1\n", "ragged.csv"),
        (b"#!/bin/sh", "noext"),
    ],
)
def test_disallowed_content_is_415(app, client, user, upload, data, name):
    before = _stored_files(app)
    body = error(upload(user, data, name), 415, "unsupported_media_type")
    assert body["details"]["error"] == "files.type_not_allowed"
    assert _stored_files(app) == before


def test_oversize_upload_is_413(app, client, user, upload, monkeypatch):
    monkeypatch.setitem(app.config, "FILES_MAX_BYTES", 1024)
    ok(upload(user, b"a" * 1024, "ok.txt"), 201)
    body = error(upload(user, b"a" * 1025, "big.txt"), 413, "payload_too_large", "files.too_large")
    assert body["details"]["limit"] == 1024


def test_body_above_max_content_length_is_413_in_the_envelope(app, client, user, upload, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    error(upload(user, b"a" * 4096, "big.txt"), 413, "payload_too_large")


def test_upload_body_errors(client, user, upload):
    error(upload(user, b"", "empty.csv"), 422, "validation_error")
    resp = client.post("/api/files", data={}, headers=user.headers, content_type="multipart/form-data")
    assert "file" in error(resp, 422, "validation_error")["details"]["fields"]
    error(
        client.post(
            "/api/files", data={"file": (io.BytesIO(CSV), "a.csv")}, content_type="multipart/form-data"
        ),
        401,
        "token_missing",
    )


def test_files_are_private_to_their_owner(client, user, other_user, upload):
    file_id = ok(upload(user, CSV), 201)["id"]
    error(client.get(f"/api/files/{file_id}", headers=other_user.headers), 404, "not_found")
    error(client.delete(f"/api/files/{file_id}", headers=other_user.headers), 404, "not_found")
    assert ok(client.get("/api/files", headers=other_user.headers)) == []
    error(client.get(f"/api/files/{file_id}"), 401, "token_missing")
    error(client.get("/api/files"), 401, "token_missing")
    error(client.delete(f"/api/files/{file_id}"), 401, "token_missing")
    error(client.get(f"/api/files/{uuid.uuid4()}", headers=user.headers), 404, "not_found")
    error(client.get("/api/files/not_an_id", headers=user.headers), 404, "not_found")
    error(client.delete(f"/api/files/{file_id}x", headers=user.headers), 404, "not_found")
    assert client.get(f"/api/files/{file_id}", headers=user.headers).data == CSV


def test_list_is_mine_and_paginated(client, user, other_user, upload):
    ids = [ok(upload(user, CSV, f"f{i}.csv"), 201)["id"] for i in range(3)]
    upload(other_user, CSV)
    resp = client.get("/api/files?page=1&page_size=2", headers=user.headers)
    page1 = ok(resp)
    assert len(page1) == 2
    assert '"total": 3' in resp.headers["X-Pagination"]
    page2 = ok(client.get("/api/files?page=2&page_size=2", headers=user.headers))
    listed = {f["id"] for f in page1} | {f["id"] for f in page2}
    assert listed == set(ids)


def test_delete_removes_row_and_bytes(app, client, user, upload):
    before = set(_stored_files(app))
    file_id = ok(upload(user, CSV), 201)["id"]
    assert len(set(_stored_files(app)) - before) == 1
    assert client.delete(f"/api/files/{file_id}", headers=user.headers).status_code == 200
    assert set(_stored_files(app)) == before
    error(client.get(f"/api/files/{file_id}", headers=user.headers), 404, "not_found")
    error(client.delete(f"/api/files/{file_id}", headers=user.headers), 404, "not_found")


def test_failed_delete_commit_keeps_row_and_bytes(app, client, user, upload, monkeypatch):
    from backend.extensions import db

    file_id = ok(upload(user, CSV), 201)["id"]
    files_before = _stored_files(app)

    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with app.app_context(), pytest.raises(RuntimeError):
        from backend.modules.files import service

        service.delete_file(actor_id=user.id, file_id=file_id)
    monkeypatch.undo()
    assert _stored_files(app) == files_before
    assert client.get(f"/api/files/{file_id}", headers=user.headers).data == CSV


def test_failed_upload_commit_leaves_no_bytes(app, user, monkeypatch):
    from backend.extensions import db
    from backend.modules.files import service

    before = _stored_files(app)

    def broken_commit():
        raise RuntimeError("database went away")

    with app.app_context():
        monkeypatch.setattr(db.session, "commit", broken_commit)
        with pytest.raises(RuntimeError):
            service.upload_file(actor_id=user.id, filename="a.csv", stream=io.BytesIO(CSV))
        monkeypatch.undo()
        assert service.list_files(actor_id=user.id, page=1, page_size=10).total == 0
    assert _stored_files(app) == before


def test_get_file_content_for_other_modules(app, user, other_user, upload):
    from backend.modules.files import service
    from backend.modules.files.errors import FileNotFound

    file_id = ok(upload(user, CSV), 201)["id"]
    with app.app_context():
        row, data = service.get_file_content(actor_id=user.id, file_id=file_id)
        assert (row.id, row.content_type, data) == (file_id, "text/csv", CSV)
        with pytest.raises(FileNotFound):
            service.get_file_content(actor_id=other_user.id, file_id=file_id)


def test_sweep_removes_only_old_bytes_without_a_row(app, user, upload):
    import os

    from backend.core import storage
    from backend.modules.files import service, tasks

    meta = ok(upload(user, CSV), 201)
    old = 1_600_000_000  # 2020, far older than the one-hour grace period
    with app.app_context():
        from backend.extensions import db
        from backend.modules.files.models import StoredFile

        kept = storage.safe_path(db.session.get(StoredFile, meta["id"]).stored_name)
        assert kept.parent.parent == service.own_area()  # uploads/<this database>/ab/<name>
        orphan = service.own_area() / "zz" / "orphan0000"
        tomb = service.own_area() / "zz" / "gone0000.deleting"
        fresh = service.own_area() / "zz" / "inflight0000"
        legacy = storage.safe_path("uploads/zz/legacy0000")  # before namespacing: owner unknown
        for path in (orphan, tomb, fresh, legacy):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        for path in (kept, orphan, tomb, legacy):
            os.utime(path, (old, old))
        assert tasks.sweep_orphans.apply().get() == 2
        assert not orphan.exists()
        assert not tomb.exists()
        assert kept.read_bytes() == CSV
        assert fresh.exists()
        assert legacy.exists()
        for path in (fresh, legacy, kept):  # kept's row is rolled back: leave no orphan behind
            path.unlink()


@pytest.fixture
def other_database(app):
    """A second database (users and files tables) whose app shares the first app's storage root.

    A bare Flask app bound only to SQLAlchemy: a second `create_app` would rebind the Celery tasks.
    """
    from flask import Flask

    from backend.extensions import db
    from backend.modules.files.models import StoredFile
    from backend.modules.users.models import User
    from scripts import services
    from tests.fixtures.core_db import _drop_database

    url = services.with_database(app.config["SQLALCHEMY_DATABASE_URI"], f"qyq_test_{os.getpid()}_other")
    _drop_database(url)
    services.ensure_database(url)
    other = Flask("other")
    other.config.update(
        SQLALCHEMY_DATABASE_URI=url,
        STORAGE_ROOT=app.config["STORAGE_ROOT"],
        FILES_MAX_BYTES=app.config["FILES_MAX_BYTES"],
    )
    db.init_app(other)
    with other.app_context():
        db.metadata.create_all(db.engine, tables=[User.__table__, StoredFile.__table__])
        owner = User(username="other", password_hash="x", name="Other")
        db.session.add(owner)
        db.session.commit()
        other.config["OWNER_ID"] = owner.id
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
    _drop_database(url)


def test_two_databases_sharing_a_storage_root_never_sweep_each_other(app, user, upload, other_database):
    from backend.modules.files import service

    old = 1_600_000_000

    def age(path: Path) -> Path:
        os.utime(path, (old, old))
        return path

    with app.app_context():
        from backend.core import storage
        from backend.extensions import db
        from backend.modules.files.models import StoredFile

        mine = age(
            storage.safe_path(db.session.get(StoredFile, ok(upload(user, CSV), 201)["id"]).stored_name)
        )
        my_orphan = age(_write(service.own_area() / "zz" / "mine0000"))
        my_area = service.own_area()
    with other_database.app_context():
        row = service.upload_file(
            actor_id=other_database.config["OWNER_ID"], filename="b.csv", stream=io.BytesIO(CSV)
        )
        theirs = age(storage.safe_path(row.stored_name))
        their_orphan = age(_write(service.own_area() / "zz" / "theirs0000"))
        their_area = service.own_area()
    assert my_area != their_area
    assert Path(app.config["STORAGE_ROOT"]).resolve() in their_area.parents  # one shared root

    with app.app_context():
        assert service.sweep_orphans() == 1
    assert not my_orphan.exists()
    assert (mine.exists(), theirs.exists(), their_orphan.exists()) == (True, True, True)

    with other_database.app_context():
        assert service.sweep_orphans() == 1
    assert not their_orphan.exists()
    assert (mine.read_bytes(), theirs.read_bytes()) == (CSV, CSV)


def _write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path
