"""Image inputs of the operators: an upload id, a presigned URL, a local path or object storage.

Everything that can be checked without Firefly is checked first, for every input of a task,
before the first upload: the file exists, is PNG/JPEG/WEBP/TIFF/JXL, is at most 15 MB, a URL is
on a host Firefly fetches from. Only then are local and object-storage files uploaded (once
each per task run), and their ``{"uploadId": ...}`` is put in the request body.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_firefly.client.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_TEXT
from airflow_provider_firefly.hooks.storage_paths import is_object_storage_path
from airflow_provider_firefly.operators._errors import bad_param
from airflow_provider_firefly.schema import DEFAULT_ALLOWED_URL_DOMAINS

if TYPE_CHECKING:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

__all__ = ["ALLOWED_URL_DOMAINS", "PLACEHOLDER_UPLOAD_ID", "ImageInput", "ImageInputs"]

#: Hosts Firefly fetches ``{"url": ...}`` inputs from: the spec's list plus the usage notes'.
ALLOWED_URL_DOMAINS: tuple[str, ...] = DEFAULT_ALLOWED_URL_DOMAINS
MAX_URL_LENGTH = 2083
#: Stands for an upload id until the file is uploaded (lets the body be validated first).
PLACEHOLDER_UPLOAD_ID = "00000000-0000-4000-8000-000000000000"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def _sniff(head: bytes) -> str | None:
    from airflow_provider_firefly.client.api import sniff_image_type

    return sniff_image_type(head)


@dataclass
class ImageInput:
    """One image parameter, classified and checked; ``source`` is the dict sent to Firefly."""

    param: str
    kind: str  # "upload_id" | "url" | "local" | "object"
    value: Any
    source: dict[str, Any] = field(default_factory=dict)
    size: int | None = None


@dataclass
class ImageInputs:
    """The image inputs of one task run: classify (no network), then upload what needs it."""

    operator: str
    allowed_hosts: frozenset[str] = frozenset()
    items: list[ImageInput] = field(default_factory=list)

    def add(self, param: str, value: Any, *, required: bool = True) -> dict[str, Any] | None:
        """Check ``value`` and return the ``source`` object for the body (None if absent)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise bad_param(
                    self.operator,
                    param,
                    "is required",
                    "give an upload id, an https URL, a local path or an ObjectStoragePath",
                )
            return None
        item = self._classify(param, value)
        self.items.append(item)
        return item.source

    # -- classification (local checks only) ---------------------------------------------------

    def _classify(self, param: str, value: Any) -> ImageInput:
        if is_object_storage_path(value):
            return self._object(param, value)
        if isinstance(value, os.PathLike):
            return self._local(param, Path(value))
        if isinstance(value, dict):
            return self._source_dict(param, value)
        if not isinstance(value, str):
            raise bad_param(
                self.operator,
                param,
                f"must be a string or an ObjectStoragePath, got {type(value).__name__}",
            )
        text = value.strip()
        if _UUID.match(text):
            return ImageInput(param, "upload_id", text, {"uploadId": text})
        scheme = urlsplit(text).scheme.lower() if _SCHEME.match(text) else ""
        if scheme in ("http", "https"):
            self._check_url(param, text)
            return ImageInput(param, "url", text, {"url": text})
        if scheme:
            from airflow.sdk import ObjectStoragePath

            try:
                path = ObjectStoragePath(text)
            except (ValueError, ImportError) as error:
                raise bad_param(
                    self.operator,
                    param,
                    f"has an unsupported storage URL {text!r} ({error})",
                    "use file://, s3://, gs://... with the matching Airflow provider installed",
                ) from None
            return self._object(param, path)
        return self._local(param, Path(text).expanduser())

    def _source_dict(self, param: str, value: dict[str, Any]) -> ImageInput:
        keys = set(value)
        if keys == {"uploadId"} and isinstance(value["uploadId"], str):
            return self._classify(param, value["uploadId"])
        if keys == {"url"} and isinstance(value["url"], str):
            return self._classify(param, value["url"])
        raise bad_param(
            self.operator,
            param,
            f"as a dict must be {{'uploadId': ...}} or {{'url': ...}}, got keys {sorted(keys)}",
        )

    def _check_url(self, param: str, url: str) -> None:
        if len(url) > MAX_URL_LENGTH:
            raise bad_param(
                self.operator, param, f"is a URL of {len(url)} characters; Firefly accepts 2083"
            )
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        own = host in self.allowed_hosts
        if not own and parts.scheme.lower() != "https":
            raise bad_param(self.operator, param, f"must be an https URL, got {url[:80]!r}")
        if not own and not any(host == d or host.endswith("." + d) for d in ALLOWED_URL_DOMAINS):
            raise bad_param(
                self.operator,
                param,
                f"is a URL on {host!r}, which Firefly does not fetch from (allowed: "
                f"{', '.join(ALLOWED_URL_DOMAINS)})",
                "pass a presigned S3/Azure/Dropbox/GCS URL, or a local path or ObjectStoragePath "
                "to have the file uploaded",
            )

    def _check_head(self, param: str, where: str, size: int, head: bytes) -> None:
        if size == 0:
            raise bad_param(self.operator, param, f"file {where} is empty")
        if size > MAX_UPLOAD_BYTES:
            raise bad_param(
                self.operator,
                param,
                f"file {where} is {size / 1e6:.1f} MB; Firefly accepts images up to "
                + MAX_UPLOAD_TEXT,
                "resize or recompress it",
            )
        if _sniff(head) is None:
            raise bad_param(
                self.operator,
                param,
                f"file {where} is not a PNG, JPEG, WEBP, TIFF or JXL image",
            )

    def _local(self, param: str, path: Path) -> ImageInput:
        if not path.is_file():
            subject = "is a directory" if path.is_dir() else "does not exist"
            raise bad_param(
                self.operator,
                param,
                f"names a local file that {subject}: {str(path)!r}",
                "give an existing image file, an upload id, a presigned https URL or an "
                "ObjectStoragePath",
            )
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(32)
        self._check_head(param, repr(str(path)), size, head)
        return ImageInput(param, "local", path, {"uploadId": PLACEHOLDER_UPLOAD_ID}, size)

    def _object(self, param: str, path: Any) -> ImageInput:
        try:
            exists = path.is_file()
        except Exception as error:  # storage back ends raise their own errors
            raise bad_param(
                self.operator, param, f"could not be read from {path} ({error})"
            ) from None
        if not exists:
            raise bad_param(self.operator, param, f"names an object that does not exist: {path}")
        size = int(path.stat().st_size)
        with path.open("rb") as handle:
            head = handle.read(32)
        self._check_head(param, str(path), size, head)
        return ImageInput(param, "object", path, {"uploadId": PLACEHOLDER_UPLOAD_ID}, size)

    # -- uploads -------------------------------------------------------------------------------

    @property
    def needs_upload(self) -> bool:
        return any(item.kind in ("local", "object") for item in self.items)

    def upload(self, hook: FireflyHook, log: Any) -> dict[str, str]:
        """Upload local and object-storage inputs (each file once); returns param → upload id."""
        done: dict[str, str] = {}
        ids: dict[str, str] = {}
        for item in self.items:
            if item.kind not in ("local", "object"):
                continue
            key = str(item.value)
            if key not in done:
                done[key] = hook.upload_image(item.value)
                log.info("Uploaded %s for %s as %s", key, item.param, done[key])
            item.source.clear()
            item.source["uploadId"] = done[key]
            ids[item.param] = done[key]
        return ids
