"""Credentials from a Prefect block, saved to and loaded from a real Prefect API."""

from __future__ import annotations

import pytest

from tests.conftest import FAST
from ziwo_reports.connectors.ziwo import ZiwoClient


@pytest.mark.usefixtures("prefect_api")
def test_credentials_block_round_trip_and_pull(simulator):
    from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

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
    from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

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

    from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

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


def _save_block(args: list[str], env: dict[str, str], typed: str = ""):
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).with_name("ziwo-reports"))
    return subprocess.run([cli, "save-block", *args], input=typed, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.usefixtures("prefect_api")
def test_save_block_command_saves_the_ziwo_environment_after_a_login(simulator, tmp_path):
    import os

    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

    sim = simulator(days=1, calls_per_day=50)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    env.update(
        PREFECT_API_URL=PREFECT_API_URL.value(),
        ZIWO_BASE_URL=sim.base_url,
        ZIWO_INSTANCE="sim-block",
        ZIWO_TIMEZONE=sim.config.timezone,
        ZIWO_USERNAME=sim.config.username,
    )
    password = sim.config.password
    saved = _save_block(["cli-saved"], env, typed=password + "\n")  # the password as asked for, on stdin
    assert saved.returncode == 0, saved.stderr
    assert f"logged in to {sim.base_url} as {sim.config.username}" in saved.stdout
    assert "saved Ziwo Credentials block 'cli-saved'" in saved.stdout and password not in saved.stdout + saved.stderr
    settings = ZiwoCredentials.load("cli-saved").settings()
    assert (settings.base_url, settings.instance, settings.timezone, settings.username, settings.password) == (
        sim.base_url, "sim-block", sim.config.timezone, sim.config.username, password
    )  # fmt: skip

    # Nothing changes on a name in use (without --overwrite), a failed login, or no Prefect server.
    again = _save_block(["cli-saved", "--timezone", "UTC"], env, typed=password + "\n")
    assert again.returncode == 1 and again.stderr.startswith("error: a Ziwo Credentials block named 'cli-saved'")
    assert again.stderr.count("\n") == 1 and "--overwrite" in again.stderr
    wrong = _save_block(["cli-saved", "--overwrite", "--timezone", "UTC"], env, typed="not-the-password\n")
    assert wrong.returncode == 1 and "login to" in wrong.stderr and "failed: HTTP 401" in wrong.stderr
    assert wrong.stderr.count("\n") == 1 and "not-the-password" not in wrong.stderr
    assert ZiwoCredentials.load("cli-saved").settings().timezone == sim.config.timezone
    unset = {k: v for k, v in env.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "home")}
    lost = _save_block(["other"], unset, typed=password + "\n")
    assert lost.returncode == 1 and lost.stderr.startswith("error: PREFECT_API_URL is not set")
    assert lost.stderr.count("\n") == 1
    misnamed = _save_block(["Ziwo Main"], env, typed=password + "\n")
    assert misnamed.returncode == 1 and misnamed.stderr == (
        "error: block name 'Ziwo Main': only lowercase letters, digits and dashes, e.g. ziwo\n"
    )

    replaced = _save_block(["cli-saved", "--overwrite", "--timezone", "UTC", "--no-check"], env, typed=password + "\n")
    assert replaced.returncode == 0, replaced.stderr
    assert ZiwoCredentials.load("cli-saved").settings().timezone == "UTC"
