"""A total deadline for blocking ``requests`` calls, headers included.

``requests`` only has per-read timeouts: a server (or proxy) that sends one header byte a
second keeps ``Session.request`` blocked for hours before any body is read, where the body
loop's deadline check (see :mod:`.transport`) cannot act. Here each attempt runs under an
:class:`AttemptWatch`: the connections it uses are recorded (through urllib3 connection
classes installed by :class:`WatchedAdapter`), and when the deadline passes a timer shuts
their sockets down, which ends the blocked read at once. The transport then reports the
deadline, not the broken socket.

A shut socket is only ever one of the attempt's own, while the attempt is still running
(a lock orders the timer against :meth:`AttemptWatch.stop`); urllib3 discards a dropped
connection before reusing it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["AttemptWatch", "WatchedAdapter"]

_CURRENT = threading.local()


def _register(connection: Any) -> None:
    watch = getattr(_CURRENT, "watch", None)
    if watch is not None:
        watch.add(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _watch_pools(manager: Any) -> None:
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections (direct or through a proxy) can be watched."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _watch_pools(manager)
        return manager


class AttemptWatch:
    """Shut the attempt's sockets down ``seconds`` after it starts (None: never).

    Use as a context manager around one attempt in one thread; call :meth:`stop` as soon as
    the body is read (before the connection goes back to the pool). :attr:`fired` tells
    whether the deadline cut the attempt.
    """

    def __init__(self, seconds: float | None) -> None:
        self.fired = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._active = True
        self._timer = None if seconds is None else threading.Timer(max(seconds, 0.0), self._fire)

    def add(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)

    def stop(self) -> None:
        """The attempt is over: from now on the timer touches nothing."""
        with self._lock:
            self._active = False
        if self._timer is not None:
            self._timer.cancel()

    def finish(self) -> bool:
        """:meth:`stop`, then whether the attempt ended untouched. A cut socket can look like
        a clean end of the reply (an EOF in the middle of the headers), so an attempt the
        timer cut is never trusted, however it seemed to end."""
        self.stop()
        return not self.fired

    def _fire(self) -> None:
        with self._lock:
            if not self._active:
                return
            self.fired = True
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    # The plain socket's shutdown, also for TLS: SSLSocket.shutdown would drop
                    # its TLS state under the reading thread's feet.
                    with contextlib.suppress(OSError):  # already closed
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> AttemptWatch:
        _CURRENT.watch = self
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _CURRENT.watch = None
        self.stop()
