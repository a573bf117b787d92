"""``SpawnedEmulator``: the emulator CLI in a child process (``FireflyEmulator.spawn``)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from .server import airflow_connection
from .tls import CA_FILE


class SpawnedEmulator:
    """The emulator in a child process. ``.url`` (``https://`` with TLS flags), ``.ca_file``
    (with ``--tls-self-signed``); ``.stop()`` sends SIGTERM and waits."""

    def __init__(
        self, args: list[str], timeout: float = 20.0, env: dict[str, str] | None = None
    ) -> None:
        cmd = [sys.executable, "-m", "airflow_provider_firefly.testing.emulator"]
        if "--port" not in args:
            cmd += ["--port", "0"]
        cmd += args
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.url = self._read_url(timeout)
        #: The CA file of ``--tls-self-signed DIR`` (``DIR/ca.pem``), else ``None``.
        self.ca_file: Path | None = None
        if "--tls-self-signed" in args:
            self.ca_file = Path(args[args.index("--tls-self-signed") + 1]) / CA_FILE

    def _read_url(self, timeout: float) -> str:
        stdout = self.proc.stdout
        assert stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = box[0].strip() if box else ""
        if not line.startswith("http"):
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"emulator did not start: {line!r} {err[-2000:]}")
        return line

    def airflow_connection(self, **extra: Any) -> str:
        """This emulator (default credentials unless given as CLI flags) as a connection."""
        return airflow_connection(self.url, **extra)

    # ------------------------------------------------------------------ control API over HTTP
    def control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Call ``/_emulator/<path>`` of the child and return its JSON (``ca_file`` is trusted
        for an HTTPS emulator). Raises ``RuntimeError`` with the reply on a non-2xx status."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            f"{self.url}/_emulator/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        context = None
        if self.url.startswith("https://"):
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as reply:  # noqa: S310
                return json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} /_emulator/{path}: {exc.code} {exc.read()!r}") from None

    def script(self, route: str, responses: list[dict[str, Any]]) -> None:
        """As ``FireflyEmulator.script`` (same fields), through ``POST /_emulator/script``."""
        self.control("POST", "script", {"route": route, "responses": responses})

    def clear_scripts(self, route: str | None = None) -> None:
        self.control("DELETE", "script", {} if route is None else {"route": route})

    def requests(self) -> list[dict[str, Any]]:
        """The request log, as ``FireflyEmulator.requests()``."""
        entries: list[dict[str, Any]] = self.control("GET", "requests")["requests"]
        return entries

    def counters(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.control("GET", "counters")
        return counters

    def configure(self, **options: Any) -> None:
        self.control("POST", "config", options)

    def reset(self) -> None:
        self.control("POST", "reset")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> IO[str] | None:
        return self.proc.stdout

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return int(self.proc.returncode)

    def __enter__(self) -> SpawnedEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
