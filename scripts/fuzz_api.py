"""Fuzz the live API with Schemathesis, every check on, and print the failures by check.

Starts a throwaway stack (PostgreSQL and Redis on free loopback ports, migrated and seeded, the
API under gunicorn and a Celery worker; ``tests/faults/servers.py``), registers a fuzz user,
and runs ``schemathesis run <api>/api/openapi.json --checks all`` against it, authenticated as
that user (a Schemathesis auth hook in this file logs in again after a 401, e.g. after the fuzzer
itself called logout, and registers a new user when the fuzzer changed this one's name or
password). Writes Schemathesis' JSON report and full output under ``--report-dir``, prints the
failure counts by check with their operations, and exits non-zero when there is any failure.

    python scripts/fuzz_api.py --quick     # CI: a few examples per operation, at most ~3 minutes
    python scripts/fuzz_api.py             # long: 100 examples per operation, all phases, <= 30 min
    python scripts/fuzz_api.py --base-url http://127.0.0.1:5000   # an API that is already running

Findings and how to read them: docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUZZ_PASSWORD = "fuzz-password-9"
QUICK = {"max_examples": 8, "max_time": 150, "phases": "examples,coverage,fuzzing"}
LONG = {"max_examples": 100, "max_time": 1800, "phases": "examples,coverage,fuzzing,stateful"}
# The fuzzer is here to check the contract, not to trip the login limits with its own re-logins (and
# the fuzzer's own wrong passwords) or the registration limit with the fresh users the auth hook
# registers after the fuzzer renamed this one or changed its password.
# Errors inside schemathesis itself (e.g. a Hypothesis internal error while generating), not the API's.
FUZZER_OWN_ERRORS = {"Runtime Error"}
STACK_SETTINGS = {
    "RATELIMIT_LOGIN": "100000 per minute",
    "RATELIMIT_LOGIN_FAILURES": "100000 per minute",
    "RATELIMIT_REGISTER": "100000 per minute",
    "JWT_ACCESS_TOKEN_EXPIRES_S": "7200",
}


def _register(base_url: str) -> tuple[str, str]:
    """Register a fresh fuzz user; return (username, access token)."""
    import requests

    name = f"fuzz{time.monotonic_ns() % 10**12}"
    resp = requests.post(
        f"{base_url}/api/auth/register",
        json={"username": name, "password": FUZZ_PASSWORD, "email": f"{name}@fuzz.example"},
        timeout=30,
    )
    resp.raise_for_status()
    return name, resp.json()["data"]["access_token"]


def _register_schemathesis_auth() -> None:
    """Authenticate every fuzzed request as the fuzz user (run inside the schemathesis process)."""
    import requests
    import schemathesis  # type: ignore[import-not-found, unused-ignore]

    base_url = os.environ["QYQ_FUZZ_BASE_URL"]
    state = {"username": os.environ["QYQ_FUZZ_USERNAME"]}

    @schemathesis.auth()
    class FuzzUser:
        def get(self, case: Any, context: Any) -> str:
            resp = requests.post(
                f"{base_url}/api/auth/login",
                json={"username": state["username"], "password": FUZZ_PASSWORD},
                timeout=30,
            )
            if resp.status_code == 200:
                return str(resp.json()["data"]["access_token"])
            state["username"], token = _register(base_url)  # the fuzzer renamed us or changed the password
            return token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


if os.environ.get("QYQ_FUZZ_HOOKS") == "1":  # imported by schemathesis through SCHEMATHESIS_HOOKS
    _register_schemathesis_auth()


@contextmanager
def _throwaway_api() -> Iterator[str]:
    """Start a seeded throwaway stack with the API and a worker; yield the API's base URL."""
    sys.path.insert(0, str(ROOT))
    from tests.faults.servers import ApiServer, Worker, start_stack
    from tests.fixtures.fake_openai import DIM, FakeOpenAI

    # The AI auditor talks to a fake OpenAI on loopback, so its endpoints run their real paths
    # instead of answering 503 "no API key" (which the not_a_server_error check would count).
    fake = FakeOpenAI().start()
    agent = {"OPENAI_API_KEY": "sk-fuzz-fake", "OPENAI_BASE_URL": fake.base_url, "AGENT_EMBED_DIMS": str(DIM)}
    stack = start_stack(**STACK_SETTINGS, **agent)
    api, worker = ApiServer(stack.env), Worker(stack.env, concurrency=1)
    try:
        subprocess.run(
            [sys.executable, "-m", "flask", "seed"],
            cwd=ROOT,
            env={**os.environ, **stack.env, "FLASK_APP": "backend.app:create_app"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        api.start()
        worker.start()
        print(f"throwaway API on {api.base_url} (database {stack.env['DATABASE_URL']})", flush=True)
        yield api.base_url
    finally:
        api.stop()
        worker.stop()
        stack.close()
        fake.stop()


def _schemathesis_command(base_url: str, args: argparse.Namespace, report: Path) -> list[str]:
    mode = QUICK if args.quick else LONG
    exe = Path(sys.executable).with_name("schemathesis")
    cmd = [str(exe) if exe.exists() else "schemathesis", "run", f"{base_url}/api/openapi.json"]
    cmd += ["--url", base_url, "--checks", "all", "--workers", str(args.workers)]
    cmd += ["--max-examples", str(args.max_examples or mode["max_examples"])]
    cmd += ["--max-time", str(args.max_time or mode["max_time"]), "--phases", str(mode["phases"])]
    cmd += ["--request-timeout", "30", "--report", "json", "--report-json-path", str(report)]
    cmd += ["--suppress-health-check", "all", "--continue-on-failure"]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    return cmd + args.extra


def run(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run schemathesis against ``base_url``; return its JSON report."""
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    report, log = report_dir / "schemathesis.json", report_dir / "schemathesis.log"
    username, _ = _register(base_url)
    env = {
        **os.environ,
        "QYQ_FUZZ_HOOKS": "1",
        "QYQ_FUZZ_BASE_URL": base_url,
        "QYQ_FUZZ_USERNAME": username,
        "SCHEMATHESIS_HOOKS": "scripts.fuzz_api",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = _schemathesis_command(base_url, args, report)
    print("$ " + " ".join(cmd), flush=True)
    with open(log, "w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    print(f"schemathesis exited {proc.returncode}; full output: {log}", flush=True)
    if not report.exists():
        print(log.read_text()[-4000:])
        raise SystemExit(2)
    return dict(json.loads(report.read_text()))


def summarize(doc: dict[str, Any]) -> int:
    """Print the failures by check with their operations; return the number of failing cases."""
    cases = doc["test_cases"]
    ops = doc.get("operations") or {}
    print(
        f"\n{ops.get('tested')} of {ops.get('total')} operations tested, {cases['generated']} cases "
        f"generated, {cases['with_failures']} with failures ({cases['unique_failures']} unique), "
        f"{cases['errored']} errored, in {doc['running_time']:.0f} s"
    )
    for failure in sorted(doc["failures"], key=lambda f: (-f["count"], f["title"])):
        print(f"\n{failure['count']:4d}  {failure['title']}  [{failure['type']}]")
        for operation in failure["operations"]:
            print(f"        {operation}")
    app_errors = 0
    for error in doc["errors"]:
        own = error["title"] in FUZZER_OWN_ERRORS
        app_errors += 0 if own else int(error["count"])
        print(
            f"\nerror x{error['count']}: {error['title']}"
            + (" (schemathesis' own; see the log)" if own else "")
        )
    return int(cases["unique_failures"]) + app_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few examples, bounded to ~3 minutes (CI)")
    parser.add_argument("--base-url", help="fuzz this running API instead of a throwaway one")
    parser.add_argument("--max-examples", type=int, help="examples per operation (overrides the mode)")
    parser.add_argument("--max-time", type=int, help="time budget in seconds (overrides the mode)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--report-dir", default=str(Path(tempfile.gettempdir()) / "qyq-fuzz"))
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    args = parser.parse_args()
    if args.base_url:
        doc = run(args.base_url.rstrip("/"), args)
    else:
        with _throwaway_api() as base_url:
            doc = run(base_url, args)
    return 1 if summarize(doc) else 0


if __name__ == "__main__":
    sys.exit(main())
