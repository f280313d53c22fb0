"""The package as users install it: a wheel built from this checkout, installed into a folder of its
own (the venv's dependencies beside it, the source tree nowhere on the path), runs an ingest from
the simulator and a report from it, and finds its SQL and its prefect.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import NOW

ROOT = Path(__file__).resolve().parent.parent
#: What a checkout holds besides its source: environments, caches, outputs, earlier builds.
BUILD_LEFTOVERS = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "reports_out",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)

#: Run the installed package's command line with only the install folder added to the path:
#: -P keeps the current folder off it, and the venv's editable finder comes after the path.
RUN = (
    "import sys, ziwo_reports; from ziwo_reports.cli import main; "
    "assert ziwo_reports.__file__.startswith(sys.argv[1]), ziwo_reports.__file__; "
    "sys.exit(main(sys.argv[2:]))"
)


def test_a_built_wheel_ingests_from_the_simulator_and_reports_without_the_source_tree(tmp_path, simulator):
    dist, site, work, source = tmp_path / "dist", tmp_path / "site", tmp_path / "work", tmp_path / "source"
    work.mkdir()
    # Built from a copy: setuptools builds in the tree it is given, and its build/ folder would
    # both litter the checkout and carry stale modules into the next wheel.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("ziwo_reports-*.whl")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    top = {p.name for p in site.iterdir() if p.name not in ("bin", "__pycache__")}
    assert {name for name in top if not name.endswith(".dist-info")} == {"ziwo_reports"}, top
    package = site / "ziwo_reports"
    assert (package / "sql" / "migrations" / "001_warehouse.sql").is_file()
    assert (package / "sql" / "metrics" / "agent_metrics.sql").is_file() and (package / "prefect.yaml").is_file()
    assert (package / "connectors" / "email" / "templates" / "message.html").is_file()  # the e-mail's HTML

    sim = simulator(days=2, calls_per_day=150, now=NOW)
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1",
        "PREFECT_HOME": str(tmp_path / "prefect"), "ZIWO_BASE_URL": sim.base_url, "ZIWO_INSTANCE": "sim",
        "ZIWO_TIMEZONE": sim.config.timezone, "ZIWO_USERNAME": sim.config.username,
        "ZIWO_PASSWORD": sim.config.password, "ZIWO_REPORTS_HTTP_BACKOFF_BASE": "0.001",
    }  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-P", "-c", RUN, str(site), *args]
        return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)

    db = work / "w.duckdb"
    days = ["--from", str(sim.first_day), "--to", str(sim.last_day)]
    ingested = cli("ingest", "--db", str(db), *days)
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    assert f"{len(sim.truth().calls)} new" in ingested.stdout

    window = ["--rolling-date", "custom", "--start", str(sim.first_day), "--end", str(sim.last_day)]
    reported = cli(
        "report", "--db", str(db), "--instance", "sim", *window, "--timezone", sim.config.timezone,
        "--files", "xlsx,csv", "--destination", str(work / "out"),
    )  # fmt: skip
    assert reported.returncode == 0, reported.stderr[-3000:]
    files = sorted(p.suffix for p in (work / "out").iterdir())
    assert files == [".csv", ".xlsx"], files

    deployments = subprocess.run(
        [sys.executable, "-P", "-c", "from ziwo_reports.flows.deployments import declared; "
         "print(sorted(d['name'] for d in declared()))"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert deployments.returncode == 0, deployments.stderr[-2000:]
    assert "report-manual" in deployments.stdout and "ingest-every-15-minutes" in deployments.stdout
