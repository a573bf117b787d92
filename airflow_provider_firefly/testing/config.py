"""Runtime options of the emulator (one dataclass, changeable while it runs)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_firefly.client.config import DEFAULT_SCOPES
from airflow_provider_firefly.client.limits import MAX_UPLOAD_BYTES
from airflow_provider_firefly.schema import DEFAULT_ALLOWED_URL_DOMAINS

from .jobs import CANCELLED_SPELLINGS

DEFAULT_CLIENT_ID = "firefly-emulator-client"
DEFAULT_CLIENT_SECRET = "firefly-emulator-secret"  # noqa: S105 - documented test credential

#: Every scope that Adobe's documentation uses in a Firefly token request.
DEFAULT_ACCEPTED_SCOPES: tuple[str, ...] = (*DEFAULT_SCOPES, "firefly_enterprise")

RETRY_AFTER_FORMATS = ("seconds", "http-date")
#: When output URLs are signed: at the first succeeded poll only, or again on every poll.
OUTPUT_URL_SIGNING = ("once", "every-poll")
#: Types the emulator can encode (``default_image_media_type``).
DEFAULT_IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")
CONTENT_POLICY_STAGES = ("submit", "poll-failed", "poll-451")


@dataclass
class EmulatorConfig:
    """All behaviour knobs. Every field can be changed with ``configure(**options)``."""

    # --- credentials / IMS -------------------------------------------------------------------
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    #: A second accepted secret for the same client id (IMS allows two during rotation).
    secondary_client_secret: str | None = None
    #: More credentials ``{client_id: client_secret}``, each its own organisation.
    extra_clients: dict[str, str] = field(default_factory=dict)
    accepted_scopes: tuple[str, ...] = DEFAULT_ACCEPTED_SCOPES
    #: Scopes a token must carry to call Firefly (else 403 ``access_error`` +
    #: ``x-access-error: invalid_ims_scope``).
    required_scopes: tuple[str, ...] = ("firefly_api",)
    #: ``expires_in`` of issued tokens, seconds (may be fractional for tests; the JSON reply
    #: carries the integer part).
    token_lifetime: float = 86399
    ims_instance: str = "ims-na1"

    # --- jobs --------------------------------------------------------------------------------
    #: Seconds from submit to ``succeeded``. 0 = succeeded on the first poll.
    job_duration: float = 1.0
    #: Fraction of ``job_duration`` spent in ``pending`` before ``running``.
    pending_fraction: float = 0.2
    #: Seconds a cancelled job stays ``cancel_pending`` before ``cancelled``.
    cancel_delay: float = 0.2
    #: Tag in job URNs: ``urn:ff:jobs:<tag>:<uuid>``.
    job_tag: str = "emu851211"
    #: How the cancelled state is spelled in status replies: ``"cancelled"`` (the spec's
    #: ``JobStatus`` enum) or ``"canceled"`` (the spelling of Adobe's cancel error codes).
    cancelled_spelling: str = "cancelled"

    # --- URLs --------------------------------------------------------------------------------
    #: Base URL put into ``statusUrl``/``cancelUrl``/``links``; ``None`` = the main URL (or the
    #: status listener when one was opened with ``status_port``).
    status_base_url: str | None = None
    #: Base URL of output (presigned-style) URLs; ``None`` = the main URL.
    output_base_url: str | None = None

    # --- outputs -----------------------------------------------------------------------------
    #: Lifetime of presigned output URLs, seconds, counted from their signing.
    output_url_expiry: float = 3600
    #: ``"once"``: URLs are signed when a job is first seen ``succeeded`` and every later poll
    #: returns the same URLs (an expired URL stays expired); ``"every-poll"``: each poll of a
    #: succeeded job returns freshly signed URLs for the same files.
    output_url_signing: str = "once"
    #: Extra bytes added to every image output as a private ancillary PNG chunk ``emUl``.
    output_padding_bytes: int = 0
    #: Frames in a video output (one per second).
    video_seconds: int = 5
    #: Media type of image outputs whose request names none (every operation but the
    #: composites' ``output.mediaType``): ``image/png``, ``image/jpeg`` or ``image/webp``.
    #: Adobe's default is undocumented (its async guide saves results as ``.jpg``).
    default_image_media_type: str = "image/png"
    #: Upscale outputs carry ``seed`` (the seed sent for them), as Adobe's seeds guide says
    #: every output does; ``False`` = the spec's ``UpscaleBinaryOutput`` exactly (no seed).
    upscale_output_seed: bool = True

    # --- content policy ----------------------------------------------------------------------
    #: Words (case-insensitive, whole words) that make a prompt "unsafe".
    blocked_words: tuple[str, ...] = ()
    #: ``submit`` (451 at submit), ``poll-failed`` (job fails with ``prompt_unsafe``) or
    #: ``poll-451`` (the status call answers 451).
    content_policy_stage: str = "submit"

    # --- rate limits -------------------------------------------------------------------------
    #: Requests per window per organisation on Firefly routes; 0 = off. Adobe's default is 4/min.
    rate_limit: int = 0
    rate_limit_window: float = 60.0
    retry_after_format: str = "seconds"
    #: Send 429s with an empty body (as Adobe's newer gateway does).
    rate_limit_empty_body: bool = False
    rate_limit_level: str = "org"

    # --- validation --------------------------------------------------------------------------
    #: Adobe's "15 MB" (decimal, 15,000,000 bytes): the client's own constant.
    upload_max_bytes: int = MAX_UPLOAD_BYTES
    #: Presigned-URL hosts accepted in ``{"url": ...}`` image sources (the operators' list).
    allowed_url_domains: tuple[str, ...] = DEFAULT_ALLOWED_URL_DOMAINS
    #: Reject sizes outside the documented per-model size lists (Adobe: uncertain).
    strict_sizes: bool = False

    # --- custom models -----------------------------------------------------------------------
    custom_models: list[dict[str, Any]] | None = None

    def update(self, **options: Any) -> None:
        """Set options by name; unknown names raise ``TypeError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"unknown emulator option(s): {', '.join(unknown)}")
        for key, raw in options.items():
            value = raw
            if key.endswith(("_scopes", "_domains", "blocked_words")) and isinstance(
                raw, (list, str)
            ):
                value = (
                    tuple(w for w in raw.split(",") if w) if isinstance(raw, str) else tuple(raw)
                )
            setattr(self, key, value)
        if self.retry_after_format not in RETRY_AFTER_FORMATS:
            raise ValueError(f"retry_after_format must be one of {RETRY_AFTER_FORMATS}")
        if self.content_policy_stage not in CONTENT_POLICY_STAGES:
            raise ValueError(f"content_policy_stage must be one of {CONTENT_POLICY_STAGES}")
        if self.cancelled_spelling not in CANCELLED_SPELLINGS:
            raise ValueError(f"cancelled_spelling must be one of {CANCELLED_SPELLINGS}")
        if self.default_image_media_type not in DEFAULT_IMAGE_MEDIA_TYPES:
            raise ValueError(f"default_image_media_type must be one of {DEFAULT_IMAGE_MEDIA_TYPES}")
        if self.output_url_signing not in OUTPUT_URL_SIGNING:
            raise ValueError(f"output_url_signing must be one of {OUTPUT_URL_SIGNING}")

    def copy(self) -> EmulatorConfig:
        return dataclasses.replace(
            self, extra_clients=dict(self.extra_clients), custom_models=self.custom_models
        )

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        hidden = "***"
        out["client_secret"] = hidden
        if out["secondary_client_secret"]:
            out["secondary_client_secret"] = hidden
        out["extra_clients"] = dict.fromkeys(self.extra_clients, "***")
        return out

    def clients(self) -> dict[str, tuple[str, ...]]:
        """``client_id -> accepted secrets``."""
        out: dict[str, tuple[str, ...]] = {
            self.client_id: tuple(
                s for s in (self.client_secret, self.secondary_client_secret) if s
            )
        }
        for cid, secret in self.extra_clients.items():
            out.setdefault(cid, (secret,))
        return out
