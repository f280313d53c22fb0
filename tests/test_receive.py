"""`ziwo-reports receive`: a loopback receiver that checks each message's signature with the
credentials a webhook target names, prints one line per message, and exits 1 when one did not verify."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime

import requests
from standardwebhooks.webhooks import Webhook

from tests.prefect_server import free_port
from ziwo_reports.cli import main

SECRET = "whsec_" + base64.b64encode(b"receive-test-signing-key-32bytes").decode()


def _post(port: int, secret: str, message_id: str) -> int:
    body = '{"type": "report.row", "data": {"row_key": "acme:agent=7"}}'
    headers = Webhook(secret).sign(message_id, datetime.now(UTC), body)  # the signature header
    signed = {"webhook-id": message_id, "webhook-timestamp": str(int(time.time())), "webhook-signature": headers}
    for _ in range(100):  # until the receiver listens
        try:
            url = f"http://127.0.0.1:{port}/ziwo/agents"
            return requests.post(url, data=body, headers=signed, timeout=5).status_code
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("the receiver never listened")


def test_it_prints_each_message_and_whether_it_verified(monkeypatch, capsys):
    monkeypatch.setenv("OPS_HOOK_SIGNING_SECRETS", SECRET)
    port = free_port()
    result: list[int] = []
    argv = ["receive", "--port", str(port), "--credentials", "env:OPS_HOOK", "--count", "2"]
    listening = threading.Thread(target=lambda: result.append(main(argv)))
    listening.start()
    other = "whsec_" + base64.b64encode(b"another-signing-key-of-32-bytes!").decode()
    assert _post(port, SECRET, "msg_one") == 204
    assert _post(port, other, "msg_two") == 401
    listening.join(timeout=30)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"listening on http://127.0.0.1:{port}/ (Ctrl-C stops)"
    assert out[1] == "/ziwo/agents report.row id msg_one verified: row acme:agent=7"
    assert out[2] == "/ziwo/agents report.row id msg_two NOT VERIFIED (401): row acme:agent=7"
    assert out[3] == "2 messages, 1 not verified" and result == [1]
    assert SECRET not in "\n".join(out)


def test_without_credentials_it_says_which(monkeypatch, capsys):
    assert main(["receive", "--credentials", "env:NOPE", "--count", "1"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "credentials 'env:NOPE'" in error[0]
