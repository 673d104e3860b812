"""In a real browser: `aldense-guide playground` walks a clinic admin through the guide to a checked key, then staff.

At desktop size and on a phone (390×844): nothing may be wider than the window, the phone shows one pane at a time
with a switch, and the sample-keys menu works while the key form is open.

Playwright drives Debian's Chromium (``apt-get install chromium``); it never downloads a browser. Without one the
tests skip, saying why — except under ``CI=true``, where a missing browser fails. Screenshots of a step message, the
key modal and the result go to ``test-artifacts/playground/`` (git-ignored).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from bot.fakes.slack import Workspace
from conversations.guide import load_guide
from dentally.sandbox import sample_keys
from dentally.scopes import REQUIRED_SCOPES, SCOPE_LABELS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "playground"
GUIDE = load_guide()
TOTAL = GUIDE.step_count
STAFF = "U0STAFF"
# The bot paces its posts to the support channel (about one a second), so a fast walk queues a few seconds of them.
SLOW = 30_000


def _require_browser() -> None:
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install playwright; never `playwright install`)")
    if problems:
        reason = "browser test: " + "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class RunningPlayground:
    """The ``aldense-guide playground`` process and what it printed."""

    process: subprocess.Popen[str]
    url: str = ""
    dentally_url: str = ""
    slack_api_url: str = ""
    output: list[str] = field(default_factory=list)


def _start(state: Path) -> RunningPlayground:
    command = [sys.executable, "-m", "bot.cli", "playground", "--port", "0", "--state", str(state)]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningPlayground(process)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            raise AssertionError("the playground did not start:\n" + "".join(running.output)) from None
        if found := re.search(r"playground: (http://127\.0\.0\.1:\d+)", line):
            running.url = found.group(1)
        if found := re.search(r"Dentally\s+(http://127\.0\.0\.1:\d+)/", line):
            running.dentally_url = found.group(1)
        if found := re.search(r"Slack sandbox\s+(http://127\.0\.0\.1:\d+/api/)", line):
            running.slack_api_url = found.group(1)
        if "Ctrl+C stops" in line:
            return running


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[RunningPlayground]:
    _require_browser()
    running = _start(tmp_path / "state.sqlite3")
    assert running.url, "".join(running.output)
    assert running.dentally_url, "".join(running.output)
    yield running
    running.process.send_signal(signal.SIGINT)
    try:
        running.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        running.process.kill()
        raise
    assert not any("Traceback" in line for line in running.output), "".join(running.output)


DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Browser, playground: RunningPlayground) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(playground.url)
    yield opened
    context.close()
    assert errors == []


@pytest.fixture
def phone(browser: Browser, playground: RunningPlayground) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=playground.url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(playground.url)
    yield opened
    context.close()
    assert errors == []


# Every drawn element (not ones hidden with display: none) must fit across the window, and so must the page.
_TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.width > width + 0.5 || box.left < -0.5 || box.right > width + 0.5) {
      const classes = element.className ? "." + String(element.className).replace(/ +/g, ".") : "";
      const span = `${Math.round(box.left)}..${Math.round(box.right)}`;
      wide.push(`${element.tagName.toLowerCase()}${classes} ${span} "${(element.textContent || "").slice(0, 40)}"`);
    }
  }
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, wide: wide.slice(0, 12) };
}"""


def assert_nothing_overflows(page: Page, where: str) -> None:
    measured = page.evaluate(_TOO_WIDE)
    assert measured["scrollWidth"] <= measured["innerWidth"], f"{where}: the page scrolls sideways: {measured}"
    assert measured["wide"] == [], f"{where}: wider than the window: {measured['wide']}"


def shoot(target: Page | Locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(ARTIFACTS / name))


def thread_messages(pane: Locator) -> Locator:
    return pane.locator(".thread__replies > .msg")


def walk_to_the_key_step(page: Page, screenshot: bool = False) -> Locator:
    """As the clinic admin: start the guide, check and finish every step, and return the clinic pane."""
    from playwright.sync_api import expect

    expect(page.get_by_label("Acting as")).to_have_value("U0ADMIN")
    clinic = page.locator("#pane-left")
    expect(clinic.get_by_role("heading", name="maple-leaf-dental")).to_be_visible()
    expect(clinic).to_contain_text("Slack Connect")
    clinic.get_by_role("button", name="Start Dentally setup").click()
    for index, step in enumerate(GUIDE.steps):
        message = thread_messages(clinic).filter(has_text=f"Step {index + 1} of {TOTAL}")
        expect(message).to_have_count(1)
        expect(message).to_contain_text(step.title)
        picture = message.get_by_role("img", name=step.alt, exact=True)
        expect(picture).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        if screenshot and index == 0:
            shoot(message, "step-message.png")
        if index == TOTAL - 1:
            return clinic
        message.get_by_role("button", name="Done, next step").click()
        closed = thread_messages(clinic).filter(has_text=f"{index + 1}/{TOTAL} {step.title}")
        expect(closed).to_have_count(1)
        expect(closed.get_by_role("button")).to_have_count(0)
        expect(closed).to_contain_text("(edited)")
    raise AssertionError("unreachable")


