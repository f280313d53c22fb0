"""Credentials from a Prefect block, saved to and loaded from a real Prefect API."""

from __future__ import annotations

import pytest

from connectors.ziwo import ZiwoClient
from tests.conftest import FAST


@pytest.mark.usefixtures("prefect_api")
def test_credentials_block_round_trip_and_pull(simulator):
    from connectors.ziwo.block import ZiwoCredentials

    sim = simulator(days=1, calls_per_day=100)
    ZiwoCredentials(base_url=sim.base_url, username=sim.config.username, password=sim.config.password).save(
        "simulator-test", overwrite=True
    )
    block = ZiwoCredentials.load("simulator-test")
    assert sim.config.password not in repr(block) and sim.config.password not in str(block.model_dump())
    with ZiwoClient(block.settings(http=FAST, page_size=50)) as client:
        pulled = sum(len(b.records) for b in client.iter_calls(sim.last_day, sim.last_day))
    assert pulled == len(sim.truth(sim.last_day, sim.last_day).calls) > 0


@pytest.mark.usefixtures("prefect_api")
def test_instance_name_in_a_block_means_the_aswat_url():
    from connectors.ziwo.block import ZiwoCredentials

    ZiwoCredentials(instance="acme", access_token="tok-acme-123456").save("acme-test", overwrite=True)
    settings = ZiwoCredentials.load("acme-test").settings()
    assert settings.base_url == "https://acme-api.aswat.co" and settings.access_token == "tok-acme-123456"


@pytest.mark.usefixtures("prefect_api")
def test_pull_command_reads_a_block(simulator, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from prefect.settings import PREFECT_API_URL

    from connectors.ziwo.block import ZiwoCredentials

    sim = simulator(days=1, calls_per_day=100)
    ZiwoCredentials(base_url=sim.base_url, username=sim.config.username, password=sim.config.password).save(
        "cli-test", overwrite=True
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    out = tmp_path / "calls.jsonl"
    cli = str(Path(sys.executable).with_name("ziwo-reports"))
    result = subprocess.run(
        [cli, "pull", "--block", "cli-test", "--from", str(sim.last_day), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == len(sim.truth(sim.last_day, sim.last_day).calls)
    assert sim.config.password not in result.stdout + result.stderr
