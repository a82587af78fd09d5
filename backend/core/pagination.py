"""Pagination for full collections: services return a `Page`, routes set the X-Pagination count."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from sqlalchemy import Select, func, select

from backend.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the total number of results."""

    items: Sequence[T]
    total: int


def paginate(stmt: Select[Any], *, page: int, page_size: int) -> Page[Any]:
    """Run `stmt` for one page (1-based) and count the whole result."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).all()
    return Page(items=items, total=int(total))
