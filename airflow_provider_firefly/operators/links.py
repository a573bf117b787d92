"""Operator extra link: the saved outputs' location, when it maps to a browsable console URL.

Firefly's own output URLs expire after an hour and Firefly has no job page, so the only thing
worth linking for longer is where the task saved the files: an ``s3://`` prefix opens the AWS S3
console, ``gs://`` the Google Cloud Storage browser, an ``http(s)`` location itself. Local and
``file://`` directories, Azure and other stores get no link (an empty string: the button is
disabled), since a browser cannot open them or no console URL can be derived from the path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

__all__ = ["FireflyOutputLink", "console_url"]


def console_url(location: Any) -> str:
    """The web console URL of a storage location (``s3://bucket/prefix``), or ``""``."""
    if location is None:
        return ""
    text = str(location)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    bucket = parts.hostname or ""
    prefix = parts.path.strip("/")
    if not bucket:
        return ""
    if scheme in ("s3", "s3a"):
        url = f"https://s3.console.aws.amazon.com/s3/buckets/{quote(bucket)}"
        return url + (f"?prefix={quote(prefix + '/')}" if prefix else "")
    if scheme in ("gs", "gcs"):
        return f"https://console.cloud.google.com/storage/browser/{quote(bucket)}/{quote(prefix)}"
    if scheme in ("http", "https"):
        return text
    return ""


class FireflyOutputLink(BaseOperatorLink):
    """ "Firefly outputs": the console page of the task's ``output_dir`` (S3 or GCS)."""

    name = "Firefly outputs"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return console_url(getattr(operator, "output_dir", None))
