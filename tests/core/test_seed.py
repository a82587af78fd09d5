"""`flask seed` is idempotent: the demo user and showcase are created once."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.modules.users.models import User


def test_seed_twice_creates_the_admin_once(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0, second.output
    assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "admin")) == 1
    login = client.post("/api/auth/login", json={"username": "admin", "password": "admin123"})
    assert login.status_code == 200
