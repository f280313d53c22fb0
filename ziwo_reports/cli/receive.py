"""`ziwo-reports receive`: a webhook receiver on this machine, to watch what a workflow or a report
sends (the seed's "check the webhook listener"): each message as it arrives, its signature checked
with the same credentials the webhook target signs with."""

from __future__ import annotations

import argparse
import time

NAME = "receive"
HELP = "a loopback webhook receiver that checks signatures and prints each message as it arrives"
DESCRIPTION = (
    "Listens on 127.0.0.1 (any path) until Ctrl-C, verifies each Standard Webhooks signature with the signing "
    "secrets of --credentials (a Webhook Credentials block, or env:PREFIX for PREFIX_SIGNING_SECRETS, as a "
    "webhook target names them), answers 204 (401 when the signature does not verify) and prints one line per "
    "message: its path, type, id, whether it verified and what it carries. Point a webhook target at "
    "http://127.0.0.1:PORT/... with allow_private_urls: true."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    from ziwo_reports.cli.common import positive_int

    parser.add_argument("--port", type=positive_int, default=8099, help="the port on 127.0.0.1 (default 8099)")
    parser.add_argument(
        "--credentials",
        required=True,
        help="whose signing secrets to check with: a Webhook Credentials block's name, or env:PREFIX",
    )
    parser.add_argument("--count", type=positive_int, help="stop after this many messages (default: Ctrl-C)")


def _carries(envelope) -> str:  # dict | None
    """What a message carries, in a few words: a row's key, a report's row count, a chunk's place."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
        return "not a JSON envelope"
    data = envelope["data"]
    if "row_key" in data:
        return f"row {data['row_key']}"
    if isinstance(data.get("rows"), list):
        return f"{len(data['rows'])} rows"
    return ", ".join(sorted(data))[:80]


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.cli.webhook_receiver import Arrived, WebhookReceiver
    from ziwo_reports.connectors.secrets import load_credentials
    from ziwo_reports.connectors.webhook.block import WebhookCredentials

    block = load_credentials(WebhookCredentials, args.credentials)
    secret = block.signing_secrets[0].get_secret_value()
    arrived: list[Arrived] = []

    def show(path: str, message: Arrived) -> None:
        arrived.append(message)
        verified = "verified" if message.verified else "NOT VERIFIED (401)"
        print(f"{path} {message.type} id {message.id} {verified}: {_carries(message.envelope)}", flush=True)

    receiver = WebhookReceiver(secret, port=args.port, on_arrival=show)  # listening from here on
    print(f"listening on {receiver.url('/')} (Ctrl-C stops)", flush=True)
    try:
        with receiver:
            while args.count is None or len(arrived) < args.count:
                time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    print(f"{len(arrived)} messages, {sum(not m.verified for m in arrived)} not verified")
    return 1 if any(not message.verified for message in arrived) else 0
