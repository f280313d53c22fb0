"""Screenshots of the Prefect UI's custom-run form of a deployment, to see what a person sees.

Not part of the test suite (CI has no browser). Needs the `playwright` Python package, not a
project dependency (`python3 -m venv /tmp/shots && /tmp/shots/bin/pip install playwright pillow`),
and a system Chromium (Debian: `apt-get install chromium`): playwright drives it and never
downloads a browser of its own. With a Prefect server holding the deployments (README's work-pool
steps), from the checkout:

    /tmp/shots/bin/python docs/form_screenshots.py --api http://127.0.0.1:4200/api

writes docs/prefect-form-report-manual.png (the top of the form),
docs/prefect-form-report-manual-full.png (all of it) and docs/prefect-form-report-deliveries.png
(the More deliveries section, with a webhook added as a person adds one); with Pillow, as
256-colour PNGs. The ingest
flow's form: `--deployment ziwo-ingest/ingest-manual --out /tmp/top.png --full
docs/prefect-form-ingest-manual.png`.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path

BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def deployment_id(api: str, name: str) -> str:
    flow, deployment = name.split("/", 1)
    with urllib.request.urlopen(f"{api}/deployments/name/{flow}/{deployment}", timeout=30) as response:
        return json.load(response)["id"]


def shrink(path: Path) -> None:
    """256 colours are plenty for a form; a third of the size."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:4200/api", help="the Prefect server's API URL")
    parser.add_argument("--deployment", default="ziwo-report/report-manual", help="flow/deployment")
    parser.add_argument("--out", type=Path, default=Path("docs/prefect-form-report-manual.png"), help="the top")
    parser.add_argument("--full", type=Path, default=Path("docs/prefect-form-report-manual-full.png"))
    parser.add_argument("--top-height", type=int, default=1560, help="pixels of the top shot")
    parser.add_argument(
        "--deliveries",
        type=Path,
        default=Path("docs/prefect-form-report-deliveries.png"),
        help="the deliveries section with a webhook added (report flow only; '' for none)",
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser to drive")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    ui = args.api.rstrip("/").removesuffix("/api")
    url = f"{ui}/deployments/deployment/{deployment_id(args.api, args.deployment)}/run"
    with sync_playwright() as playwright:
        # a fresh temporary profile each time
        browser = playwright.chromium.launch(executable_path=args.chromium, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 1000})
        page.goto(url, wait_until="networkidle")
        page.get_by_text("Parameters", exact=True).wait_for()
        page.wait_for_timeout(1500)
        # The form scrolls inside the page, so a full-page shot would cut it: grow the window to fit instead.
        height = page.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
        page.set_viewport_size({"width": args.width, "height": min(height + 100, 16000)})
        page.wait_for_timeout(1000)
        page.screenshot(path=str(args.full), full_page=True)
        page.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": args.width, "height": args.top_height})
        shots = [args.out, args.full]
        if str(args.deliveries) not in ("", ".") and page.get_by_text("Webhooks (Optional)").count():
            # what a person does to add a webhook: Add item under Webhooks, then the form of one
            webhooks = page.get_by_text("Webhooks (Optional)")
            webhooks.locator("xpath=following::button[contains(., 'Add item')][1]").click()
            page.wait_for_timeout(1000)
            height = page.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
            page.set_viewport_size({"width": args.width, "height": min(height + 100, 16000)})
            page.wait_for_timeout(1000)
            top = page.get_by_text("More deliveries (Optional)").bounding_box()
            bottom = page.get_by_text("Ingest first (Optional)").bounding_box()
            if top and bottom:
                clip = {"x": 0, "y": top["y"] - 16, "width": args.width, "height": bottom["y"] - top["y"]}
                page.screenshot(path=str(args.deliveries), clip=clip)
                shots.append(args.deliveries)
        browser.close()
    for path in shots:
        shrink(path)
        print(f"{url} -> {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
