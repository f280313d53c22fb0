"""No secret in any log line or error text."""

from __future__ import annotations

import logging

from ziwo_reports.redaction import MASK, RedactingFilter, redact, register_secret


def test_registered_secrets_are_masked_everywhere():
    register_secret("s3cr3t-password-value")
    text = redact("login failed with s3cr3t-password-value for user bob")
    assert "s3cr3t-password-value" not in text and MASK in text and "bob" in text


def test_secret_looking_values_are_masked_without_registration():
    samples = {
        "GET /callHistory/?access_token=abc123def&skip=0": "abc123def",
        '{"username": "a@b.c", "password": "hunter22"}': "hunter22",
        "headers: access_token: 0f2c-uuid-token": "0f2c-uuid-token",
        "Authorization: Bearer eyJhbGciOi.payload.sig": "eyJhbGciOi.payload.sig",
        "url?api_key=KEY-777": "KEY-777",
    }
    for text, secret in samples.items():
        cleaned = redact(text)
        assert secret not in cleaned, cleaned
    assert redact("GET /callHistory/?access_token=abc&skip=10").endswith("&skip=10")


def test_installed_redaction_covers_args_tracebacks_and_child_loggers(caplog):
    register_secret("tok-abcdef-123456")
    child = logging.getLogger("some.library.deep.child")
    with caplog.at_level(logging.DEBUG):
        child.warning("token is %s", "tok-abcdef-123456")
        try:
            raise RuntimeError("boom with tok-abcdef-123456")
        except RuntimeError:
            child.exception("failed")
    assert "tok-abcdef-123456" not in caplog.text
    assert caplog.text.count(MASK) >= 2


def test_filter_object_rewrites_a_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "password=%s", ("pw-123456",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == f"password={MASK}"
