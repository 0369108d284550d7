"""A real SMTP server for tests (sandbox.mail on a free port), and a certificate for its TLS.

Fixtures: `mail` (plain SMTP), `tls_mail` (STARTTLS, AUTH required), `implicit_tls_mail`
(implicit TLS, AUTH required). Each gives the server's address, the SmtpSettings that reach it
and its `mailbox`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.settings import SmtpSettings
from sandbox.mail import Mailbox
from sandbox.mail import MailServer
from tests.servers import free_port

USERNAME, PASSWORD = "mailer", "s3cret-Pa55"


@dataclass(frozen=True)
class Certificate:
    cert_file: str
    key_file: str


@dataclass
class RunningMail:
    host: str
    port: int
    security: str
    mailbox: Mailbox
    ca_file: str = ""

    def settings(self, username: str = "", password: str = "") -> SmtpSettings:
        return SmtpSettings(
            host=self.host,
            port=self.port,
            security=self.security,
            username=username,
            password=password,
            timeout=10,
            ca_file=self.ca_file,
        )

    @property
    def url(self) -> str:
        """The SMTP_URL that reaches this server without a login."""
        return f"smtp://{self.host}:{self.port}?security={self.security}"


def self_signed_certificate(directory: Path) -> Certificate:
    """A certificate for localhost and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "mail.crt", directory / "mail.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(str(cert_file), str(key_file))


@contextmanager
def running_mail(
    security: str = "none",
    certificate: Certificate | None = None,
    credentials: tuple[str, str] | None = None,
    host: str = "127.0.0.1",
) -> Iterator[RunningMail]:
    mailbox = Mailbox()
    port = free_port()
    pair = (certificate.cert_file, certificate.key_file) if certificate else None
    server = MailServer(
        mailbox,
        host,
        port,
        certificate=pair,
        implicit_tls=security == "tls",
        credentials=credentials,
    ).start()
    try:
        yield RunningMail(
            host, port, security, mailbox, certificate.cert_file if certificate else ""
        )
    finally:
        server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("certificate"))


@pytest.fixture
def mail() -> Iterator[RunningMail]:
    with running_mail() as server:
        yield server


@pytest.fixture
def tls_mail(certificate: Certificate) -> Iterator[RunningMail]:
    with running_mail("starttls", certificate, (USERNAME, PASSWORD)) as server:
        yield server


@pytest.fixture
def implicit_tls_mail(certificate: Certificate) -> Iterator[RunningMail]:
    with running_mail("tls", certificate, (USERNAME, PASSWORD)) as server:
        yield server
