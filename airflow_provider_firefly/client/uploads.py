"""What may be uploaded: the size limit, the image types, and reading an upload's bytes.

Checked before any request, so a file Firefly would refuse costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from airflow_provider_firefly.client.errors import FireflyConfigError, FireflyValidationError
from airflow_provider_firefly.client.limits import MAX_UPLOAD_BYTES, upload_too_large_message

__all__ = [
    "MAX_UPLOAD_BYTES",
    "UPLOAD_TYPES",
    "check_upload_size",
    "read_upload",
    "sniff_image_type",
]

UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp", "image/tiff", "image/jxl")


def sniff_image_type(head: bytes) -> str | None:
    """The upload content type from an image's first bytes, or None if not a supported type."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "image/jxl"
    return None


def check_upload_size(size: int, subject: str = "image") -> None:
    """Refuse more than :data:`MAX_UPLOAD_BYTES` (15 MB as Adobe counts it)."""
    if size > MAX_UPLOAD_BYTES:
        raise FireflyValidationError(
            upload_too_large_message(size, subject),
            errors=[{"loc": ["image"], "msg": "too large", "type": "value_error"}],
        )


def read_upload(source: bytes | str | os.PathLike[str] | BinaryIO) -> bytes:
    """The bytes of an upload from bytes, a local path or a binary file, size-checked."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FireflyConfigError(f"image file {str(path)!r} does not exist", field="image")
        check_upload_size(path.stat().st_size)
        data = path.read_bytes()
    else:
        data = source.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise FireflyValidationError(
            "image is empty",
            errors=[{"loc": ["image"], "msg": "empty", "type": "value_error"}],
        )
    check_upload_size(len(data))
    return data
