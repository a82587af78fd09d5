"""Users: accounts, profiles and encrypted API keys. The public functions commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from flask import current_app
from sqlalchemy import delete, func, select

from backend.core import changes, crypto, events, sessions
from backend.core.db import now_ms, transactional
from backend.core.jobs.model import Job
from backend.core.pagination import Page, paginate
from backend.core.password_gate import hashing_slot
from backend.core.passwords import hash_password, verify_password
from backend.extensions import db
from backend.modules.files import service as files_service
from backend.modules.users.errors import (
    ApiKeyNotFound,
    AvatarNotAllowed,
    EmailTaken,
    UsernameTaken,
    UserNotFound,
    WrongPassword,
)
from backend.modules.users.models import User, UserApiKey  # User is public: callers type rows with it

# The event a deleted account emits; every module holding user data subscribes to it.
ACCOUNT_DELETED = "account.deleted"
DELETED_NAME = "deleted user"


def _find_by_login(login: str) -> User | None:
    login = login.strip().lower()
    return db.session.scalars(
        select(User).where(
            (func.lower(User.username) == login) | (func.lower(User.email) == login),
            User.deleted_at.is_(None),
        )
    ).first()


def _hash(password: str) -> str:
    with hashing_slot():
        return hash_password(password)


def _verify(password_hash: str | None, password: str) -> bool:
    with hashing_slot():
        return verify_password(password_hash, password)


def _ensure_unique(
    *, username: str | None = None, email: str | None = None, exclude_id: str | None = None
) -> None:
    if username is not None:
        stmt = select(User.id).where(func.lower(User.username) == username.lower())
        if db.session.scalars(stmt).first() not in (None, exclude_id):
            raise UsernameTaken()
    if email is not None:
        stmt = select(User.id).where(func.lower(User.email) == email.lower())
        if db.session.scalars(stmt).first() not in (None, exclude_id):
            raise EmailTaken()


@transactional
def create_user(
    *, username: str, password: str, email: str | None = None, name: str | None = None, is_admin: bool = False
) -> User:
    """Register a user with a hashed password."""
    _ensure_unique(username=username, email=email)
    user = User(
        username=username,
        email=email,
        password_hash=_hash(password),
        name=name or username,
        is_admin=is_admin,
        level=1,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(*, login: str, password: str) -> User | None:
    """Return the user whose username or email and password match, else None."""
    user = _find_by_login(login)
    ok = _verify(user.password_hash if user else None, password)  # unknown users cost a hash too
    return user if ok else None


def get_user(*, user_id: str) -> User:
    """Return a user by id (a deleted account is a 404)."""
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise UserNotFound()
    return user


def is_deleted(user: User) -> bool:
    """Return whether ``user`` is the tombstone of a deleted account."""
    return user.deleted_at is not None


def get_users(*, ids: Iterable[str]) -> dict[str, User]:
    """Return the users with these ids, keyed by id (missing ids are absent).

    Tombstones of deleted accounts are included (name "deleted user"), so the posts and comments
    they wrote still have an author to show.
    """
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


@transactional
def update_me(*, actor_id: str, changes: dict[str, Any], session_id: str | None = None) -> User:
    """Update the caller's profile; a password change needs the current password.

    A password change ends every other session of the user (their access and refresh tokens stop
    working at once); the session `session_id` that made the change continues.
    """
    user = get_user(user_id=actor_id)
    if "password" in changes:
        _set_password(
            user,
            current=changes.pop("current_password", ""),
            new=changes.pop("password"),
            session_id=session_id,
            field="current_password",
        )
    changes.pop("current_password", None)
    _ensure_unique(username=changes.get("username"), email=changes.get("email"), exclude_id=user.id)
    if "avatar" in changes:
        _set_avatar_url(user, changes.pop("avatar"))
    for field, value in changes.items():
        setattr(user, field, value)
    return user


def _set_password(user: User, *, current: str, new: str, session_id: str | None, field: str) -> int:
    """Check ``current``, store ``new`` and end every session but ``session_id``; return how many ended."""
    if not _verify(user.password_hash, current):
        raise WrongPassword(fields={field: [WrongPassword.default_message]})
    user.password_hash = _hash(new)
    ended = sessions.revoke_user_sessions(
        user_id=user.id, except_family=session_id, reason=sessions.PASSWORD_CHANGE
    )
    return len(ended)


@transactional
def change_password(*, actor_id: str, current_password: str, new_password: str, session_id: str) -> int:
    """Change the caller's password; every other session ends, the caller's own continues.

    Returns the number of sessions ended. Both hashes pass the password gate (503 when busy).
    """
    user = get_user(user_id=actor_id)
    return _set_password(
        user, current=current_password, new=new_password, session_id=session_id, field="currentPassword"
    )


@transactional
def complete_onboarding(*, actor_id: str) -> User:
    """Mark the caller's onboarding as completed (the first time counts; idempotent)."""
    user = get_user(user_id=actor_id)
    if user.onboarding_completed_at is None:
        user.onboarding_completed_at = now_ms()
    return user