def open_key_modal(page: Page, clinic: Locator) -> Locator:
    from playwright.sync_api import expect

    clinic.get_by_role("button", name="Enter the key privately").click()
    dialog = page.get_by_role("dialog", name="Dentally key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Dentally API key")).to_be_editable()
    return dialog


def check_key(page: Page, dialog: Locator, key: str) -> None:
    from playwright.sync_api import expect

    dialog.get_by_label("Where is your practice?").select_option("uk")
    dialog.get_by_label("Dentally API key").fill(key)
    dialog.get_by_role("button", name="Check key").click()
    expect(dialog).to_contain_text("Checking with Dentally", timeout=SLOW)
    expect(dialog).not_to_contain_text("Checking with Dentally", timeout=SLOW)
    assert key not in page.content()  # the typed key is nowhere on the page once the form is gone


def test_a_clinic_admin_connects_dentally_and_staff_see_it(page: Page, playground: RunningPlayground) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#pane-switch")).to_be_hidden()  # side by side: no switch needed
    expect(page.locator("#pane-right")).to_be_visible()
    clinic = walk_to_the_key_step(page, screenshot=True)
    assert_nothing_overflows(page, "the guide's thread at desktop size")
    dialog = open_key_modal(page, clinic)
    assert_nothing_overflows(page, "the key form at desktop size")
    shoot(page, "key-modal.png")

    junk = "this is not a key, just words"
    dialog.get_by_label("Dentally API key").fill(junk)
    dialog.get_by_role("button", name="Check key").click()
    error = dialog.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(dialog.get_by_label("Dentally API key")).to_have_value(junk)  # what was typed stays in the field
    expect(page.locator("#pane-left")).not_to_contain_text(junk)

    # A slow Dentally keeps "Checking with Dentally…" on screen long enough to see it.
    httpx.post(f"{playground.dentally_url}/_sandbox/switches", json={"latency_ms": 1500}, timeout=5)
    check_key(page, dialog, sample_keys()["all_scopes"].key)
    for scope in REQUIRED_SCOPES:
        expect(dialog).to_contain_text(f"✅ {SCOPE_LABELS[scope]}")
    shoot(page, "key-result.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    result = thread_messages(clinic).last
    expect(result).to_contain_text(f"✅ {SCOPE_LABELS[REQUIRED_SCOPES[-1]]}", timeout=SLOW)

    page.get_by_label("Acting as").select_option(STAFF)
    onboarding = page.locator("#pane-right")
    expect(onboarding.get_by_role("heading", name="aldense-onboarding")).to_be_visible()
    card = onboarding.locator(".messages > .msg:not(.msg--ephemeral)").filter(has_text="maple-leaf-dental").first
    expect(card).to_contain_text(re.compile("verified", re.IGNORECASE), timeout=SLOW)
    assert sample_keys()["all_scopes"].key not in page.content()

    only_you = onboarding.locator('.msg[data-ephemeral="true"]')
    composer = onboarding.get_by_role("textbox", name="Message")
    for command, expected in (("/aldense status", "1 verified"), ("/aldense status #maple-leaf-dental", "verified")):
        before = only_you.count()
        composer.fill(command)
        composer.press("Enter")
        expect(only_you).to_have_count(before + 1, timeout=SLOW)
        reply = only_you.last
        expect(reply).to_contain_text("Only visible to you")
        expect(reply).to_contain_text(re.compile(expected, re.IGNORECASE))
        expect(reply).not_to_contain_text("I don't know")
    expect(only_you.last).to_contain_text("maple-leaf-dental")
    assert_nothing_overflows(page, "staff's view at desktop size")
    shoot(page, "staff-status.png")


def test_a_key_without_appointment_delete_gets_the_fix_instructions(page: Page, playground: RunningPlayground) -> None:
    from playwright.sync_api import expect

    # A slow Dentally keeps "Checking with Dentally…" on screen long enough to see it.
    httpx.post(f"{playground.dentally_url}/_sandbox/switches", json={"latency_ms": 1500}, timeout=5)
    clinic = walk_to_the_key_step(page)
    dialog = open_key_modal(page, clinic)
    check_key(page, dialog, sample_keys()["missing_appointment_delete"].key)
    expect(dialog).to_contain_text(f"❌ {SCOPE_LABELS['appointment:delete']}")
    for scope in REQUIRED_SCOPES[:-1]:
        expect(dialog).to_contain_text(f"✅ {SCOPE_LABELS[scope]}")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    advice = thread_messages(clinic).last
    expect(advice).to_contain_text(f"❌ {SCOPE_LABELS['appointment:delete']}", timeout=SLOW)
    expect(advice).to_contain_text(re.compile("generate new token", re.IGNORECASE))
    expect(advice).to_contain_text(re.compile("revoke the old", re.IGNORECASE))
    expect(advice.get_by_role("button", name="Try another key")).to_be_visible()
    shoot(page, "key-fix-instructions.png")


def _plain(text: str) -> dict[str, object]:
    return {"type": "plain_text", "text": text}


SAMPLER = [
    {"type": "header", "text": _plain("Block Kit sampler :tada:")},
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*bold* _italic_ ~struck~ `a code` <https://example.com/docs|a link> <@U0ADMIN> <#C0CLINIC>\n"
            "• first point\n• second point\n```pre *not bold*```",
        },
        "accessory": {
            "type": "overflow",
            "action_id": "sampler_more",
            "options": [{"text": _plain("Edit"), "value": "edit"}, {"text": _plain("Copy"), "value": "copy"}],
        },
    },
    {"type": "divider"},
    {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Clinic*"}, {"type": "mrkdwn", "text": ":x: left"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": _plain("Delete"),
                "style": "danger",
                "action_id": "sampler_delete",
                "confirm": {
                    "title": _plain("Delete it?"),
                    "text": {"type": "mrkdwn", "text": "This *cannot* be undone."},
                    "confirm": _plain("Delete"),
                    "deny": _plain("Keep"),
                },
            },
            {
                "type": "static_select",
                "action_id": "sampler_pick",
                "placeholder": _plain("Pick one"),
                "options": [{"text": _plain("First"), "value": "first"}, {"text": _plain("Second"), "value": "second"}],
            },
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "&lt;img src=x onerror=alert(1)&gt; stays text"}]},
]


