"""``FireflyEmulator``: run the emulator in a background thread, or as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorConfig
from .state import EmulatorState, ScriptedResponse, normalise_route

if TYPE_CHECKING:
    from .spawned import SpawnedEmulator


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY on Linux; without it h11's separate header and body
    # writes meet delayed ACKs and every keep-alive request waits ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def airflow_connection(
    url: str,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    **extra: Any,
) -> str:
    """A ``firefly`` connection aimed at an emulator, as ``AIRFLOW_CONN_<ID>`` JSON.

    ``extra`` adds connection extras (``host_cache=False``, ``requests_per_minute=60``...).
    """
    return json.dumps(
        {
            "conn_type": "firefly",
            "login": client_id,
            "password": client_secret,
            "extra": {"api_url": url, "ims_url": url, **extra},
        }
    )


def _url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _tls_files(
    cert: str | os.PathLike[str] | None, key: str | os.PathLike[str] | None
) -> tuple[str, str] | None:
    """Checked ``(cert, key)`` paths, ``None`` for plain HTTP."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("tls_cert and tls_key go together: give both, or neither for HTTP")
    for name, path in (("tls_cert", cert), ("tls_key", key)):
        if not Path(path).is_file():
            raise ValueError(f"{name} {os.fspath(path)!r} is not a readable file")
    return os.fspath(cert), os.fspath(key)


class FireflyEmulator:
    """A local Adobe IMS + Firefly API emulator.

    >>> with FireflyEmulator() as emu:           # doctest: +SKIP
    ...     print(emu.url, emu.client_id, emu.client_secret)

    ``options`` are :class:`~airflow_provider_firefly.testing.config.EmulatorConfig` fields
    (``job_duration``, ``token_lifetime``, ``rate_limit``, ...). ``status_port`` opens a second
    listener that ``statusUrl``/``cancelUrl`` point to (``status_host`` picks the host name put
    in those URLs, e.g. ``"localhost"``). ``tls_cert``/``tls_key`` (PEM files, e.g. from
    :func:`~airflow_provider_firefly.testing.tls.make_private_ca`) serve HTTPS on every
    listener; ``url`` then starts with ``https://``.
    """

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        status_port: int | None = None,
        status_host: str | None = None,
        log_level: str = "warning",
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        self.tls = _tls_files(tls_cert, tls_key)
        config = EmulatorConfig(client_id=client_id, client_secret=client_secret)
        config.update(**options)
        self.state = EmulatorState(config)
        self.host = host
        self.port = port
        self.status_port = status_port
        self.status_host = status_host
        self.log_level = log_level
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []
        self.url = ""
        self.status_url: str | None = None

    # ----------------------------------------------------------------------------- properties
    @property
    def client_id(self) -> str:
        return self.state.config.client_id

    @property
    def client_secret(self) -> str:
        return self.state.config.client_secret

    @property
    def ims_url(self) -> str:
        """Base URL of IMS (token endpoint at ``ims_url + "/ims/token/v3"``)."""
        return self.url

    @property
    def api_url(self) -> str:
        """Base URL of the Firefly API (the equivalent of ``https://firefly-api.adobe.io``)."""
        return self.url

    @property
    def token_url(self) -> str:
        return self.url + "/ims/token/v3"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> FireflyEmulator:
        if self.running:
            return self
        from .extras import load_server_stack

        uvicorn, EmulatorApp = load_server_stack()
        main = _bind(self.host, self.port)
        self._sockets = [main]
        port = main.getsockname()[1]
        scheme = "https" if self.tls else "http"
        self.url = _url(self.host, port, scheme)
        self.state.base_url = self.url
        self.state.own_hosts |= {self.host}
        if self.status_port is not None:
            extra = _bind(self.host, self.status_port)
            self._sockets.append(extra)
            self.status_url = _url(self.status_host or self.host, extra.getsockname()[1], scheme)
        elif self.status_host:
            self.status_url = _url(self.status_host, port, scheme)
        self.state.status_listener_url = self.status_url
        if self.status_host:
            self.state.own_hosts.add(self.status_host)
        config = uvicorn.Config(
            EmulatorApp(self.state),
            log_level=self.log_level,
            access_log=self.log_level in ("debug", "trace"),
            lifespan="off",
            http="h11",
            loop="asyncio",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
            ssl_certfile=self.tls[0] if self.tls else None,
            ssl_keyfile=self.tls[1] if self.tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": self._sockets},
            name=f"firefly-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Firefly emulator failed to start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets = []
        self._thread = None
        self._server = None

    def __enter__(self) -> FireflyEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FireflyEmulator(url={self.url!r}, client_id={self.client_id!r})"

    # ----------------------------------------------------------------------------- control API
    def script(self, route: str, responses: list[dict[str, Any]]) -> None:
        """Queue responses for the next requests matching ``route`` (see docs/emulator.md)."""
        self.state.scripts.add(
            normalise_route(route), [ScriptedResponse.from_dict(r) for r in responses]
        )

    def clear_scripts(self, route: str | None = None) -> None:
        self.state.scripts.clear(route)

    def revoke_tokens(self, token: str | None = None) -> None:
        """Revoke ``token``, or every token issued so far."""
        self.state.authority.revoke(token)

    def counters(self) -> dict[str, Any]:
        return self.state.counters.snapshot()

    def requests(self) -> list[dict[str, Any]]:
        """The recent requests (last 2,000, oldest first), as ``GET /_emulator/requests``:
        ``{"method", "path", "query" (bool), "headers" (lower-case names; secret values as
        ``fp:<sha256[:12]>``), "route" (matched route key or ``None``)}``."""
        return self.state.requests.entries()

    def reset(self) -> None:
        self.state.reset()

    def configure(self, **options: Any) -> None:
        self.state.config.update(**options)

    def jobs(self) -> list[dict[str, Any]]:
        from .control import job_summary

        spelling = self.state.config.cancelled_spelling
        return [job_summary(j, spelling) for j in self.state.jobs.all()]

    def set_job(self, job_id: str, **changes: Any) -> dict[str, Any]:
        """Force a job: ``status`` in failed/timeout/succeeded/cancel/cancelled/running/pending,
        optional ``error_code``/``message``, or ``duration`` (seconds from submit)."""
        from .control import job_summary

        job = self.state.jobs.force(job_id, **changes)
        if job is None:
            raise KeyError(job_id)
        return job_summary(job, self.state.config.cancelled_spelling)

    def issue_token(self, scopes: tuple[str, ...] | None = None) -> str:
        """A valid access token without an HTTP round trip (counts as no IMS request)."""
        cfg = self.state.config
        return self.state.authority.issue(
            cfg, cfg.client_id, scopes or ("openid", "AdobeID", "firefly_api", "ff_apis")
        )

    def airflow_connection(self, **extra: Any) -> str:
        """This emulator as a ``firefly`` connection (``AIRFLOW_CONN_<ID>`` JSON)."""
        return airflow_connection(self.url, self.client_id, self.client_secret, **extra)

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or self.issue_token()}",
            "x-api-key": self.client_id,
        }

    # ----------------------------------------------------------------------------- subprocess
    @staticmethod
    def spawn(
        *args: str, timeout: float = 20.0, env: dict[str, str] | None = None
    ) -> SpawnedEmulator:
        """Start ``python -m airflow_provider_firefly.testing.emulator <args>`` in a new process
        and return once it prints its URL. ``args`` are CLI flags (``"--job-duration", "0"``)."""
        from .spawned import SpawnedEmulator

        return SpawnedEmulator(list(args), timeout=timeout, env=env)