@transactional
def delete_account(*, actor_id: str, password: str) -> None:
    """Delete the caller's account, once the password is confirmed.

    In one transaction: every session ends (its rows go too), ``account.deleted`` is emitted so
    each module deletes or anonymises the user's rows (files' bytes go after the commit), the
    user's jobs and API keys are deleted, and the user row becomes a tombstone that keeps the
    posts and comments an author ("deleted user") while freeing the username and email.
    """
    user = get_user(user_id=actor_id)
    if not _verify(user.password_hash, password):
        raise WrongPassword(fields={"password": [WrongPassword.default_message]})
    sessions.revoke_user_sessions(user_id=user.id, except_family=None, reason=sessions.ACCOUNT_DELETED)
    sessions.forget_user_sessions(user_id=user.id)
    if user.avatar_file_id:
        user.avatar_file_id = None
        db.session.flush()  # the files subscriber deletes the image row next
    events.emit(events.Event(ACCOUNT_DELETED, "", user.id, object_id=user.id))
    db.session.execute(delete(UserApiKey).where(UserApiKey.user_id == user.id))
    db.session.execute(
        delete(Job).where(Job.owner_id == user.id), execution_options={changes.OWNER_OPTION: user.id}
    )
    _tombstone(user)


def _tombstone(user: User) -> None:
    user.username = f"deleted-{user.id}"
    user.email = None
    user.password_hash = "!"  # not an Argon2 hash: nothing verifies against it
    user.name = DELETED_NAME
    user.avatar = None
    user.bio = user.timezone = user.locale = None
    user.onboarding_completed_at = None
    user.is_admin = False
    user.deleted_at = now_ms()


@transactional
def ensure_user(*, username: str, password: str, is_admin: bool = False) -> User:
    """Create the user if missing (idempotent; an existing user's password is left alone)."""
    user = _find_by_login(username)
    if user is None:
        user = User(
            username=username,
            password_hash=_hash(password),
            name=username,
            is_admin=is_admin,
            level=5 if is_admin else 1,
        )
        db.session.add(user)
        db.session.flush()
    return user


# --- Account state set by the admin console (part of the caller's transaction) -----------------


def set_disabled(*, user_id: str, disabled: bool) -> User:
    """Disable (ending every session at once) or re-enable a user; the caller's transaction commits.

    Not ``@transactional``: the admin console writes its audit row in the same transaction.
    A disabled user cannot log in or refresh (`backend.modules.auth.service`).
    """
    user = db.session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or user.deleted_at is not None:
        raise UserNotFound()
    if disabled:
        user.disabled_at = user.disabled_at or now_ms()
        sessions.revoke_user_sessions(user_id=user.id, except_family=None, reason=sessions.ACCOUNT_DISABLED)
    else:
        user.disabled_at = None
    db.session.flush()
    return user


