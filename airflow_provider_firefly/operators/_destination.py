"""Where outputs go: ``output_dir`` resolved, proven writable before any job is paid for, and
every file checked to lie inside it."""

from __future__ import annotations

import os
import posixpath
import uuid
from pathlib import Path
from typing import Any

from airflow_provider_firefly.hooks.storage_paths import is_object_storage_path
from airflow_provider_firefly.operators._errors import bad_param

__all__ = [
    "PROVIDER_FOR_SCHEME",
    "preflight",
    "resolve_output_dir",
    "target_in",
]

#: The Airflow provider that registers each common storage scheme, named in the error.
PROVIDER_FOR_SCHEME = {
    "s3": "apache-airflow-providers-amazon",
    "s3a": "apache-airflow-providers-amazon",
    "gs": "apache-airflow-providers-google",
    "gcs": "apache-airflow-providers-google",
    "abfs": "apache-airflow-providers-microsoft-azure",
    "abfss": "apache-airflow-providers-microsoft-azure",
    "adl": "apache-airflow-providers-microsoft-azure",
    "az": "apache-airflow-providers-microsoft-azure",
    "wasb": "apache-airflow-providers-microsoft-azure",
    "hdfs": "apache-airflow-providers-apache-hdfs",
    "sftp": "apache-airflow-providers-sftp",
}


def resolve_output_dir(operator: str, value: Any) -> Any:
    """``output_dir`` as an ``ObjectStoragePath`` or an absolute ``Path`` (None: no save)."""
    if value is None:
        return None
    if is_object_storage_path(value):
        return value
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise bad_param(
            operator,
            "output_dir",
            f"must be an ObjectStoragePath, a storage URL or an absolute path, got {value!r}",
        )
    text = value.strip()
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        try:
            return ObjectStoragePath(text)
        except (ValueError, ImportError) as error:
            raise bad_param(
                operator,
                "output_dir",
                f"is an unsupported storage URL {text!r} ({error})",
                "use file://, s3://, gs://... with the matching Airflow provider installed",
            ) from None
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise bad_param(
            operator,
            "output_dir",
            f"is a relative path {text!r}; a worker's working directory is not stable",
            "give an absolute path or a storage URL such as file:///data/out or s3://bucket/out",
        )
    if path.exists() and not path.is_dir():
        raise bad_param(operator, "output_dir", f"names a file, not a directory: {text!r}")
    return path


def preflight(operator: str, destination: Any) -> None:
    """Prove the outputs can be stored, before a job is paid for: the storage scheme has a
    registered file system, and a local folder exists (or is created) and takes a file."""
    if destination is None:
        return
    if is_object_storage_path(destination):
        protocol = str(getattr(destination, "protocol", "") or "")
        try:
            destination.fs  # noqa: B018 - resolving the file system is the check
        except (ValueError, ImportError) as error:
            package = PROVIDER_FOR_SCHEME.get(protocol)
            raise bad_param(
                operator,
                "output_dir",
                f"uses the storage scheme {protocol}://, for which no file system is "
                f"registered ({error})",
                f"install {package} on every worker"
                if package
                else "install the Airflow provider that registers it",
            ) from None
        if protocol in ("file", "local"):
            _check_local(operator, Path(str(destination.path)))
        return
    _check_local(operator, Path(destination))


def _check_local(operator: str, folder: Path) -> None:
    probe = folder / f".firefly-write-check-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise bad_param(
            operator,
            "output_dir",
            f"cannot be created or written ({type(error).__name__}: {error.strerror or error})",
            "give a folder this worker may write (a parent may be a regular file)",
        ) from None


def target_in(operator: str, destination: Any, name: str) -> Any:
    """``destination / name``, refused unless it lies directly inside ``destination``."""
    target = destination / name
    if is_object_storage_path(destination):
        inside = posixpath.normpath(str(target.path)) == posixpath.join(
            posixpath.normpath(str(destination.path)), name
        )
    else:
        root = Path(destination).resolve()
        inside = Path(target).resolve().parent == root
    if not inside or os.path.basename(name) != name:
        raise bad_param(
            operator,
            "output_name",
            f"gives {name!r}, which would be saved outside output_dir",
            "use placeholders only as file-name parts",
        )
    return target
