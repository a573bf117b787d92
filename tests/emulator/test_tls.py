"""The emulator over HTTPS with a private CA made in the test (Python API and CLI)."""

from __future__ import annotations

import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from cryptography import x509

from airflow_provider_firefly.testing import FireflyEmulator, SpawnedEmulator
from airflow_provider_firefly.testing.tls import make_private_ca

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca")


@pytest.fixture(scope="module")
def tls_emu(ca_dir: Path) -> Iterator[FireflyEmulator]:
    files = make_private_ca(ca_dir)
    with FireflyEmulator(tls_cert=files.cert, tls_key=files.key, job_duration=0) as emu:
        yield emu


def test_certificates_are_what_strict_clients_expect(tmp_path: Path) -> None:
    files = make_private_ca(tmp_path)
    assert [p.name for p in files] == ["ca.pem", "server.pem", "server-key.pem"]
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.issuer == ca.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    # Python's strict mode (the default of ssl.create_default_context from 3.13) accepts it.
    ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    with FireflyEmulator(tls_cert=files.cert, tls_key=files.key) as emu:
        assert httpx.get(emu.url + "/_emulator/health", verify=ctx).status_code == 200


def test_https_url_and_verified_requests(tls_emu: FireflyEmulator, ca_dir: Path) -> None:
    assert tls_emu.url.startswith("https://127.0.0.1:")
    ca_file = str(ca_dir / "ca.pem")
    ca = ssl.create_default_context(cafile=ca_file)
    r = requests.post(
        tls_emu.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": tls_emu.client_id,
            "client_secret": tls_emu.client_secret,
            "scope": "firefly_api",
        },
        verify=ca_file,
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json()["access_token"]
    # URLs the emulator hands out use https too.
    sub = httpx.post(
        tls_emu.url + "/v3/images/generate-async",
        json={"prompt": "a", "size": {"width": 8, "height": 8}},
        headers=tls_emu.auth_headers(),
        verify=ca,
    )
    assert sub.json()["statusUrl"].startswith("https://")
    done = httpx.get(sub.json()["statusUrl"], headers=tls_emu.auth_headers(), verify=ca).json()
    out = done["result"]["outputs"][0]["image"]["url"]
    assert out.startswith("https://")
    assert httpx.get(out, verify=ca).content[:4] == b"\x89PNG"


def test_without_the_ca_verification_fails(tls_emu: FireflyEmulator, tmp_path: Path) -> None:
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(tls_emu.url + "/_emulator/health", timeout=10)
    other = make_private_ca(tmp_path)  # another CA: must not be trusted either
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(tls_emu.url + "/_emulator/health", verify=str(other.ca_cert), timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_emu.url + "/_emulator/health")


def test_name_must_match(tmp_path: Path) -> None:
    files = make_private_ca(tmp_path, hosts=["localhost"])  # no IP entry
    with FireflyEmulator(tls_cert=files.cert, tls_key=files.key) as emu:
        ca = str(files.ca_cert)
        with pytest.raises(requests.exceptions.SSLError, match=r"127\.0\.0\.1"):
            requests.get(emu.url + "/_emulator/health", verify=ca, timeout=10)
        port = emu.url.rsplit(":", 1)[1]
        r = requests.get(f"https://localhost:{port}/_emulator/health", verify=ca, timeout=10)
        assert r.status_code == 200


def test_plain_http_to_a_tls_emulator_fails(tls_emu: FireflyEmulator) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(tls_emu.url.replace("https://", "http://") + "/_emulator/health", timeout=5)


def test_bad_tls_arguments(tmp_path: Path) -> None:
    files = make_private_ca(tmp_path)
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        FireflyEmulator(tls_cert=files.cert)
    with pytest.raises(ValueError, match="tls_key"):
        FireflyEmulator(tls_cert=files.cert, tls_key=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="at least one host"):
        make_private_ca(tmp_path, hosts=[])


def test_cli_self_signed_writes_the_ca(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    with SpawnedEmulator(["--tls-self-signed", str(folder)]) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        assert emu.ca_file == folder / "ca.pem"
        assert emu.ca_file.is_file()
        r = requests.get(emu.url + "/_emulator/health", verify=str(emu.ca_file), timeout=10)
        assert r.json()["status"] == "ok"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(emu.url + "/_emulator/health", timeout=10)
        assert emu.stdout is not None
        assert emu.stdout.readline().strip() == f"ca-file: {folder / 'ca.pem'}"


def test_cli_cert_and_key(tmp_path: Path) -> None:
    files = make_private_ca(tmp_path)
    args = ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    with SpawnedEmulator(args) as emu:
        assert emu.url.startswith("https://")
        assert emu.ca_file is None
        r = requests.get(emu.url + "/_emulator/health", verify=str(files.ca_cert), timeout=10)
        assert r.status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "x.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-self-signed", "d", "--tls-key", "k.pem"], "drop --tls-cert/--tls-key"),
    ],
)
def test_cli_tls_misuse_is_a_usage_error(args: list[str], message: str) -> None:
    cmd = [sys.executable, "-m", "airflow_provider_firefly.testing.emulator", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert message in done.stderr
