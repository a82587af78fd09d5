"""What the files module does when an account is deleted (`account.deleted`, docs/developing.md)."""

from __future__ import annotations

from backend.core import events
from backend.modules.files.service import delete_owner_files

ACCOUNT_DELETED = "account.deleted"


def on_account_deleted(event: events.Event) -> None:
    """Delete the user's files: the rows now, their bytes once the deletion has committed."""
    if event.type != ACCOUNT_DELETED or not event.user_id:
        return
    user_id = event.user_id
    delete_owner_files(owner_id=user_id)


def subscribe() -> None:
    """Register `on_account_deleted` (create_app calls this for every module that has it)."""
    events.subscribe(on_account_deleted)
