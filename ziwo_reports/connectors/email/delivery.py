"""E-mail as a delivery (type `email`).

Items:
- a report: one message, keyed by the report's key (`report_key`: instance, report, grouping,
  window, zone, filters); the headline totals, the rows flagged beyond the thresholds and the top
  rows in the body, the files attached (or linked when too large);
- an after_call batch: one alert per call, keyed by the call's key; or with `digest_minutes`, one
  digest per window of that many minutes (from midnight in the report zone) holding the calls
  of the batch, keyed by the window: `<instance>:after_call:<workflow>:digest:<N>m:<window start>`.

A message cannot be taken back or upserted, so the delivery is `once`: an item the ledger shows
as sent to this target is not sent again (a rerun of the same period sends nothing; `--force`
does send again). A digest window whose message went already holds the calls that came after it
(status `held`): they stay after the workflow's cursor and go with the next window's message, so
there is at most one message per window and no call is lost.

The Message-ID derives from the target and the key: the same on every send of an item (a replay,
a forced rerun), recorded in the ledger as the item's ref. A refused or dropped message fails its
item with the server's reply (4xx and dropped connections are tried `attempts` times), and
`ziwo-reports replay` sends it again."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pyarrow.compute as pc

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    DeliveryError,
    Item,
    ItemResult,
    Plan,
    json_hash,
    register,
    sample_rows,
    table_hash,
    validate_options,
)
from ziwo_reports.connectors.email.addresses import envelope_address
from ziwo_reports.connectors.email.body import calls_body, render_html, render_text, report_body
from ziwo_reports.connectors.email.message import (
    TEST_PREFIX,
    Files,
    MessageError,
    build,
    message_id,
    recipients,
    report_files,
    wire_bytes,
)
from ziwo_reports.connectors.email.options import EmailTarget
from ziwo_reports.connectors.email.smtp import Server, SmtpError, connection, probe, send, server_of
from ziwo_reports.connectors.email.templates import render as render_template
from ziwo_reports.connectors.email.templates import report_fields
from ziwo_reports.connectors.secrets import CredentialsError, load_credentials
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, after_call_workflow, report_key, row_keys

log = logging.getLogger(__name__)

#: Messages a dry run shows as they would go out.
SHOWN_MESSAGES = 3


@dataclass(frozen=True)
class Mail:
    """One message to send: its key, the rows it carries, and whether it is a report or calls."""

    key: str
    report: Report
    calls: bool  # an after_call alert or digest
    window: tuple[datetime, datetime] | None = None  # a digest's window, in the report zone

    @property
    def row_keys(self) -> tuple[str, ...]:
        return tuple(str(k) for k in row_keys(self.report).to_pylist()) if self.calls else ()


def digest_window(report: Report, minutes: int) -> tuple[datetime, datetime]:
    """The window of `minutes` (counted from midnight in the report zone) that holds the batch's
    "now": the time its last ingest finished, so a rerun of the batch has the same window."""
    zone = report.zone
    local = zone.local(report.as_of)
    midnight = zone.midnight(local.date())
    step = timedelta(minutes=minutes)
    start = midnight + ((report.as_of - midnight) // step) * step
    return zone.local(start), zone.local(min(start + step, zone.midnight(local.date() + timedelta(days=1))))


def _call_summary(report: Report) -> str:
    """One line of what the calls are: the call itself for one, how many and their span for more."""
    table, zone = report.table, report.zone
    if table.num_rows == 0:
        return "no calls"
    if table.num_rows == 1:
        row = table.to_pylist()[0]
        caller = row.get("caller_number") or "an unknown number"
        where = f" to {row['queue_name']}" if row.get("queue_name") else ""
        agent = f", agent {row['agent_name']}" if row.get("agent_name") else ""
        started = row.get("started_at")
        at = f" at {zone.local(started):%H:%M}" if isinstance(started, datetime) else ""
        return f"{row.get('result') or 'call'} call from {caller}{where}{agent}{at}"
    first, last = pc.min(table["started_at"]).as_py(), pc.max(table["started_at"]).as_py()
    span = f", {zone.local(first):%H:%M}–{zone.local(last):%H:%M}" if first and last else ""
    return f"{table.num_rows} calls{span}"


class EmailDelivery:
    type: ClassVar[str] = "email"
    once: ClassVar[bool] = True

    def __init__(self, options: EmailTarget) -> None:
        self.options = options
        self._server: Server | None = None

    def validate(self) -> None:
        """The options as the model checks them (addresses, templates, limits); a test send needs
        test_to. No I/O."""
        validate_options(self.options)
        if self.options.test and not self.options.test_to:
            raise DeliveryConfigError(
                f"email delivery: test_to []: a test send of target {self.options.target_name!r} goes only to "
                "test_to, which is empty; give a test recipient"
            )

    # --- parts ---------------------------------------------------------------------------------

    def server(self) -> Server:
        """The SMTP server and login of the credentials the options name, loaded once (the password
        registered for redaction)."""
        if self._server is None:
            from prefect_email import EmailServerCredentials

            try:
                block = load_credentials(EmailServerCredentials, self.options.credentials)
            except CredentialsError as problem:
                raise DeliveryError(f"email delivery {self.options.target_name!r}: {problem}") from None
            self._server = server_of(block)
        return self._server

    def _audience(self) -> str:
        """`:to:<hash of the recipients>`, the end of every key: the same report to other people is
        another message (and is sent), to the same people it is the same one (and is not)."""
        envelope = sorted(recipients(self.options).envelope)
        return ":to:" + hashlib.sha256("\0".join(envelope).encode()).hexdigest()[:8]

    def mails(self, report: Report) -> list[Mail]:
        """The messages of the report, in order (see the module's docstring)."""
        prefix, audience = ("test:" if self.options.test else ""), self._audience()
        if after_call_workflow(report.origin) is None:
            return [Mail(prefix + report_key(report) + audience, report, calls=False)]
        table = report.table
        if table.num_rows == 0:
            return []
        keys = row_keys(report)
        if self.options.digest_minutes is None:
            return [
                Mail(
                    prefix + str(keys[i].as_py()), replace(report, table=table.slice(i, 1), keys=keys.slice(i, 1)), True
                )
                for i in range(table.num_rows)
            ]
        start, end = digest_window(report, self.options.digest_minutes)
        origin = report.origin or ""
        key = (
            f"{prefix}{report.spec.instance or 'all'}:{origin}:digest:{self.options.digest_minutes}m:"
            f"{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}{audience}"
        )
        return [Mail(key, report, True, window=(start, end))]

    def _fields(self, mail: Mail, generated_at: datetime) -> dict[str, Any]:
        fields = report_fields(mail.report, generated_at)
        if mail.calls:
            table = mail.report.table
            first = table.slice(0, 1).to_pylist()[0] if table.num_rows else {}
            fields |= {
                "workflow": after_call_workflow(mail.report.origin),
                "calls": table.num_rows,
                "summary": _call_summary(mail.report),
                **{name: first.get(name) for name in ("call_id", "caller_number", "agent_name", "queue_name")},
                **{name: first.get(name) for name in ("result", "direction", "disposition")},
                "started_at": mail.report.zone.local(first["started_at"]) if first.get("started_at") else None,
            }
        return fields

    def _footer(self, mail: Mail, generated_at: datetime) -> list[str]:
        report, zone = mail.report, mail.report.zone
        lines = [
            f"Generated {zone.local(generated_at):%Y-%m-%d %H:%M} ({zone.label}) by ziwo-reports, "
            f"delivery {self.options.target_name!r}."
        ]
        if not mail.calls:
            lines.append(
                f"FCR data held until {report.horizon.astimezone(UTC):%Y-%m-%d %H:%M} UTC. Totals are ratios of sums, "
                "as docs/metrics.md defines them; every column is in the attached files."
            )
        if self.options.test:
            lines.append("This is a test send: it went to the test recipients only.")
        return lines

    def message(self, mail: Mail, generated_at: datetime):  # -> EmailMessage
        """The message of one mail, files made (and, when too large, written and linked)."""
        options, fields = self.options, self._fields(mail, generated_at)
        if mail.calls:
            subject = render_template(options.alert_subject, fields)
            zone = mail.report.zone
            if mail.window is not None:
                start, end = mail.window
                sub = f"Digest of {start:%d %b %H:%M}–{end:%H:%M} ({zone.label})"
            else:
                sub = f"Alert of workflow {fields['workflow']!r} ({zone.label})"
            body = calls_body(
                mail.report,
                heading=f"{fields['workflow']}: {fields['summary']}",
                subheading=sub,
                intro=render_template(options.intro, fields) if options.intro else "",
                footer=self._footer(mail, generated_at),
            )
            files = None
        else:
            subject = render_template(options.subject, fields)
            instance = f" · {fields['instance']}" if mail.report.spec.instance else ""
            body = report_body(
                mail.report,
                heading=f"{fields['report_title']}: {fields['period']}{instance}",
                intro=render_template(options.intro, fields) if options.intro else "",
                thresholds=options.thresholds,
                top_by=options.top_by,
                top_rows=options.top_rows,
                flagged_rows=options.flagged_rows,
                footer=self._footer(mail, generated_at),
            )
            files = report_files(mail.report, options, generated_at)
            body.attachments = [name for name, _, _ in files.attached]
            body.links = files.linked
        if options.test:
            body.heading = TEST_PREFIX + body.heading
        return build(
            options,
            key=mail.key,
            subject=subject,
            text=render_text(body),
            html=render_html(body),
            files=files or Files(),
            sent_at=generated_at,
        )

    def _target(self) -> str:
        who = recipients(self.options)
        shown = [envelope_address(a) for a in (*who.to, *who.cc)]
        text = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
        return text + (f" (+{len(who.bcc)} bcc)" if who.bcc else "") or f"{len(who.bcc)} bcc"

    def _item(self, mail: Mail) -> Item:
        options = self.options
        payload = {
            "key": mail.key,
            "data": table_hash(mail.report.table),
            "subject": options.alert_subject if mail.calls else options.subject,
            "intro": options.intro,
            "to": options.to,
            "cc": options.cc,
            "bcc": options.bcc,
            "attach": [] if mail.calls else options.attach,
        }
        return Item(
            key=mail.key,
            target=self._target(),
            method="send",
            rows=mail.report.table.num_rows,
            payload_hash=json_hash(payload),
            row_keys=mail.row_keys,
            sample=sample_rows(mail.report.table),
        )

    # --- the contract ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Connect, secure, log in, and ask whether the server takes the sender and every recipient
        (MAIL FROM, RCPT TO, then RSET): nothing is sent."""
        try:
            server = self.server()
        except DeliveryError as problem:
            return CheckResult(False, str(problem))
        who = recipients(self.options)
        started = time.monotonic()
        try:
            with connection(server, timeout=self.options.timeout_s, ca_file=self.options.tls_ca_file) as smtp:
                probe(smtp, server, envelope_address(self.options.sender), who.envelope)
        except SmtpError as problem:
            return CheckResult(False, str(problem))
        elapsed = round(1000 * (time.monotonic() - started))
        login = f"logged in as {server.username!r}, " if server.username else ""
        return CheckResult(
            True,
            f"{server.where}: {login}the sender and {len(who.envelope)} recipients accepted in {elapsed} ms "
            "(nothing sent)",
        )

    def plan(self, report: Report) -> Plan:
        """Every message it would send (key, recipients, rows), and the first ones' headers and
        text as they would go out; nothing sent, no file written."""
        mails = self.mails(report)
        items = [self._item(mail) for mail in mails]
        now = datetime.now(UTC)
        shown = []
        who = recipients(self.options)
        for mail in mails[:SHOWN_MESSAGES]:
            fields = self._fields(mail, now)
            subject = render_template(self.options.alert_subject if mail.calls else self.options.subject, fields)
            shown.append(
                {
                    "method": "SMTP",
                    "from": self.options.sender,
                    "to": who.to,
                    "cc": who.cc,
                    "bcc": who.bcc,
                    "subject": (TEST_PREFIX if self.options.test else "") + subject,
                    "message_id": message_id(self.options.target_name, mail.key, self.options.sender),
                    "rows": mail.report.table.num_rows,
                    "attach": [] if mail.calls else self.options.attach,
                }
            )
        return Plan(self.type, self.options.target_name, items, requests=shown)

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        """Send the messages (only those of `keys`, when given) over one connection, one
        ItemResult each; a dropped connection is opened again for the next message."""
        mails = [mail for mail in self.mails(report) if keys is None or mail.key in keys]
        if not mails:
            return
        try:
            server = self.server()
        except DeliveryError as problem:
            for mail in mails:
                yield ItemResult(mail.key, "failed", error=str(problem))
            return
        sender = envelope_address(self.options.sender)
        envelope = recipients(self.options).envelope
        link = _Link(server, self.options.timeout_s, self.options.tls_ca_file)
        try:
            for mail in mails:
                yield self._send(link, mail, sender, envelope)
        finally:
            link.close()

    def _send(self, link: _Link, mail: Mail, sender: str, envelope: list[str]) -> ItemResult:
        generated_at = datetime.now(UTC)
        try:
            message = self.message(mail, generated_at)
        except MessageError as problem:
            return ItemResult(mail.key, "failed", error=f"not sent: {problem}")
        except Exception as problem:  # a file that cannot be written to the link destination, say
            return ItemResult(mail.key, "failed", error=redact(f"not sent: {type(problem).__name__}: {problem}"))
        data = wire_bytes(message)
        refused: dict[str, str] = {}
        for attempt in range(1, self.options.attempts + 1):
            try:
                refused = send(link.open(), link.server, data, sender, envelope)
                break
            except SmtpError as problem:
                link.drop()
                if not problem.transient or attempt == self.options.attempts:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    return ItemResult(mail.key, "failed", error=f"{problem}{tries}")
                time.sleep(min(2 ** (attempt - 1), 10))
        ref = message["Message-ID"]
        if refused:
            shown = "; ".join(f"{rcpt}: {reply}" for rcpt, reply in refused.items())
            took = len(envelope) - len(refused)
            return ItemResult(
                mail.key,
                "failed",
                ref=ref,
                error=(
                    f"{link.server.where}: the server refused {len(refused)} of {len(envelope)} recipients ({shown}); "
                    f"the other {took} took it; a replay sends it to all again, under the same Message-ID"
                ),
            )
        attached = [part.get_filename() for part in message.iter_attachments()]
        log.info("e-mail %s sent to %d recipients as %s", mail.key, len(envelope), ref)
        info = {"recipients": len(envelope), "bytes": len(data), "rows": mail.report.table.num_rows}
        return ItemResult(mail.key, "sent", ref=ref, info=info | {"attached": attached})


class _Link:
    """One SMTP connection for a delivery's messages: opened when first needed, opened again
    after a transient failure; a permanent failure to connect (TLS, login) is kept, not retried
    for every message."""

    def __init__(self, server: Server, timeout: float, ca_file: str | None) -> None:
        self.server, self.timeout, self.ca_file = server, timeout, ca_file
        self._context = None
        self._smtp = None
        self._refused: SmtpError | None = None

    def open(self):  # -> smtplib.SMTP
        if self._refused is not None:
            raise self._refused
        if self._smtp is None:
            context = connection(self.server, timeout=self.timeout, ca_file=self.ca_file)
            try:
                self._smtp = context.__enter__()
            except SmtpError as problem:
                if not problem.transient:
                    self._refused = problem
                raise
            self._context = context
        return self._smtp

    def drop(self) -> None:
        """Forget the connection after a failure (the server may have closed it, or be mid-reply)."""
        self.close()

    def close(self) -> None:
        context, self._context, self._smtp = self._context, None, None
        if context is not None:
            with contextlib.suppress(Exception):  # already gone
                context.__exit__(None, None, None)


register(EmailTarget, EmailDelivery)
