"""Pagination for full collections: services return a `Page`, `@paginated` routes send its items.

A list route is one service call::

    @blp.response(200, ThingSchema(many=True))
    @paginated(blp)
    def get(self, paging: PageArgs) -> Page[Thing]:
        return service.list_things(actor_id=current_user_id(), **paging)

and the total goes out in flask-smorest's X-Pagination header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters
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
    """Run `stmt` for one page (1-based) and count the whole result.

    The page is read first: a page that is neither empty nor full is the last one, so the total
    is its offset plus its length and the COUNT query is skipped (one round trip instead of two
    for the usual short list).
    """
    offset = (page - 1) * page_size
    if offset > _MAX_OFFSET:
        return Page(items=[], total=_count(stmt))
    items = db.session.scalars(stmt.limit(page_size).offset(offset)).all()
    if 0 < len(items) < page_size:
        return Page(items=items, total=offset + len(items))
    total = _count(stmt)
    return Page(items=items if offset < total else [], total=total)


def _count(stmt: Select[Any]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)


class PageArgs(TypedDict):
    """The page a list route asks for, passed on to the service as ``**paging``."""

    page: int
    page_size: int


def paginated(
    blp: Blueprint, **options: int
) -> Callable[[Callable[..., Page[T]]], Callable[..., Sequence[T]]]:
    """`@blp.paginate()` for a view that returns a `Page`: the view gets ``paging: PageArgs``.

    The query parameters, their OpenAPI docs and the X-Pagination header are flask-smorest's;
    this passes the requested page to the view and reports the Page's total as the item count.
    ``options`` go to flask-smorest (``page_size``, ``max_page_size``; defaults 10 and 100).
    """

    def decorator(view: Callable[..., Page[T]]) -> Callable[..., Sequence[T]]:
        @functools.wraps(view)
        def wrapper(*args: Any, pagination_parameters: PaginationParameters, **kwargs: Any) -> Sequence[T]:
            paging = PageArgs(page=pagination_parameters.page, page_size=pagination_parameters.page_size)
            page = view(*args, paging=paging, **kwargs)
            pagination_parameters.item_count = page.total
            return page.items

        # flask-smorest ships no types; its decorator keeps the wrapper's call and return.
        paginated_view: Callable[..., Sequence[T]] = blp.paginate(**options)(wrapper)
        return paginated_view

    return decorator
