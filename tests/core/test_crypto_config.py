"""Fernet helper (rotation, masking) and config refusing placeholder secrets."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from backend.config import load_config
from backend.core import crypto


def test_encrypt_roundtrip_and_rotation(app):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with app.app_context():
        saved = app.config["FERNET_KEYS"]
        try:
            app.config["FERNET_KEYS"] = [old]
            token = crypto.encrypt("api-secret")
            assert token != "api-secret" and crypto.decrypt(token) == "api-secret"
            app.config["FERNET_KEYS"] = [new, old]  # new primary, old still decrypts
            assert crypto.decrypt(token) == "api-secret"
            rotated = crypto.rotate(token)
            app.config["FERNET_KEYS"] = [new]
            assert crypto.decrypt(rotated) == "api-secret"
            with pytest.raises(crypto.SecretDecryptError):
                crypto.decrypt(token)
        finally:
            app.config["FERNET_KEYS"] = saved


def test_mask_never_shows_more_than_four():
    assert crypto.mask("ABCDEFGHIJKL") == "********IJKL"
    assert crypto.mask("short") == "*****"


def test_production_refuses_placeholder_secrets():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config({"APP_ENV": "production"})
    good = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "JWT_SECRET_KEY": "j" * 40,
        "FERNET_KEYS": Fernet.generate_key().decode(),
    }
    assert load_config(good).ENV == "production"
    with pytest.raises(RuntimeError, match="FERNET_KEYS"):
        load_config({**good, "FERNET_KEYS": ""})


def test_development_runs_with_defaults():
    cfg = load_config({})
    assert cfg.ENV == "development" and cfg.SQLALCHEMY_DATABASE_URI.startswith("postgresql+psycopg2://")


def test_bad_integer_setting_names_the_variable():
    with pytest.raises(ValueError, match="JOB_STALE_AFTER_S"):
        load_config({"JOB_STALE_AFTER_S": "soon"})
