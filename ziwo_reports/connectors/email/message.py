"""One message as it goes out: headers (From, To, Cc, never Bcc; a Message-ID derived from the
item's key), the plain-text part and its HTML alternative, and the report files attached (the
file connector's writers, names RFC 2231-encoded by the e-mail package) or, when they are too
large, written to the link destination and linked."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from urllib.parse import quote

from ziwo_reports.connectors.email.addresses import domain_of, envelope_address, header_address
from ziwo_reports.connectors.email.options import EmailTarget
from ziwo_reports.connectors.files.naming import name_fields, render_name
from ziwo_reports.connectors.files.options import FileOptions
from ziwo_reports.connectors.files.write import WRITERS, write_report_files
from ziwo_reports.report_model import Report

MIME_TYPES = {
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": ("text", "csv"),
}
TEST_PREFIX = "[TEST] "


class MessageError(Exception):
    """A message that cannot be made (attachments too large with nowhere to link them)."""


def message_id(target_name: str, key: str, sender: str) -> str:
    """The Message-ID of an item: the same for every send of the same key to the same target, so a
    resend is recognisably the same message (mail clients thread or drop a duplicate)."""
    digest = hashlib.sha256(f"{target_name}\0{key}".encode()).hexdigest()[:32]
    return f"<ziwo.{digest}@{domain_of(sender)}>"


@dataclass(frozen=True)
class Recipients:
    to: list[str]
    cc: list[str]
    bcc: list[str]

    @property
    def envelope(self) -> list[str]:
        """Every recipient once, as SMTP's RCPT TO takes them (bcc included: that is how they get it)."""
        return list(dict.fromkeys(envelope_address(a) for a in (*self.to, *self.cc, *self.bcc)))


def recipients(options: EmailTarget) -> Recipients:
    """Who gets it: to, cc and bcc; a test send, test_to alone."""
    if options.test:
        return Recipients(list(options.test_to), [], [])
    return Recipients(list(options.to), list(options.cc), list(options.bcc))


@dataclass
class Files:
    """The report files of a message: attached (name, format, bytes), or linked (name, URL)."""

    attached: list[tuple[str, str, bytes]] = field(default_factory=list)
    linked: list[tuple[str, str]] = field(default_factory=list)


def _file_options(options: EmailTarget, **more) -> FileOptions:
    return FileOptions(formats=options.attach, template=options.file_template, thresholds=options.thresholds, **more)


def report_files(report: Report, options: EmailTarget, generated_at: datetime) -> Files:
    """The report's files, made by the file connector's writers: attached while they fit
    `max_attachment_bytes` in all, else written to link_destination and linked; MessageError
    when they do not fit and there is no link destination."""
    if not options.attach:
        return Files()
    file_options = _file_options(options)
    made = []
    for fmt in options.attach:
        buffer = io.BytesIO()
        WRITERS[fmt](report, buffer, file_options, generated_at)
        name = render_name(options.file_template, name_fields(report, fmt, generated_at), fmt)
        made.append((name, fmt, buffer.getvalue()))
    size = sum(len(data) for _, _, data in made)
    if size <= options.max_attachment_bytes:
        return Files(attached=[(name.rsplit("/", 1)[-1], fmt, data) for name, fmt, data in made])
    if options.link_destination is None or options.link_base_url is None:
        raise MessageError(
            f"the attachments are {size:,} bytes, more than max_attachment_bytes {options.max_attachment_bytes:,}; "
            "set link_destination and link_base_url to link them instead, or raise the limit"
        )
    write_report_files(report, _file_options(options, destination=options.link_destination), generated_at=generated_at)
    linked = [
        (name.rsplit("/", 1)[-1], options.link_base_url + "/".join(quote(part) for part in name.split("/")))
        for name, _, _ in made
    ]
    return Files(linked=linked)


def build(
    options: EmailTarget,
    *,
    key: str,
    subject: str,
    text: str,
    html: str,
    files: Files,
    sent_at: datetime,
) -> EmailMessage:
    """The message: headers, text with an HTML alternative, attachments."""
    message = EmailMessage()
    who = recipients(options)
    message["From"] = header_address(options.sender)
    if who.to:
        message["To"] = [header_address(a) for a in who.to]
    if who.cc:
        message["Cc"] = [header_address(a) for a in who.cc]
    if not who.to and not who.cc:  # bcc only: say so without naming them (RFC 5322 3.6.3)
        message["To"] = "undisclosed-recipients:;"
    if options.reply_to:
        message["Reply-To"] = header_address(options.reply_to)
    message["Subject"] = (TEST_PREFIX if options.test else "") + subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id(options.target_name, key, options.sender)
    # RFC 3834: a report, not a person writing: out-of-office replies stay away.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ziwo-Report-Key"] = key
    message.set_content(text, subtype="plain", cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    for name, fmt, data in files.attached:
        maintype, subtype = MIME_TYPES[fmt]
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as SMTP carries it: CRLF line ends, long lines folded."""
    return message.as_bytes(policy=SMTP)