def web_api(playground: RunningPlayground, method: str, **params: object) -> dict[str, object]:
    """Call the Slack sandbox as the bot would (its made-up token), to show the page something of our choosing."""
    token = Workspace().bot_token
    answer = httpx.post(
        f"{playground.slack_api_url}{method}", json=params, headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).json()
    assert answer["ok"], answer
    return dict(answer)


def test_any_block_kit_is_drawn_and_every_element_reports_back(page: Page, playground: RunningPlayground) -> None:
    from playwright.sync_api import expect

    posted = web_api(playground, "chat.postMessage", channel="C0CLINIC", text="sampler", blocks=SAMPLER)
    clinic = page.locator("#pane-left")
    message = clinic.locator(f'.msg[data-ts="{posted["ts"]}"]')
    expect(message.get_by_role("heading", name="Block Kit sampler 🎉")).to_be_visible()
    expect(message.locator("b", has_text="bold")).to_have_count(1)
    expect(message.locator("i", has_text="italic")).to_have_count(1)
    expect(message.locator("s", has_text="struck")).to_have_count(1)
    expect(message.locator("code", has_text="a code")).to_have_count(1)
    expect(message.get_by_role("link", name="a link")).to_have_attribute("href", "https://example.com/docs")
    expect(message.locator(".mention", has_text="@Jane")).to_have_count(1)
    expect(message.locator(".channel-link", has_text="#maple-leaf-dental")).to_have_count(1)
    expect(message.locator("li")).to_have_text(["first point", "second point"])
    expect(message.locator("pre")).to_have_text("pre *not bold*")
    expect(message.locator("hr")).to_have_count(1)
    expect(message).to_contain_text("❌ left")
    expect(message).to_contain_text("<img src=x onerror=alert(1)> stays text")
    expect(message.locator('img[src="x"]')).to_have_count(0)
    expect(message.get_by_role("button", name="Delete")).to_have_class(re.compile("btn--danger"))

    summary = page.locator("#requests-summary")
    message.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("alertdialog", name="Delete it?")
    expect(confirm).to_contain_text("This cannot be undone.")
    confirm.get_by_role("button", name="Delete").click()
    expect(summary).to_contain_text("block_actions sampler_delete · as Jane Doe (team T0CLINIC) → 200")
    message.get_by_role("combobox").select_option("second")
    expect(summary).to_contain_text("block_actions sampler_pick")
    message.get_by_role("button", name="More actions").click()
    message.get_by_role("menuitem", name="Copy").click()
    expect(summary).to_contain_text("block_actions sampler_more")

    web_api(playground, "chat.update", channel="C0CLINIC", ts=posted["ts"], text="edited", blocks=SAMPLER[:1])
    expect(message).to_contain_text("(edited)")
    expect(message.locator("hr")).to_have_count(0)
    web_api(playground, "chat.postEphemeral", channel="C0CLINIC", user="U0ADMIN", text="Just for *you*")
    only_you = clinic.locator('.msg[data-ephemeral="true"]').filter(has_text="Just for you")
    expect(only_you).to_contain_text("Only visible to you")
    page.get_by_label("Acting as").select_option("U0NURSE")
    expect(clinic.locator(".msg").filter(has_text="Block Kit sampler")).to_have_count(1)
    expect(clinic.locator('.msg[data-ephemeral="true"]')).to_have_count(0)


