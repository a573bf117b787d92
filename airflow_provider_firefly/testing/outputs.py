"""Presigned-style output URLs (S3 look-alike): HMAC-signed, with an expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from .jobs import OutputPlan

AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: File extension in output URLs, by served media type.
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4"}


@dataclass(frozen=True)
class StoredOutput:
    output_id: str
    plan: OutputPlan
    padding: int
    video_seconds: int

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.plan.media_type, "bin")

    @property
    def media_type(self) -> str:
        return self.plan.media_type


def _fmt_expires(expires: float) -> str:
    return str(int(expires)) if float(expires).is_integer() else repr(float(expires))


class OutputStore:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._outputs: dict[str, StoredOutput] = {}
        #: Exact signing time by signature: X-Amz-Date has one-second precision, and a URL
        #: should live exactly ``output_url_expiry`` seconds from the poll that returned it.
        self._signed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._outputs.clear()
            self._signed_at.clear()

    def add(self, plan: OutputPlan, padding: int, video_seconds: int) -> StoredOutput:
        out = StoredOutput(str(uuid.uuid4()), plan, padding, video_seconds)
        with self._lock:
            self._outputs[out.output_id] = out
        return out

    def get(self, output_id: str) -> StoredOutput | None:
        with self._lock:
            return self._outputs.get(output_id)

    def _signature(self, path: str, amz_date: str, expires: str) -> str:
        msg = f"GET\n{path}\n{amz_date}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, out: StoredOutput, expires: float) -> str:
        path = f"/outputs/{out.output_id}.{out.extension}"
        signed_at = time.time()
        now = datetime.fromtimestamp(signed_at, timezone.utc)
        amz_date = now.strftime(AMZ_DATE_FORMAT)
        exp = _fmt_expires(expires)
        credential = quote(f"EMULATORACCESSKEY/{now:%Y%m%d}/us-east-1/s3/aws4_request", safe="")
        sig = self._signature(path, amz_date, exp)
        with self._lock:
            self._signed_at.setdefault(sig, signed_at)
        return (
            f"{base_url}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={exp}&X-Amz-SignedHeaders=host"
            f"&X-Amz-Signature={sig}"
        )

    def check(self, path: str, query: dict[str, str]) -> str | None:
        """``None`` when the URL is valid, else the S3 error code."""
        amz_date = query.get("X-Amz-Date", "")
        exp = query.get("X-Amz-Expires", "")
        sig = query.get("X-Amz-Signature", "")
        if not (amz_date and exp and sig):
            return "AccessDenied"
        if not hmac.compare_digest(sig, self._signature(path, amz_date, exp)):
            return "SignatureDoesNotMatch"
        try:
            issued = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc)
            with self._lock:
                signed_at = self._signed_at.get(sig, issued.timestamp())
            if time.time() >= signed_at + float(exp):
                return "AccessDenied:expired"
        except ValueError:
            return "AccessDenied"
        return None


def s3_error_xml(
    code: str, message: str, request_id: str, extra: dict[str, str] | None = None
) -> str:
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in (extra or {}).items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{fields}"
        f"<RequestId>{request_id}</RequestId><HostId>emulator</HostId></Error>"
    )
