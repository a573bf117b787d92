"""A small HTTP forward proxy for the tests: ``CONNECT`` tunnels and absolute-form requests.

It records every tunnel and forwarded request, can demand ``Proxy-Authorization``, and maps
host names ending in ``.invalid`` (which no resolver knows, RFC 2606) to 127.0.0.1: a client
that reaches such a host has provably gone through this proxy.
"""

from __future__ import annotations

import base64
import contextlib
import selectors
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class ForwardProxy:
    """Serve on 127.0.0.1; ``url`` once started. ``user``/``password`` demand proxy auth."""

    user: str | None = None
    password: str | None = None
    tunnels: list[str] = field(default_factory=list)
    forwards: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ForwardProxy:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        self._server = server
        self.url = f"http://127.0.0.1:{server.getsockname()[1]}"
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        with self._lock:
            for sock in list(self._open):
                _close(sock)
            self._open.clear()

    def __enter__(self) -> ForwardProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url_with_auth(self) -> str:
        return self.url.replace("http://", f"http://{self.user}:{self.password}@")

    # -- serving -------------------------------------------------------------------------------

    def _accept(self) -> None:
        while self._server is not None:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _serve(self, client: socket.socket) -> None:
        try:
            head, rest = _read_head(client)
            if head is None:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (x.partition(":") for x in lines[1:] if x)
            }
            if not self._authorised(headers.get("proxy-authorization")):
                self.refused.append(target)
                client.sendall(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="tests"\r\nContent-Length: 0\r\n'
                    b"Connection: close\r\n\r\n"
                )
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                self.tunnels.append(target)
                upstream = socket.create_connection((_resolve(host), int(port)), timeout=10)
                self._track(upstream)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(client, upstream, rest)
                return
            # Absolute form: GET http://host:port/path HTTP/1.1
            _scheme, _, after = target.partition("://")
            hostport, _, path = after.partition("/")
            host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "80")
            self.forwards.append(target)
            upstream = socket.create_connection((_resolve(host), int(port or 80)), timeout=10)
            self._track(upstream)
            kept = [x for x in lines[1:] if x and not x.lower().startswith("proxy-")]
            request = "\r\n".join([f"{method} /{path} {version}", *kept]) + "\r\n\r\n"
            upstream.sendall(request.encode("latin-1") + rest)
            _pipe(client, upstream, b"")
        except OSError:
            pass
        finally:
            _close(client)

    def _authorised(self, value: str | None) -> bool:
        if self.user is None:
            return True
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return value == f"Basic {expected}"


def _resolve(host: str) -> str:
    host = host.strip("[]")
    return "127.0.0.1" if host.endswith(".invalid") else host


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _pipe(client: socket.socket, upstream: socket.socket, pending: bytes) -> None:
    if pending:
        upstream.sendall(pending)
    selector = selectors.DefaultSelector()
    selector.register(client, selectors.EVENT_READ, upstream)
    selector.register(upstream, selectors.EVENT_READ, client)
    try:
        while True:
            for key, _ in selector.select(timeout=60):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        selector.close()
        _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
