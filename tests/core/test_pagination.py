"""core.pagination: totals, pages, and pages far past the end."""
from __future__ import annotations

from sqlalchemy import select

from backend.core.pagination import paginate
from backend.modules.users.models import User


def test_pages_and_total(app, make_user):
    names = sorted(make_user().username for _ in range(5))
    stmt = select(User).where(User.username.in_(names)).order_by(User.username)
    first, last = paginate(stmt, page=1, page_size=2), paginate(stmt, page=3, page_size=2)
    assert first.total == 5 and [u.username for u in first.items] == names[:2]
    assert [u.username for u in last.items] == names[4:]


def test_a_page_beyond_bigint_offsets_is_empty_not_an_error(app, make_user):
    make_user()
    page = paginate(select(User), page=10**18, page_size=100)
    assert page.items == [] and page.total >= 1
