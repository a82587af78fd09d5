"""Encryption of secrets at rest (exchange/broker/LLM keys) with rotatable Fernet keys.

`FERNET_KEYS` is a comma-separated list; the first key encrypts, every key decrypts, so a new key
is rolled in by prepending it and `rotate()` re-encrypts old ciphertexts. In development and tests
without keys, a key is derived from SECRET_KEY so the feature works out of the box; production
refuses to start without FERNET_KEYS (see config.validate).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from backend.core.errors import AppError


class SecretDecryptError(AppError):
    """Raise when a stored secret cannot be decrypted with any configured key."""

    http_status = 500
    reason = "secret_unreadable"
    code = "crypto.secret_unreadable"
    default_message = "A stored secret could not be decrypted."


def _fernet() -> MultiFernet:
    keys = list(current_app.config["FERNET_KEYS"])
    if not keys:
        digest = hashlib.sha256(("fernet:" + current_app.config["SECRET_KEY"]).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(plaintext: str) -> str:
    """Encrypt a secret with the primary key; returns URL-safe text."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key."""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretDecryptError() from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt a ciphertext under the primary key."""
    return _fernet().rotate(ciphertext.encode("ascii")).decode("ascii")


def mask(secret: str, visible: int = 4) -> str:
    """Return a display form that never reveals more than the last `visible` characters."""
    if len(secret) <= visible * 2:
        return "*" * len(secret)
    return "*" * 8 + secret[-visible:]
