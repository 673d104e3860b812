"""manifest.yml validates against Slack's official manifest schema and matches what the bot listens for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "reference" / "slack-manifest.schema.1.0.0.json"

# Scopes the bot needs, and why: the schema accepts any string, so names are checked here.
EXPECTED_SCOPES = {
    "app_mentions:read": "app_mention events (start / resume / help)",
    "channels:read": "member_joined_channel and conversations.info in public channels",
    "groups:read": "the same in private channels (a shared channel can be private on one side)",
    "chat:write": "posting steps, threads and support milestones",
    "commands": "/aldense",
    "users:read": "users.info to tell clinic members from Aldense staff",
    "channels:history": "message.channels (a pasted key, a question in a guide thread) and, after a crash, finding "
    "a step message already posted instead of posting it twice",
    "groups:history": "the same in private channels (message.groups)",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_validates_against_slacks_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA} (only shipped beside the repo in CI)")
    from jsonschema import Draft7Validator

    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(manifest), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def test_the_schema_check_can_fail(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}")
    from jsonschema import Draft7Validator

    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "aldense"
    assert list(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_scopes_are_exactly_the_ones_the_bot_uses(manifest: dict[str, Any]) -> None:
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(EXPECTED_SCOPES)


def test_commands_and_events_match_the_listeners(manifest: dict[str, Any]) -> None:
    listeners = (ROOT / "bot" / "slack" / "listeners.py").read_text()
    for command in manifest["features"]["slash_commands"]:
        assert f'app.command("{command["command"]}")' in listeners
        assert command["url"].endswith("/slack/events")
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        # ``message.channels`` and ``message.groups`` both arrive as the ``message`` event.
        name = event.split(".", 1)[0]
        assert re.search(rf'app\.event\("{name}"\)', listeners), event


def test_the_bot_listens_to_messages_where_it_runs_guides(manifest: dict[str, Any]) -> None:
    """Public and private shared channels: each message event needs its history scope."""
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"message.channels", "message.groups"} <= events
    assert {"channels:history", "groups:history"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
