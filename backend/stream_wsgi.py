"""WSGI entry of the stream process: ``gunicorn -k gevent backend.stream_wsgi:app``.

The same app as ``backend.wsgi``; only its server differs. Under gunicorn's gevent worker every
socket is cooperative (the worker patches the standard library before importing this), and
psycogreen makes psycopg2's waits cooperative too, so one process holds thousands of open
streams (each a greenlet waiting on Redis) without a thread apiece. Route ``/api/stream`` and
``/ws/`` here; everything else to the gthread API (docs/architecture.md, "Live streams").
"""

from psycogreen.gevent import patch_psycopg

patch_psycopg()

from backend.app import create_app  # noqa: E402

app = create_app()
