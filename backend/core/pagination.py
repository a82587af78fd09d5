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


# Postgres OFFSET is a BIGINT; a page far beyond any real result is simply empty.
_MAX_OFFSET = 2**62


def paginate(stmt: Select[Any], *, page: int, page_size: int) -> Page[Any]:
    """Run `stmt` for one page (1-based) and count the whole result."""
    total = int(db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    offset = (page - 1) * page_size
    if offset >= total or offset > _MAX_OFFSET:
        return Page(items=[], total=total)
    return Page(items=db.session.scalars(stmt.limit(page_size).offset(offset)).all(), total=total)


def page_items(page: Page[T], pagination_parameters: Any) -> Sequence[T]:
    """Record the total for the X-Pagination header and return the page's items (routes' tail)."""
    pagination_parameters.item_count = page.total
    return page.items
