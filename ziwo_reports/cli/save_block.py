"""`ziwo-reports save-block`: the Ziwo connection as a 'Ziwo Credentials' block on a Prefect server."""

from __future__ import annotations

import argparse
import os
import re
import sys

from ziwo_reports.cli.common import add_connection_options, ziwo_settings

NAME = "save-block"
HELP = "save the Ziwo connection as a 'Ziwo Credentials' block on the Prefect server of PREFECT_API_URL"
DESCRIPTION = (
    "Save the Ziwo connection (options, else ZIWO_* variables) as a Ziwo Credentials block on "
    "the Prefect server of PREFECT_API_URL, after a login to check it. Without a password or token given, "
    "the password is asked for (not echoed), or read from standard input when that is not a terminal."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="block name, e.g. ziwo (the deployments of prefect.yaml read `ziwo`)")
    add_connection_options(parser, for_block=True)
    parser.add_argument("--overwrite", action="store_true", help="replace a block of that name")
    parser.add_argument("--no-check", action="store_true", help="save without logging in to Ziwo first")


def _password_prompt(username: str) -> str:
    """The password, typed without echo on a terminal, else the first line of standard input."""
    import getpass

    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        return getpass.getpass(f"Ziwo password for {username}: ")
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.connectors.ziwo import ZiwoClient, instance_url
    from ziwo_reports.connectors.ziwo.block import ZiwoCredentials
    from ziwo_reports.flows.ingest import sign_in

    if not re.fullmatch(r"[a-z0-9-]+", args.name):  # Prefect's rule for block names
        raise ValueError(f"block name {args.name!r}: only lowercase letters, digits and dashes, e.g. ziwo")
    api = PREFECT_API_URL.value()
    if not api:
        raise ValueError(
            "PREFECT_API_URL is not set, so the block would go to a temporary Prefect server and be lost: "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api (your server's API) first"
        )
    with get_client(sync_client=True) as prefect_client:
        problem = prefect_client.api_healthcheck()
        if problem is not None:
            raise ValueError(f"PREFECT_API_URL {api!r} does not answer ({problem}); is `prefect server start` running?")
        try:  # before the password is asked for
            prefect_client.read_block_document_by_name(args.name, block_type_slug="ziwo-credentials")
            if not args.overwrite:
                raise ValueError(
                    f"a Ziwo Credentials block named {args.name!r} exists on {api}; --overwrite replaces it"
                )
        except ObjectNotFound:
            pass
    args.block, args.page_size = None, None
    token = args.access_token or os.environ.get("ZIWO_ACCESS_TOKEN")
    username = args.username or os.environ.get("ZIWO_USERNAME")
    if username and not token and not (args.password or os.environ.get("ZIWO_PASSWORD")):
        args.password = _password_prompt(username)
    settings = ziwo_settings(args)
    if not args.no_check:
        with ZiwoClient(settings) as client:
            who = sign_in(client)
        print(f"logged in to {settings.base_url} as {who or settings.username}")
    try:
        derived = instance_url(settings.instance) == settings.base_url
    except ValueError:  # not an aswat.co instance name
        derived = False
    block = ZiwoCredentials(
        instance=settings.instance,
        base_url=None if derived else settings.base_url,
        timezone=settings.timezone,
        country_code=settings.country_code,
        username=settings.username,
        password=settings.password,
        access_token=settings.access_token,
    )
    block.save(args.name, overwrite=args.overwrite)
    login = "an access token" if settings.access_token and not settings.username else settings.username
    print(
        f"saved Ziwo Credentials block {args.name!r} on {api}: instance {settings.instance} at {settings.base_url}, "
        f"{settings.timezone}, country code {settings.country_code}, login {login}"
    )
    return 0
