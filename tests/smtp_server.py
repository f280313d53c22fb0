"""A real SMTP server in the test process (aiosmtpd, on a free loopback port, in a thread of its
own): it keeps what it takes, can ask for a login, offers STARTTLS or speaks implicit TLS with a
certificate made here, and can be told to refuse recipients or messages, or to drop the
connection, for the e-mail connector's tests."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ziwo-reports test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class Mailbox:
    """The handler: what the server took, and how it misbehaves when told to."""

    received: list[Received] = field(default_factory=list)
    refuse_recipients: set[str] = field(default_factory=set)  # answered 550 at RCPT
    refuse_all: bool = False  # every RCPT answered 550
    data_reply: str | None = None  # DATA answered this instead of 250 (e.g. "554 5.7.1 ...")
    drop: bool = False  # the connection is dropped at DATA, no reply
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_all or address in self.refuse_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop:
            server.transport.abort()
            return "421 4.3.0 gone"  # never arrives: the connection is gone
        if self.data_reply:
            return self.data_reply
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


class SmtpServer:
    """aiosmtpd on 127.0.0.1: `mode` plain, starttls or ssl; a login required when `users` is given."""

    def __init__(self, folder: Path, *, mode: str = "plain", users: dict[str, str] | None = None) -> None:
        self.mode, self.users = mode, users or {}
        self.mailbox = Mailbox()
        self.port = free_port()
        self.cert, self.key = make_certificate(folder) if mode != "plain" else (None, None)
        kwargs: dict = {}
        if mode != "plain":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert, self.key)
            if mode == "starttls":
                kwargs |= {"tls_context": context, "require_starttls": True}
            else:
                kwargs |= {"ssl_context": context}
        if self.users:
            kwargs |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": mode == "starttls",
            }
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)
        # aiosmtpd warns on each login that an attribute it reads itself is deprecated: noise in every test
        logging.getLogger("mail.log").setLevel(logging.ERROR)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.mailbox.logins.append(login)
            if self.users.get(login) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.mailbox.received

    def environment(self, prefix: str, *, username: str | None = None, password: str | None = None) -> dict[str, str]:
        """The env:PREFIX variables of an Email Server Credentials block for this server."""
        smtp_type = {"plain": "INSECURE", "starttls": "STARTTLS", "ssl": "SSL"}[self.mode]
        values = {
            f"{prefix}_SMTP_SERVER": "127.0.0.1",
            f"{prefix}_SMTP_PORT": str(self.port),
            f"{prefix}_SMTP_TYPE": smtp_type,
        }
        if username is not None:
            values[f"{prefix}_USERNAME"] = username
        if password is not None:
            values[f"{prefix}_PASSWORD"] = password
        return values
