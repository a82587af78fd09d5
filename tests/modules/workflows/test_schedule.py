"""Cron schedules: enable/disable, due runs across DST with a frozen clock, duplicate beats."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from tests.fixtures.workflows import cron_graph


def ms(iso: str) -> int:
    """Return Unix ms of an ISO-8601 UTC time."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def at(iso: str):
    """Freeze the clock at an ISO-8601 UTC time."""
    return time_machine.travel(datetime.fromisoformat(iso).replace(tzinfo=UTC), tick=False)


def enable_at(user, workflow_id: str, iso: str, enabled: bool = True):
    """Enable (or disable) a workflow through the service with the clock frozen at ``iso``.

    Tokens are issued at the real time, so requests under a clock moved into the past would be
    refused by JWT (iat in the future); the schedule logic is exercised at the service level.
    """
    from backend.modules.workflows import service

    with at(iso):
        return service.set_enabled(actor_id=user.id, workflow_id=workflow_id, enabled=enabled)


def cron_runs(workflow_id: str) -> list[tuple[int, str]]:
    """Return (scheduled_at, job status) of a workflow's cron runs, oldest first."""
    from backend.extensions import db
    from backend.modules.workflows.models import WorkflowRun

    rows = (
        db.session.query(WorkflowRun)
        .filter_by(workflow_id=workflow_id, trigger="cron")
        .order_by(WorkflowRun.scheduled_at)
        .all()
    )
    return [(r.scheduled_at, r.job.status) for r in rows]


def test_enable_needs_a_cron_trigger(client, user, make_workflow):
    wf = make_workflow(user)  # manual trigger only
    resp = client.post(f"/api/workflows/{wf['id']}/enable", headers=user.headers)
    body = resp.get_json()
    assert resp.status_code == 422 and body["details"]["error"] == "workflows.no_cron_trigger"
    assert "graph" in body["details"]["fields"]


def test_enable_reports_next_run_in_the_timezone(client, user, make_workflow):
    wf = make_workflow(user, cron_graph("30 2 * * *", "Europe/Berlin"))
    view = enable_at(user, wf["id"], "2026-03-28T12:00:00")
    # 02:30 does not exist in Berlin on 2026-03-29 (spring forward): it runs at 03:30 CEST = 01:30 UTC.
    assert view.enabled is True and view.next_run_at == ms("2026-03-29T01:30:00")
    on = client.post(f"/api/workflows/{wf['id']}/enable", headers=user.headers).get_json()["data"]
    assert on["enabled"] is True and isinstance(on["nextRunAt"], int)
    off = client.post(f"/api/workflows/{wf['id']}/disable", headers=user.headers).get_json()["data"]
    assert off["enabled"] is False and off["nextRunAt"] is None


def test_beat_enqueues_each_due_time_once_across_dst(client, user, make_workflow):
    from backend.modules.workflows import service

    wf = make_workflow(user, cron_graph("30 2 * * *", "Europe/Berlin"))
    enable_at(user, wf["id"], "2026-03-28T12:00:00")
    with at("2026-03-28T12:00:01"):
        assert service.enqueue_due_runs() == 0  # 2026-03-28 01:30Z was before enabling
    with at("2026-03-29T01:29:59"):
        assert service.enqueue_due_runs() == 0
    with at("2026-03-29T01:30:05"):
        assert service.enqueue_due_runs() == 1
        assert service.enqueue_due_runs() == 0  # beat fires twice: nothing new
    with at("2026-03-29T01:31:00"):
        assert service.enqueue_due_runs() == 0
    with at("2026-03-30T00:30:00"):  # summer time now: 02:30 CEST = 00:30 UTC
        assert service.enqueue_due_runs() == 1
    assert cron_runs(wf["id"]) == [
        (ms("2026-03-29T01:30:00"), "SUCCESS"),
        (ms("2026-03-30T00:30:00"), "SUCCESS"),
    ]