def search_users(
    *, query: str | None, role: str | None, disabled: bool | None, page: int, page_size: int
) -> Page[User]:
    """Return one page of users, newest first: ``query`` matches username or email (substring,
    case-insensitive), ``role`` is ``admin`` or ``user``, ``disabled`` filters on the flag."""
    stmt = select(User).where(User.deleted_at.is_(None)).order_by(User.created_at.desc(), User.id)
    if query and query.strip():
        pattern = (
            "%" + query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(
            func.lower(User.username).like(pattern, escape="\\")
            | func.lower(User.email).like(pattern, escape="\\")
        )
    if role is not None:
        stmt = stmt.where(User.is_admin.is_(role == "admin"))
    if disabled is not None:
        stmt = stmt.where(User.disabled_at.is_not(None) if disabled else User.disabled_at.is_(None))
    return paginate(stmt, page=page, page_size=page_size)


def set_admin(*, user_id: str, is_admin: bool) -> User:
    """Grant or take the admin role; the caller's transaction commits (see `set_disabled`)."""
    user = db.session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or user.deleted_at is not None:
        raise UserNotFound()
    user.is_admin = is_admin
    db.session.flush()
    return user


# --- Avatars ------------------------------------------------------------------------------------


def default_avatar_url(user_id: str) -> str:
    """Return the URL of the generated default avatar of ``user_id`` (GET .../avatar.svg)."""
    return f"/api/users/{user_id}/avatar.svg"


def avatar_url(user: User) -> str:
    """Return the avatar URL every payload shows for ``user``: never empty, never null.

    The uploaded image if there is one, else the https URL the user gave, else the generated default.
    """
    if user.avatar_file_id:
        return files_service.public_url(user.avatar_file_id)
    return user.avatar or default_avatar_url(user.id)


def avatar_owner_exists(*, user_id: str) -> bool:
    """Return whether ``user_id`` is a user (the default avatar of anyone else is a 404)."""
    return db.session.get(User, user_id) is not None


def avatar_max_bytes() -> int:
    """Return the configured size limit of an uploaded avatar, in bytes."""
    return int(current_app.config["AVATAR_MAX_BYTES"])


@transactional
def upload_avatar(*, actor_id: str, filename: str | None, stream: IO[bytes]) -> User:
    """Make an uploaded image the caller's avatar (public from then on); the previous one is deleted.

    The files module checks the content (PNG, JPEG, WebP or GIF; 415 otherwise) and the size
    (``AVATAR_MAX_BYTES``; 413 above it).
    """
    user = get_user(user_id=actor_id)
    image = files_service.add_public_image(
        owner_id=actor_id, filename=filename, stream=stream, max_bytes=avatar_max_bytes()
    )
    _replace_avatar(user, file_id=image.id, url=None)
    return user


@transactional
def reset_avatar(*, actor_id: str) -> User:
    """Return the caller to the generated default avatar (an uploaded image is deleted)."""
    user = get_user(user_id=actor_id)
    _replace_avatar(user, file_id=None, url=None)
    return user


def _set_avatar_url(user: User, url: str | None) -> None:
    """Apply PATCH's ``avatar``: null, the default URL, the user's own uploaded avatar or an https URL.

    The schema has already refused anything that is not https or one of the API's own paths; here
    an API path must be the user's own default or own public file, else AvatarNotAllowed (422).
    """
    if not url or url == default_avatar_url(user.id):
        _replace_avatar(user, file_id=None, url=None)
        return
    if url.startswith("https://"):
        _replace_avatar(user, file_id=None, url=url)
        return
    file_id = files_service.public_file_id(url)
    image = files_service.find_public_file(file_id=file_id) if file_id else None
    if image is None or image.owner_id != user.id:
        raise AvatarNotAllowed(fields={"avatar": [AvatarNotAllowed.default_message]})
    _replace_avatar(user, file_id=image.id, url=None)


def _replace_avatar(user: User, *, file_id: str | None, url: str | None) -> None:
    """Point the user's avatar at ``file_id`` or ``url``; delete an uploaded image left behind."""
    previous = user.avatar_file_id
    user.avatar_file_id, user.avatar = file_id, url
    if previous and previous != file_id:
        db.session.flush()  # the user row lets go of the file before the file row goes
        files_service.remove_public_file(owner_id=user.id, file_id=previous)


# --- API keys -----------------------------------------------------------------------------------


@transactional
def put_api_key(
    *, actor_id: str, exchange: str, api_key: str, api_secret: str | None = None, label: str | None = None
) -> UserApiKey:
    """Store (or replace) the caller's key for an exchange, encrypted."""
    row = db.session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == actor_id, UserApiKey.exchange == exchange)
    ).first()
    if row is None:
        row = UserApiKey(user_id=actor_id, exchange=exchange)
        db.session.add(row)
    row.label = label
    row.key_ciphertext = crypto.encrypt(api_key)
    row.secret_ciphertext = crypto.encrypt(api_secret) if api_secret else None
    row.key_last4 = api_key[-4:]
    db.session.flush()
    return row


def list_api_keys(*, actor_id: str) -> list[UserApiKey]:
    """Return the caller's stored keys (ciphertext rows; schemas mask them)."""
    return list(
        db.session.scalars(
            select(UserApiKey).where(UserApiKey.user_id == actor_id).order_by(UserApiKey.exchange)
        )
    )


@transactional
def delete_api_key(*, actor_id: str, exchange: str) -> None:
    """Forget the caller's key for an exchange."""
    row = db.session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == actor_id, UserApiKey.exchange == exchange)
    ).first()
    if row is None:
        raise ApiKeyNotFound()
    db.session.delete(row)


def get_api_secret(*, user_id: str, exchange: str) -> tuple[str, str | None] | None:
    """Return the decrypted (key, secret) for server-side use only; never send it to a client."""
    row = db.session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == user_id, UserApiKey.exchange == exchange)
    ).first()
    if row is None:
        return None
    secret = crypto.decrypt(row.secret_ciphertext) if row.secret_ciphertext else None
    return crypto.decrypt(row.key_ciphertext), secret
