"""Keep secrets (passwords, tokens, API keys) out of log lines and error text.

Two nets: values registered with `register_secret` are replaced wherever they appear, and
anything that looks like `password=...`, `"access_token": "..."`, `Bearer ...` or the password of
`https://user:password@host` is masked
even when nobody registered it.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_secret_pattern: re.Pattern[str] | None = None

_KEYED = re.compile(
    r"(?i)((?:access_token|accesstoken|password|passwd|api_key|apikey|client_secret|secret|token)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,;}]+)"
)
_BEARER = re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]+)")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/@\s:]*:)([^@/\s]+)@")  # https://user:password@host


def register_secret(value: str | None) -> None:
    """Mask `value` in every later log record and error message."""
    global _secrets, _secret_pattern
    if not value or len(value) < _MIN_SECRET_LENGTH or value in _secrets:
        return
    with _lock:
        _secrets = _secrets | {value}
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """Return `text` with registered secrets and secret-looking values masked."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _KEYED.sub(lambda m: m.group(1) + MASK, text)
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message and traceback with `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_installed = False


def install() -> None:
    """Apply `RedactingFilter` to every log record the process creates, whatever its handler.

    A filter on a logger misses records of child loggers and handlers added later (pytest,
    Prefect); wrapping the record factory catches them all.
    """
    global _installed
    with _lock:
        if _installed:
            return
        base_factory = logging.getLogRecordFactory()
        redactor = RedactingFilter()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = base_factory(*args, **kwargs)
            redactor.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
