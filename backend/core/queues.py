"""The Celery queues a worker consumes: declared once, read by the Celery wiring and by operations.

A slow backtest never delays a bot tick and a sweep's chunks never delay a single backtest, because
each family of tasks has its queue (`backend/celery_app.py` routes task names to them). The
admin console reads the same tuple for the queue depths, so a queue added here is shown there.
"""

from __future__ import annotations

QUEUES = ("default", "backtests", "sweeps", "workflows", "bots", "webhooks")
