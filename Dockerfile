# One image for the API, the worker and beat (the command differs per service).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The strategy sandbox: bubblewrap (namespaces) and libseccomp's Python binding (the filter is
# built by /usr/bin/python3 once per process); prlimit comes with util-linux.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap python3-seccomp \
    && rm -rf /var/lib/apt/lists/*
# Runtime dependencies only: tests, tools and the embedded servers are in requirements-dev.txt.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY backend ./backend
COPY scripts ./scripts
RUN useradd --create-home --uid 10001 qyq && mkdir -p /app/storage && chown qyq /app/storage
USER qyq
# matplotlib (result pictures) builds its font cache on first use: do it here, not in a request.
RUN python -c "import matplotlib.font_manager"
# The engine's numba kernels, compiled once into this user's cache (~/.cache/numba: the source
# folder is not writable here), so each worker process loads them (~0.1 s) instead of compiling
# them (2-4 s and ~58 MB more resident per process, scripts/bench_job_memory.py). numba keys the
# cache by CPU: a host with another CPU model compiles once more and adds its own entry.
RUN python -c "from backend.domain.backtest import kernels; kernels.warm_up()"
# Production unless told otherwise: the app then refuses placeholder secrets (backend/config.py).
ENV FLASK_APP=backend.app:create_app APP_ENV=production
EXPOSE 5000
# Same gunicorn bounds as docker-compose.yml: a silent worker is replaced after 60 s, and SIGTERM
# gives requests in flight 30 s to finish. Workers: WEB_CONCURRENCY (gunicorn reads it), one per
# core; gthread with 4 threads each was the fastest configuration measured (docs/performance.md).
ENV WEB_CONCURRENCY=2
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "--worker-class", "gthread", "--threads", "4", \
     "--timeout", "60", "--graceful-timeout", "30", "--keep-alive", "5", "backend.wsgi:app"]
