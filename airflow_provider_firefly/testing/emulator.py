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
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_IMAGE_MEDIA_TYPES,
    OUTPUT_URL_SIGNING,
    EmulatorConfig,
)
from .extras import EmulatorDependencyError
from .jobs import CANCELLED_SPELLINGS


def build_parser() -> argparse.ArgumentParser:
    d = EmulatorConfig()
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_firefly.testing.emulator",
        description="Local Adobe IMS + Firefly API emulator (see docs/emulator.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind")
    p.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    p.add_argument(
        "--client-id", default=DEFAULT_CLIENT_ID, help="accepted client id (= x-api-key)"
    )
    p.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="accepted client secret")
    p.add_argument("--secondary-client-secret", default=None, help="a second accepted secret")
    p.add_argument("--scopes", default=",".join(d.accepted_scopes), help="accepted IMS scopes")
    p.add_argument(
        "--required-scopes",
        default=",".join(d.required_scopes),
        help="scopes a token needs for Firefly",
    )
    p.add_argument(
        "--token-lifetime", type=float, default=d.token_lifetime, help="token expires_in, seconds"
    )
    p.add_argument(
        "--job-duration",
        type=float,
        default=d.job_duration,
        help="seconds from submit to succeeded",
    )
    p.add_argument(
        "--cancel-delay", type=float, default=d.cancel_delay, help="seconds in cancel_pending"
    )
    p.add_argument(
        "--rate-limit", type=int, default=d.rate_limit, help="requests per window per org (0 = off)"
    )
    p.add_argument(
        "--rate-limit-window", type=float, default=d.rate_limit_window, help="window, seconds"
    )
    p.add_argument(
        "--retry-after-format", choices=("seconds", "http-date"), default=d.retry_after_format
    )
    p.add_argument("--rate-limit-empty-body", action="store_true", help="send 429s without a body")
    p.add_argument(
        "--status-port",
        type=int,
        default=None,
        help="second listener for statusUrl/cancelUrl (0 = any)",
    )
    p.add_argument(
        "--status-host", default=None, help="host name put in statusUrl/cancelUrl (e.g. localhost)"
    )
    p.add_argument(
        "--output-url-expiry",
        type=float,
        default=d.output_url_expiry,
        help="presigned URL lifetime, s",
    )
    p.add_argument(
        "--output-url-signing",
        choices=OUTPUT_URL_SIGNING,
        default=d.output_url_signing,
        help="sign output URLs once (re-polls return the same, possibly expired URLs) or anew "
        "on every status poll",
    )
    p.add_argument(
        "--default-image-media-type",
        choices=DEFAULT_IMAGE_MEDIA_TYPES,
        default=d.default_image_media_type,
        help="type of image outputs whose request names none",
    )
    p.add_argument(
        "--cancelled-spelling",
        choices=CANCELLED_SPELLINGS,
        default=d.cancelled_spelling,
        help="spelling of the cancelled job status",
    )
    p.add_argument(
        "--output-padding-bytes",
        type=int,
        default=d.output_padding_bytes,
        help="extra bytes per image",
    )
    p.add_argument(
        "--blocked-words", default="", help="comma-separated words that make a prompt unsafe (451)"
    )
    p.add_argument(
        "--content-policy-stage",
        choices=("submit", "poll-failed", "poll-451"),
        default=d.content_policy_stage,
    )
    p.add_argument(
        "--upload-max-bytes", type=int, default=d.upload_max_bytes, help="upload limit (413 above)"
    )
    p.add_argument(
        "--strict-sizes", action="store_true", help="reject sizes outside the documented lists"
    )
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
    return {
        "secondary_client_secret": ns.secondary_client_secret,
        "accepted_scopes": ns.scopes,
        "required_scopes": ns.required_scopes,
        "token_lifetime": ns.token_lifetime,
        "job_duration": ns.job_duration,
        "cancel_delay": ns.cancel_delay,
        "rate_limit": ns.rate_limit,
        "rate_limit_window": ns.rate_limit_window,
        "retry_after_format": ns.retry_after_format,
        "rate_limit_empty_body": ns.rate_limit_empty_body,
        "output_url_expiry": ns.output_url_expiry,
        "output_url_signing": ns.output_url_signing,
        "cancelled_spelling": ns.cancelled_spelling,
        "default_image_media_type": ns.default_image_media_type,
        "output_padding_bytes": ns.output_padding_bytes,
        "blocked_words": tuple(w for w in ns.blocked_words.split(",") if w),
        "content_policy_stage": ns.content_policy_stage,
        "upload_max_bytes": ns.upload_max_bytes,
        "strict_sizes": ns.strict_sizes,
    }


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
