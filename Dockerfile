# One image for the API, the worker and beat (the command differs per service).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Runtime dependencies only: tests, tools and the embedded servers are in requirements-dev.txt.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY backend ./backend
COPY scripts ./scripts
RUN useradd --create-home qyq && mkdir -p /app/storage && chown qyq /app/storage
USER qyq
ENV FLASK_APP=backend.app:create_app
EXPOSE 5000
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "--workers", "4", "--threads", "4", "backend.wsgi:app"]
