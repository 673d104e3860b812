"""Regenerate the README's picture of the playground: walk a few steps as the clinic admin, then shoot staff's view.

Run ``.venv/bin/python scripts/playground_screenshot.py`` (writes ``docs/playground.png``). It needs Debian's
Chromium at /usr/bin/chromium and the ``playwright`` package (never ``playwright install``); emoji need
``fonts-noto-color-emoji``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bot.playground import Playground, open_playground
from conversations.guide import load_guide

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "playground.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
STEPS_DONE = 3


@contextlib.contextmanager
def background_playground() -> Iterator[Playground]:
    """Run the playground's event loop in a thread, so Playwright's sync API can drive the page from this one."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with open_playground(port=0) as playground:
            box.update(playground=playground, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("the playground did not start")
    try:
        playground = box["playground"]
        assert isinstance(playground, Playground)
        yield playground
    finally:
        loop, stop = box["loop"], box["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)


def main() -> None:
    """Take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT})")
    out = parser.parse_args().out
    total = load_guide().step_count
    with background_playground() as playground, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(playground.url)
        clinic = page.locator("#pane-left")
        clinic.get_by_role("button", name="Start Dentally setup").click()
        for index in range(STEPS_DONE):
            expect(clinic.get_by_text(f"Step {index + 1} of {total}")).to_be_visible()
            clinic.get_by_role("button", name="Done, next step").click()
        current = clinic.locator(".thread__replies > .msg").filter(has_text=f"Step {STEPS_DONE + 1} of {total}")
        expect(current.get_by_role("img")).to_be_visible()
        page.get_by_label("Acting as").select_option("U0STAFF")
        onboarding = page.locator("#pane-right")
        card = onboarding.locator(".messages > .msg:not(.msg--ephemeral)").first
        expect(card).to_contain_text(f"{STEPS_DONE + 1}/{total}")
        card.locator(".thread__toggle").click()  # fold the milestones so the live status card shows whole
        expect(card.locator(".thread__replies")).to_have_count(0)
        page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        page.mouse.move(0, 0)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    main()
