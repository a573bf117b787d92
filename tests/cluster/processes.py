"""Long-running processes of the test cluster: each in its own process group, stopped by PID.

A process's children (Celery pool workers, task and trigger processes) stay in its group, so
stopping the group stops them too; the group is only signalled while its leader is alive or
just reaped by us, so its id cannot belong to an unrelated process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Processes", "free_port", "tail", "wait_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load_libc() -> Any:
    # Loaded here, in the parent: a child that has switched to the postgres user may not be
    # allowed to read this Python's files any more (a lazy import would fail there).
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the parent dies without cleaning up (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}: {tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{log.stem} did not listen on 127.0.0.1:{port} in {timeout:.0f} s")


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Processes:
    """Long-running processes, each in its own process group, stopped by PID."""

    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Signal that stops each process cleanly (PostgreSQL: SIGINT, a "fast" shutdown).
    stop_signal: dict[str, int] = field(default_factory=dict)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> subprocess.Popen[bytes]:
        if name in self.procs and self.procs[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        log_path = self.logs / f"{name}.log"
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: stopped with its children
                user=user,
                group=None if user is None else pwd.getpwnam(user).pw_gid,
                extra_groups=None if user is None else [],
                preexec_fn=die_with_parent,  # noqa: PLW1509 - before exec only
            )
        self.procs[name] = proc
        self.stop_signal[name] = stop_signal
        return proc

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def check_alive(self, names: list[str] | None = None) -> None:
        for name in names or list(self.procs):
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}:\n{tail(self.logs / f'{name}.log')}"
                )

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name`` (a host that dies), and reap its leader."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def pause(self, name: str) -> None:
        """SIGSTOP the process group of ``name`` (a host that freezes: GC pause, stopped VM)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.procs[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.procs[name].pid, signal.SIGCONT)

    def stop(self, names: list[str], timeout: float = 20) -> None:
        """Stop each process (its clean signal to the group), SIGKILL what is left of the group.

        Each group is signalled while its leader is alive or just reaped by us, so the group id
        cannot have been reused by an unrelated process.
        """
        live = [n for n in names if n in self.procs]
        for name in live:
            proc = self.procs[name]
            if proc.poll() is None:
                self.resume(name)  # a paused group would not act on SIGTERM
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if self.stop_signal[name] == signal.SIGTERM:
                        os.killpg(proc.pid, signal.SIGTERM)
                    else:
                        proc.send_signal(self.stop_signal[name])
        deadline = time.monotonic() + timeout
        for name in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.procs[name].wait(max(0.1, deadline - time.monotonic()))
        for name in live:
            proc = self.procs.pop(name)
            # Children that outlive their leader (task processes, pool workers) stay in the group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(10)
