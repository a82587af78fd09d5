"""Demo workflows: valid, created once."""

from __future__ import annotations


def test_seed_is_idempotent_and_valid(client, user):
    from backend.modules.workflows import seed, service

    seed.seed_demo(admin_id=user.id)
    seed.seed_demo(admin_id=user.id)
    page = service.list_workflows(actor_id=user.id, page=1, page_size=10)
    assert sorted(w.name for w in page.items) == ["BTC RSI dip alert", "SMA 10/30 crossover"]
    assert all(service.validate_graph(graph=w.graph).valid for w in page.items)
