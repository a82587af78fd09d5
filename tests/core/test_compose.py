"""docker-compose.yml and the Dockerfile start a production stack that fails loudly without secrets.

No Docker engine runs in CI, so the files are checked as data: the YAML parsed, the Dockerfile read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from backend.config import load_config

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("postgres", "redis", "qdrant", "api", "stream", "worker", "beat")
SECRETS = ("SECRET_KEY", "JWT_SECRET_KEY", "FERNET_KEYS")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_app_services_run_in_production_mode_by_default(compose):
    for name in ("api", "worker", "beat", "migrate"):
        assert compose["services"][name]["environment"]["APP_ENV"] == "${APP_ENV:-production}"


@pytest.mark.parametrize("secret", SECRETS)
def test_a_missing_secret_stops_compose_with_a_message_naming_it(compose, secret):
    value = compose["services"]["api"]["environment"][secret]
    match = re.fullmatch(r"\$\{(\w+):\?(.+)\}", value)
    assert match and match.group(1) == secret and secret in match.group(2)


def test_the_database_password_is_not_a_constant(compose):
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["api"]["environment"]["DATABASE_URL"]


def test_production_with_the_placeholder_secrets_refuses_to_start():
    with pytest.raises(RuntimeError, match="SECRET_KEY.*JWT_SECRET_KEY.*FERNET_KEYS"):
        load_config({"APP_ENV": "production"})


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_long_running_services_restart(compose, service):
    assert compose["services"][service]["restart"] == "unless-stopped"


def test_the_one_shot_migration_does_not_restart(compose):
    assert compose["services"]["migrate"]["restart"] == "no"


@pytest.mark.parametrize("service", ["postgres", "redis", "api", "worker"])
def test_services_have_healthchecks_with_timeouts(compose, service):
    check = compose["services"][service]["healthcheck"]
    assert check["test"] and check["timeout"] and check["interval"]


def test_gunicorn_has_timeouts_and_docker_waits_for_the_graceful_stop(compose):
    api = compose["services"]["api"]
    command = api["command"]
    assert command[0] == "gunicorn"
    assert int(_flag(command, "--timeout")) == 60
    graceful = int(_flag(command, "--graceful-timeout"))
    assert int(api["stop_grace_period"].rstrip("s")) > graceful


def test_the_dockerfile_runs_unprivileged_in_production_with_gunicorn_timeouts():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    assert re.search(r"^ENV .*APP_ENV=production", text, re.MULTILINE)
    cmd = text[text.index("CMD") :]
    assert '"--timeout"' in cmd and '"--graceful-timeout"' in cmd


def test_the_dockerfile_fills_the_kernels_cache_as_the_runtime_user():
    # Compiled at build time by the user the workers run as: they load the kernels, not compile them.
    text = (ROOT / "Dockerfile").read_text()
    user = text.index("\nUSER ")
    warm = text.index("kernels.warm_up()")
    assert user < warm < text.index("CMD")
