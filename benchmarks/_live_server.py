"""The web app served as ``forbear serve`` serves it, on a clock that starts at a chosen moment.

Run as a script (the benchmark starts it in a subprocess)::

    python benchmarks/_live_server.py --port 8123 --start 2026-03-10T02:00:00+00:00

It bootstraps Forbear from the environment (``FORBEAR_DATA_DIR``, ``FORBEAR_DATABASE_URL``,
...) exactly as ``forbear serve`` does and serves ``create_app`` with uvicorn on
127.0.0.1 (one process, the route thread pool, access log off), with one difference: the
app's clock starts at ``--start`` and runs at the real pace from there, so a benchmark
taken at night still contacts borrowers inside their contact hours and each run can
have a day of its own (the daily caps start fresh).

:class:`LiveServer` starts that subprocess on a free port, waits for ``/healthz`` and
stops it with SIGINT (uvicorn's graceful shutdown); its log goes to a file whose error
lines :meth:`LiveServer.errors` summarises (the app logs an error's type and place only,
never its message).
"""

from __future__ import annotations

import argparse
import http.client
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``with LiveServer(env, start, log) as server: ... server.port ...``"""

    def __init__(self, env: dict[str, str], start: datetime, log: Path) -> None:
        self.env = env
        self.start = start
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveServer:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE),
                "--port",
                str(self.port),
                "--start",
                self.start.isoformat(),
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the web app exited with {self.proc.returncode}:\n{tail}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the web app did not answer /healthz within 120 s")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def errors(self) -> Counter[str]:
        """The app's ERROR and WARNING log lines, counted by message with their reference
        numbers blanked (e.g. ``internal error: OperationalError at base.py:1967 on
        /api/v1/accounts/{loan_id}/contacts``)."""
        found: Counter[str] = Counter()
        if not self.log.exists():
            return found
        for line in self.log.read_text(errors="replace").splitlines():
            m = re.search(r" (ERROR|WARNING) (forbear\S*) (.*)$", line)
            if m:
                message = re.sub(r"internal error [0-9a-f]{8}:", "internal error:", m.group(3))
                found[f"{m.group(1)} {message}"] += 1
        return found


def main() -> None:
    import logging

    import uvicorn

    from forbear.bootstrap import bootstrap
    from forbear.web import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--start", required=True, help="ISO moment (with offset) the clock starts at"
    )
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        parser.error("--start needs a UTC offset")
    began = time.monotonic()

    def clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - began)

    forbear = bootstrap()
    web = create_app(forbear, clock=clock)
    # as `forbear serve` configures it: the app's own one-line-per-request log at INFO
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        uvicorn.run(
            web,
            host="127.0.0.1",
            port=args.port,
            access_log=False,
            server_header=False,
            log_level="warning",
        )
    finally:
        forbear.close()


if __name__ == "__main__":
    main()
