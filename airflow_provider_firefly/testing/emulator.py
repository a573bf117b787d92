"""Command line: ``python -m airflow_provider_firefly.testing.emulator --host 127.0.0.1 --port 0``.

Prints the base URL on the first line of stdout, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .config import (
    CONTENT_POLICY_STAGES,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_IMAGE_MEDIA_TYPES,
    OUTPUT_URL_SIGNING,
    RETRY_AFTER_FORMATS,
    EmulatorConfig,
)
from .extras import EmulatorDependencyError
from .jobs import CANCELLED_SPELLINGS

#: The options in ``--help`` order: ``(flag, EmulatorConfig field or None, argparse keywords)``.
#: An option with a field defaults to the field's default and is handed to the emulator by
#: :func:`options_from_args`; the others (listeners, credentials) are read by :func:`main`.
_OPTIONS: tuple[tuple[str, str | None, dict[str, Any]], ...] = (
    ("--host", None, {"default": "127.0.0.1", "help": "interface to bind"}),
    ("--port", None, {"type": int, "default": 0, "help": "port (0 = pick a free one)"}),
    (
        "--client-id",
        None,
        {"default": DEFAULT_CLIENT_ID, "help": "accepted client id (= x-api-key)"},
    ),
    ("--client-secret", None, {"default": DEFAULT_CLIENT_SECRET, "help": "accepted client secret"}),
    ("--secondary-client-secret", "secondary_client_secret", {"help": "a second accepted secret"}),
    ("--scopes", "accepted_scopes", {"help": "accepted IMS scopes"}),
    ("--required-scopes", "required_scopes", {"help": "scopes a token needs for Firefly"}),
    ("--token-lifetime", "token_lifetime", {"type": float, "help": "token expires_in, seconds"}),
    ("--job-duration", "job_duration", {"type": float, "help": "seconds from submit to succeeded"}),
    ("--cancel-delay", "cancel_delay", {"type": float, "help": "seconds in cancel_pending"}),
    ("--rate-limit", "rate_limit", {"type": int, "help": "requests per window per org (0 = off)"}),
    ("--rate-limit-window", "rate_limit_window", {"type": float, "help": "window, seconds"}),
    ("--retry-after-format", "retry_after_format", {"choices": RETRY_AFTER_FORMATS}),
    (
        "--rate-limit-empty-body",
        "rate_limit_empty_body",
        {"action": "store_true", "help": "send 429s without a body"},
    ),
    (
        "--status-port",
        None,
        {"type": int, "default": None, "help": "second listener for statusUrl/cancelUrl (0 = any)"},
    ),
    (
        "--status-host",
        None,
        {"default": None, "help": "host name put in statusUrl/cancelUrl (e.g. localhost)"},
    ),
    (
        "--output-url-expiry",
        "output_url_expiry",
        {"type": float, "help": "presigned URL lifetime, s"},
    ),
    (
        "--output-url-signing",
        "output_url_signing",
        {
            "choices": OUTPUT_URL_SIGNING,
            "help": "sign output URLs once (re-polls return the same, possibly expired URLs) or "
            "anew on every status poll",
        },
    ),
    (
        "--default-image-media-type",
        "default_image_media_type",
        {
            "choices": DEFAULT_IMAGE_MEDIA_TYPES,
            "help": "type of image outputs whose request names none",
        },
    ),
    (
        "--cancelled-spelling",
        "cancelled_spelling",
        {"choices": CANCELLED_SPELLINGS, "help": "spelling of the cancelled job status"},
    ),
    (
        "--output-padding-bytes",
        "output_padding_bytes",
        {"type": int, "help": "extra bytes per image"},
    ),
    (
        "--blocked-words",
        "blocked_words",
        {"help": "comma-separated words that make a prompt unsafe (451)"},
    ),
    ("--content-policy-stage", "content_policy_stage", {"choices": CONTENT_POLICY_STAGES}),
    ("--upload-max-bytes", "upload_max_bytes", {"type": int, "help": "upload limit (413 above)"}),
    (
        "--strict-sizes",
        "strict_sizes",
        {"action": "store_true", "help": "reject sizes outside the documented lists"},
    ),
)


def build_parser() -> argparse.ArgumentParser:
    d = EmulatorConfig()
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_firefly.testing.emulator",
        description="Local Adobe IMS + Firefly API emulator (see docs/emulator.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for flag, name, keywords in _OPTIONS:
        defaults: dict[str, Any] = {}
        if name is not None and keywords.get("action") != "store_true":
            default = getattr(d, name)
            # Lists are given comma-separated on the command line.
            defaults["default"] = ",".join(default) if isinstance(default, tuple) else default
        p.add_argument(flag, **defaults, **keywords)
    tls = p.add_argument_group("TLS (HTTPS on every listener)")
    tls.add_argument("--tls-cert", default=None, help="server certificate (PEM); needs --tls-key")
    tls.add_argument("--tls-key", default=None, help="private key of --tls-cert (PEM)")
    tls.add_argument(
        "--tls-self-signed",
        metavar="DIR",
        default=None,
        help="make a private CA and a certificate for 127.0.0.1/localhost in DIR and serve "
        "with it; clients trust DIR/ca.pem",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
    )
    return p


def options_from_args(ns: argparse.Namespace) -> dict[str, Any]:
    """The :class:`EmulatorConfig` options the command line set (the fields of :data:`_OPTIONS`)."""
    options = {name: getattr(ns, flag[2:].replace("-", "_")) for flag, name, _ in _OPTIONS if name}
    options["blocked_words"] = tuple(w for w in ns.blocked_words.split(",") if w)
    return options


def tls_options(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> dict[str, str]:
    """``tls_cert``/``tls_key`` (and ``tls_ca`` when self-signed) from the TLS flags; exits
    with a usage error on misuse."""
    if ns.tls_self_signed and (ns.tls_cert or ns.tls_key):
        parser.error("--tls-self-signed makes its own certificate: drop --tls-cert/--tls-key")
    if bool(ns.tls_cert) != bool(ns.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if ns.tls_self_signed:
        from .tls import make_private_ca

        files = make_private_ca(ns.tls_self_signed, hosts=_cert_hosts(ns))
        return {
            "tls_cert": str(files.cert),
            "tls_key": str(files.key),
            "tls_ca": str(files.ca_cert),
        }
    if ns.tls_cert:
        return {"tls_cert": ns.tls_cert, "tls_key": ns.tls_key}
    return {}


def _cert_hosts(ns: argparse.Namespace) -> tuple[str, ...]:
    from .tls import DEFAULT_HOSTS

    extra = tuple(h for h in (ns.host, ns.status_host) if h and h not in DEFAULT_HOSTS)
    return DEFAULT_HOSTS + extra


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    tls = tls_options(parser, ns)
    from .server import FireflyEmulator

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    emu = FireflyEmulator(
        ns.client_id,
        ns.client_secret,
        host=ns.host,
        port=ns.port,
        status_port=ns.status_port,
        status_host=ns.status_host,
        log_level=ns.log_level,
        tls_cert=tls.get("tls_cert"),
        tls_key=tls.get("tls_key"),
        **options_from_args(ns),
    )
    try:
        emu.start()
    except EmulatorDependencyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    try:
        sys.stdout.write(emu.url + "\n")
        if emu.status_url:
            sys.stdout.write(f"status-url: {emu.status_url}\n")
        if "tls_ca" in tls:
            sys.stdout.write(f"ca-file: {tls['tls_ca']}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