def test_on_a_phone_one_pane_at_a_time_and_the_key_form_works_with_the_sample_keys(
    phone: Page, playground: RunningPlayground
) -> None:
    from playwright.sync_api import expect

    page = phone
    clinic, aldense = page.locator("#pane-left"), page.locator("#pane-right")
    switch = page.get_by_role("tablist", name="Whose side to show")
    expect(switch).to_be_visible()
    expect(clinic).to_be_visible()
    expect(aldense).to_be_hidden()
    assert_nothing_overflows(page, "the kick-off")

    walk_to_the_key_step(page)
    assert_nothing_overflows(page, "the guide's thread")
    step = thread_messages(clinic).filter(has_text=f"Step {TOTAL} of {TOTAL}")
    picture = step.get_by_role("img", name=GUIDE.steps[-1].alt, exact=True)
    assert picture.bounding_box()["width"] >= PHONE["width"] * 0.75, "a picture as wide as the phone, no thumbnail"
    shoot(page, "phone-key-step.png")
    text = step.locator(".section__text").first
    assert text.bounding_box()["width"] >= PHONE["width"] * 0.6, "text in lines, not a letter per line"
    for button in step.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]

    dialog = open_key_modal(page, clinic)
    assert_nothing_overflows(page, "the key form")
    box = dialog.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    check = dialog.get_by_role("button", name="Check key")
    check.scroll_into_view_if_needed()
    expect(check).to_be_in_viewport()

    # The README's way: open the sample keys while the form is open, copy one, paste it in.
    key = sample_keys()["all_scopes"].key
    page.get_by_role("button", name="Sample Dentally keys").click()
    keys = page.locator("#keys-panel")
    expect(keys).to_be_visible()
    assert_nothing_overflows(page, "the sample keys over the key form")
    shoot(page, "phone-sample-keys-over-the-key-form.png")
    row = keys.locator("li").filter(has=page.locator("code", has_text=re.compile("^all_scopes$")))
    row.get_by_role("button", name="Copy key").click()
    expect(row.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    # Or one tap: the menu puts the key in the open form.
    row.get_by_role("button", name="Put all_scopes in the key form").click()
    expect(keys).to_be_hidden()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Dentally API key")).to_have_value(key)
    dialog.get_by_label("Where is your practice?").select_option("uk")
    dialog.get_by_role("button", name="Check key").click()
    expect(dialog).to_contain_text(f"✅ {SCOPE_LABELS[REQUIRED_SCOPES[-1]]}", timeout=SLOW)
    assert_nothing_overflows(page, "the key's result")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Staff, on the same phone: Aldense's side, its card's times as Slack shows them, and the clinic's thread in place.
    page.get_by_label("Acting as").select_option(STAFF)
    switch.get_by_role("tab", name=re.compile("Aldense")).click()
    expect(aldense).to_be_visible()
    expect(clinic).to_be_hidden()
    card = aldense.locator(".messages > .msg:not(.msg--ephemeral)").filter(has_text="maple-leaf-dental").first
    expect(card).to_contain_text(re.compile("verified", re.IGNORECASE), timeout=SLOW)
    expect(card.locator("time.date-token").first).to_have_text(re.compile(r"^(just now|\d+ minutes? ago)$"))
    assert_nothing_overflows(page, "the support channel")
    card.get_by_role("button", name="Open clinic thread").click()
    expect(clinic).to_be_visible()
    expect(aldense).to_be_hidden()
    opener = clinic.locator(".msg.is-highlighted")
    expect(opener).to_contain_text("connected Dentally")
    expect(opener).to_be_in_viewport()
    expect(opener.locator(".thread__replies")).to_be_visible()
    assert_nothing_overflows(page, "the clinic thread opened from the card")
    shoot(page, "phone-clinic-thread.png")


def test_date_tokens_read_like_slack(page: Page, playground: RunningPlayground) -> None:
    from playwright.sync_api import expect

    now = int(time.time())
    posted = web_api(
        playground,
        "chat.postMessage",
        channel="C0CLINIC",
        text=f"Checked <!date^{now - 180}^{{ago}}|6 Mar 2026 09:00 UTC> · next <!date^{now + 7200}^{{ago}}|later>",
    )
    message = page.locator(f'#pane-left .msg[data-ts="{posted["ts"]}"]')
    expect(message).to_contain_text("Checked 3 minutes ago · next in 2 hours")
    expect(message).not_to_contain_text("UTC")
