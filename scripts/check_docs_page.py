"""Render /api/docs in headless Chromium with no network and save a screenshot.

Starts the app on a free loopback port (database/Redis as resolved for tests), loads the docs
page with Chromium's network limited to loopback, and checks that Swagger UI rendered the
operations (by the DOM Chromium dumps). Writes docs/img/api-docs.png. Needs Debian's `chromium`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="qyq-chrome-")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=8000",
        # Anything not on loopback fails: the page must render from the app's own assets.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)


def main() -> int:
    from werkzeug.serving import make_server

    from backend.app import create_app

    port = _free_port()
    server = make_server("127.0.0.1", port, create_app())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}/api/docs"
    time.sleep(0.5)
    dom = _chromium("--dump-dom", url).stdout
    out = ROOT / "docs" / "img" / "api-docs.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    _chromium(f"--screenshot={out}", "--window-size=1280,1600", url)
    server.shutdown()
    rendered = "opblock" in dom and "/api/auth/login" in dom
    print(f"docs page rendered: {rendered}; screenshot: {out}")
    return 0 if rendered and out.exists() else 1


if __name__ == "__main__":
    sys.exit(main())
