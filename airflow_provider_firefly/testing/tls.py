"""A private certificate authority for serving the emulator over HTTPS.

>>> files = make_private_ca(tmp_path)                       # doctest: +SKIP
>>> emu = FireflyEmulator(tls_cert=files.cert, tls_key=files.key)   # doctest: +SKIP
>>> requests.get(emu.url + "/_emulator/health", verify=files.ca_cert)  # doctest: +SKIP

The CA is made fresh on every call (its key is thrown away), so two calls give two CAs that do
not trust each other: a client given the wrong one must fail verification. Certificates follow
the rules strict verifiers apply (Python 3.13's ``VERIFY_X509_STRICT``): key identifiers, key
usages, ``serverAuth``, and the server's names in ``subjectAltName`` (IP addresses as IP
entries, not DNS names).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Names the server certificate is valid for by default: the emulator's loopback addresses.
DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
VALID_DAYS = 365


class TlsFiles(NamedTuple):
    """Paths written by :func:`make_private_ca`."""

    #: The CA certificate (PEM): what a client must trust (``verify=``, ``REQUESTS_CA_BUNDLE``).
    ca_cert: Path
    #: The server certificate (PEM), signed by the CA.
    cert: Path
    #: The server's private key (PEM, unencrypted, mode 0600).
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Firefly emulator (testing only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write(path: Path, data: bytes, private: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    start: datetime.datetime,
    end: datetime.datetime,
) -> x509.CertificateBuilder:
    """A certificate of ``subject`` by ``issuer``, valid from ``start`` to ``end``."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def _key_usage(
    *, key_cert_sign: bool = False, crl_sign: bool = False, key_agreement: bool = False
) -> x509.KeyUsage:
    """A key usage of ``digitalSignature`` plus the named bits (a CA signs; an EC server key
    agrees keys)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_private_ca(
    folder: str | os.PathLike[str], hosts: Sequence[str] = DEFAULT_HOSTS
) -> TlsFiles:
    """Create a CA and a server certificate for ``hosts`` signed by it, in ``folder``.

    Writes ``ca.pem``, ``server.pem`` and ``server-key.pem`` (replacing earlier ones) and
    returns their paths. ``hosts`` are IP addresses or DNS names (default 127.0.0.1, localhost
    and ::1).
    """
    if not hosts:
        raise ValueError("make_private_ca needs at least one host name or IP address")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Firefly emulator private CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(hosts[0]), ca_name, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key_agreement=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(out / CA_FILE, out / CERT_FILE, out / KEY_FILE)
    _write(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    _write(
        files.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        private=True,
    )
    return files
