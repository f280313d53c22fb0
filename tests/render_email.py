"""Render the e-mail of the golden day's agent report as a mail client would get it, and
screenshot it with headless chromium: `python -m tests.render_email docs/email-report.png`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tests import golden
from ziwo_reports.connectors.delivery import delivery_for
from ziwo_reports.warehouse import open_warehouse

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def html_of_golden_report(folder: Path) -> str:
    """The HTML part of the golden day's agent-performance message (hourly rows: a longer table)."""
    with open_warehouse(folder / "w.duckdb") as warehouse:
        golden.load(warehouse)
        report = golden.report_of(warehouse, interval="none")
    delivery = delivery_for(
        {
            "type": "email",
            "name": "morning-report",
            "credentials": "env:UNUSED",
            "sender": "Ziwo reports <reports@acme.example>",
            "to": ["ops@acme.example"],
            "intro": "Good morning: yesterday's agent figures, {period}. Rows in red are beyond the thresholds.",
        }
    )
    (mail,) = delivery.mails(report)
    message = delivery.message(mail, datetime(2026, 11, 11, 6, 0, tzinfo=UTC))
    return message.get_body(("html",)).get_content()


def screenshot(html_path: Path, png_path: Path, width: int = 900, height: int = 1100) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={png_path}",
            f"--window-size={width},{height}",
            html_path.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main(png: str) -> None:
    png_path = Path(png)
    with tempfile.TemporaryDirectory() as folder:
        html_path = Path(folder) / "message.html"
        html_path.write_text(html_of_golden_report(Path(folder)), encoding="utf-8")
        screenshot(html_path, png_path)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/email-report.png")
