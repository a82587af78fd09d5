"""core.pagination: totals, pages, pages far past the end, and the @paginated list-route decorator."""

from __future__ import annotations

import json

from sqlalchemy import select

from backend.core.pagination import paginate
from backend.modules.users.models import User


def test_pages_and_total(app, make_user):
    names = sorted(make_user().username for _ in range(5))
    stmt = select(User).where(User.username.in_(names)).order_by(User.username)
    first, last = paginate(stmt, page=1, page_size=2), paginate(stmt, page=3, page_size=2)
    assert first.total == 5 and [u.username for u in first.items] == names[:2]
    assert [u.username for u in last.items] == names[4:]


def test_every_page_has_the_true_total_and_a_short_page_needs_no_count(app, make_user):
    from sqlalchemy import event

    from backend.extensions import db

    names = sorted(make_user().username for _ in range(5))
    stmt = select(User).where(User.username.in_(names)).order_by(User.username)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        pages = {
            (page, size): paginate(stmt, page=page, page_size=size)
            for page, size in [(1, 2), (2, 2), (3, 2), (4, 2), (1, 5), (1, 10), (2, 5)]
        }
        statements.clear()
        short = paginate(stmt, page=3, page_size=2)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert {k: p.total for k, p in pages.items()} == dict.fromkeys(pages, 5)
    assert {k: [u.username for u in p.items] for k, p in pages.items()} == {
        (1, 2): names[:2], (2, 2): names[2:4], (3, 2): names[4:], (4, 2): [],
        (1, 5): names, (1, 10): names, (2, 5): [],
    }  # fmt: skip
    assert short.total == 5 and len(statements) == 1 and "count" not in statements[0].lower()


def test_a_page_beyond_bigint_offsets_is_empty_not_an_error(app, make_user):
    make_user()
    page = paginate(select(User), page=10**18, page_size=100)
    assert page.items == [] and page.total >= 1


def _paginated_app(seen: list):
    """A bare app with one list route, so the decorator is tested apart from any module."""
    import flask
    import marshmallow as ma
    from flask_smorest import Api, Blueprint

    from backend.core.pagination import Page, paginated

    app = flask.Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("things", __name__)

    class ThingSchema(ma.Schema):
        n = ma.fields.Integer()

    @blp.route("/things/<string:kind>")
    @blp.response(200, ThingSchema(many=True))
    @paginated(blp)
    def things(kind, paging):
        seen.append((kind, paging))
        return Page(items=[{"n": 1}, {"n": 2}], total=7)

    api.register_blueprint(blp)
    return app, api


def test_paginated_passes_the_page_and_sends_the_items_with_the_total():
    seen: list = []
    app, _ = _paginated_app(seen)
    resp = app.test_client().get("/things/a?page=2&page_size=2")
    assert seen == [("a", {"page": 2, "page_size": 2})]
    assert resp.get_json() == [{"n": 1}, {"n": 2}]
    assert json.loads(resp.headers["X-Pagination"]) == {
        "total": 7,
        "total_pages": 4,
        "first_page": 1,
        "last_page": 4,
        "page": 2,
        "previous_page": 1,
        "next_page": 3,
    }


def test_paginated_documents_flask_smorests_page_parameters():
    app, api = _paginated_app([])
    with app.test_request_context():
        operation = api.spec.to_dict()["paths"]["/things/{kind}"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"page", "page_size"}
    assert "X-Pagination" in operation["responses"]["200"]["headers"]
