"""Sending over SMTP with the standard library, configured from prefect-email's Email Server
Credentials block.

Why not the block's `get_server()` or prefect-email's `email_send_message` task: neither takes a
timeout (a server that stops answering would hang the run), the task cannot set the Message-ID
our idempotency rests on, writes attachment names unquoted (RFC 2231 names break), reads
attachments only from paths, and reports a refused recipient no differently from a dropped
connection. The block stays the place of the credentials; this module only reads its fields.

Every failure becomes an SmtpError: one line with the server's reply (never a password), and
whether trying again may help (4xx replies, a dropped or timed-out connection) or not (5xx, TLS,
authentication)."""

from __future__ import annotations

import functools
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from ziwo_reports.redaction import redact

MODES = ("SSL", "STARTTLS", "INSECURE")
DEFAULT_PORTS = {"SSL": 465, "STARTTLS": 587, "INSECURE": 25}


class SmtpError(Exception):
    """What went wrong, one line; `transient` when trying again may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(redact(" ".join(str(message).split())))
        self.transient = transient


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    mode: str  # SSL, STARTTLS or INSECURE
    username: str | None
    password: str
    verify: bool

    @property
    def where(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.mode})"


def server_of(block) -> Server:  # block: prefect_email.EmailServerCredentials
    """The server a credentials block names."""
    host = block.smtp_server
    host = getattr(host, "value", host)
    mode = getattr(block.smtp_type, "name", str(block.smtp_type)).upper()
    return Server(
        host=str(host),
        port=int(block.smtp_port or DEFAULT_PORTS[mode]),
        mode=mode,
        username=block.username or None,
        password=block.password.get_secret_value() if block.password is not None else "",
        verify=block.verify is not False,
    )


@functools.cache
def _local_name() -> str:
    """Our name in EHLO: the host's fully qualified name, once (it may ask DNS)."""
    name = socket.getfqdn()
    return name if "." in name else "localhost.localdomain"


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


def _tls(server: Server, ca_file: str | None) -> ssl.SSLContext:
    if not server.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)


def _failure(server: Server, step: str, problem: BaseException) -> SmtpError:
    """An exception of smtplib, ssl or the socket as an SmtpError naming the server and the step."""
    where = f"{server.where}, {step}"
    if isinstance(problem, smtplib.SMTPAuthenticationError):
        return SmtpError(
            f"{where}: the server refused the login of user {server.username!r}: "
            f"{_reply(problem.smtp_code, problem.smtp_error)}",
            transient=False,
        )
    if isinstance(problem, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in problem.recipients.items())
        transient = all(400 <= code < 500 for code, _ in problem.recipients.values())
        return SmtpError(f"{where}: the server refused every recipient: {replies}", transient=transient)
    if isinstance(problem, smtplib.SMTPSenderRefused):
        reply = _reply(problem.smtp_code, problem.smtp_error)
        return SmtpError(
            f"{where}: the server refused the sender {problem.sender!r}: {reply}",
            transient=400 <= problem.smtp_code < 500,
        )
    if isinstance(problem, smtplib.SMTPServerDisconnected):
        if str(problem).endswith("timed out"):  # smtplib's word for a reply that did not come in time
            return SmtpError(f"{where}: no answer in time (the server said nothing within the timeout)", transient=True)
        return SmtpError(f"{where}: the server closed the connection ({problem or 'no reply'})", transient=True)
    if isinstance(problem, smtplib.SMTPResponseException):
        return SmtpError(
            f"{where}: the server answered {_reply(problem.smtp_code, problem.smtp_error)}",
            transient=400 <= problem.smtp_code < 500,
        )
    if isinstance(problem, smtplib.SMTPNotSupportedError):
        return SmtpError(f"{where}: {problem}", transient=False)
    if isinstance(problem, ssl.SSLError):
        return SmtpError(f"{where}: TLS failed: {getattr(problem, 'verify_message', None) or problem}", transient=False)
    if isinstance(problem, TimeoutError | socket.timeout):
        return SmtpError(f"{where}: no answer in time ({problem or 'timed out'})", transient=True)
    if isinstance(problem, OSError):
        return SmtpError(f"{where}: {problem.strerror or problem}", transient=True)
    return SmtpError(f"{where}: {type(problem).__name__}: {problem}", transient=False)


@contextmanager
def connection(server: Server, *, timeout: float, ca_file: str | None) -> Iterator[smtplib.SMTP]:
    """A connection, secured as the block says and logged in when it names a user; QUIT on leaving."""
    step = "connect"
    smtp: smtplib.SMTP | None = None
    try:
        if server.mode == "SSL":
            smtp = smtplib.SMTP_SSL(
                server.host, server.port, local_hostname=_local_name(), timeout=timeout, context=_tls(server, ca_file)
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, local_hostname=_local_name(), timeout=timeout)
        step = "EHLO"
        smtp.ehlo()
        if server.mode == "STARTTLS":
            step = "STARTTLS"
            if not smtp.has_extn("starttls"):
                raise SmtpError(
                    f"{server.where}: the server does not offer STARTTLS; use smtp_type SSL, or INSECURE for a local "
                    "relay without a login",
                    transient=False,
                )
            smtp.starttls(context=_tls(server, ca_file))
            smtp.ehlo()
        if server.username:
            step = "AUTH"
            if server.mode == "INSECURE":
                raise SmtpError(
                    f"{server.where}: a login over an unencrypted connection would send the password in clear; "
                    "use smtp_type STARTTLS or SSL",
                    transient=False,
                )
            smtp.login(server.username, server.password)
    except SmtpError:
        _close(smtp)
        raise
    except Exception as problem:
        _close(smtp)
        raise _failure(server, step, problem) from None
    try:
        yield smtp
    finally:
        _close(smtp, quit=True)


def _close(smtp: smtplib.SMTP | None, quit: bool = False) -> None:
    if smtp is None:
        return
    try:
        if quit:
            smtp.quit()
    except Exception:  # a dropped connection: nothing to say goodbye to
        pass
    finally:
        smtp.close()


def send(smtp: smtplib.SMTP, server: Server, data: bytes, sender: str, recipients: list[str]) -> dict[str, str]:
    """Send one message; the recipients the server refused while taking it for the others, with its
    reply. SmtpError when it took it for none."""
    try:
        refused = smtp.sendmail(sender, recipients, data)
    except Exception as problem:
        raise _failure(server, "sending", problem) from None
    return {rcpt: _reply(code, text) for rcpt, (code, text) in refused.items()}


def probe(smtp: smtplib.SMTP, server: Server, sender: str, recipients: list[str]) -> None:
    """Ask whether the server would take a message from the sender to the recipients (MAIL FROM,
    RCPT TO each), then RSET: nothing is sent. SmtpError naming the first refusal."""
    try:
        code, text = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, text, sender)
        refused = {}
        for rcpt in recipients:
            code, text = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, text)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
    except SmtpError:
        raise
    except Exception as problem:
        raise _failure(server, "check", problem) from None
    finally:
        with suppress(Exception):
            smtp.rset()