def test_repeated_autumn_hour_runs_once(client, user, make_workflow):
    from backend.modules.workflows import service

    wf = make_workflow(user, cron_graph("30 2 * * *", "Europe/Berlin"))
    enable_at(user, wf["id"], "2026-10-24T12:00:00")
    for moment in (
        "2026-10-25T00:30:00",
        "2026-10-25T01:30:00",
        "2026-10-25T01:45:00",
    ):  # 02:30 CEST, 02:30 CET
        with at(moment):
            service.enqueue_due_runs()
    assert cron_runs(wf["id"]) == [(ms("2026-10-25T00:30:00"), "SUCCESS")]


def test_unique_scheduled_time_survives_a_racing_insert(app, client, user, make_workflow):
    """Two beats computing the same due time: the unique (workflow, time) row lets one through."""
    from backend.modules.workflows import schedule

    wf = make_workflow(user, cron_graph("0 * * * *", "UTC"))
    enable_at(user, wf["id"], "2026-01-05T08:00:00")
    now = ms("2026-01-05T09:00:10")
    assert schedule.schedule_due_run(workflow_id=wf["id"], now=now) is True
    assert (
        schedule.schedule_due_run(workflow_id=wf["id"], now=now) is False
    )  # the second beat's insert finds the row


def test_disabled_workflow_is_not_scheduled_and_cron_run_fires_only_cron_triggers(
    client, user, make_workflow
):
    from backend.extensions import db
    from backend.modules.workflows import service
    from backend.modules.workflows.models import WorkflowRun
    from tests.domain.workflow.builders import edge, node

    g = cron_graph("0 9 * * *", "UTC")
    g["nodes"] += [node("manual", "trigger"), node("other", "action", action="notify")]
    g["edges"].append(edge("manual", "other"))
    wf = make_workflow(user, g)
    enable_at(user, wf["id"], "2026-01-05T08:00:00")
    enable_at(user, wf["id"], "2026-01-05T08:00:01", enabled=False)
    with at("2026-01-05T09:00:00"):
        assert service.enqueue_due_runs() == 0
    enable_at(user, wf["id"], "2026-01-05T09:00:00")
    with at("2026-01-06T09:00:01"):
        assert service.enqueue_due_runs() == 1
    run = db.session.query(WorkflowRun).filter_by(workflow_id=wf["id"]).one()
    trace = {
        t["nodeId"]: t["status"]
        for t in client.get(f"/api/workflows/runs/{run.id}", headers=user.headers).get_json()["data"]["trace"]
    }
    assert trace == {"cron": "ran", "note": "ran", "manual": "pruned", "other": "pruned"}


def test_two_beats_racing_enqueue_one_run(app, client, user, make_workflow, committed):
    """Real commits, two threads: both compute the same due time; the unique row admits one."""
    import threading

    from backend.extensions import db
    from backend.modules.workflows import service
    from backend.modules.workflows.models import WorkflowRun

    wf = make_workflow(user, cron_graph("0 * * * *", "UTC"))
    with app.app_context():
        enable_at(user, wf["id"], "2026-01-05T08:00:00")
    barrier, counts, errors = threading.Barrier(2), [], []

    def beat() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                counts.append(service.enqueue_due_runs(now=ms("2026-01-05T09:00:30")))
            except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and sorted(counts) == [0, 1]
    with app.app_context():
        rows = db.session.query(WorkflowRun).filter_by(workflow_id=wf["id"]).all()
        assert [(r.scheduled_at, r.trigger) for r in rows] == [(ms("2026-01-05T09:00:00"), "cron")]


def test_saving_a_graph_without_cron_disables_the_schedule(client, user, make_workflow):
    from tests.domain.workflow.builders import threshold_graph

    wf = make_workflow(user, cron_graph("0 9 * * *", "UTC"))
    assert client.post(f"/api/workflows/{wf['id']}/enable", headers=user.headers).get_json()["data"][
        "enabled"
    ]
    data = client.put(
        f"/api/workflows/{wf['id']}", headers=user.headers, json={"graph": threshold_graph()}
    ).get_json()["data"]
    assert data["enabled"] is False and data["version"] == 2 and data["nextRunAt"] is None
