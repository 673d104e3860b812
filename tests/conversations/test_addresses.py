"""Store addresses: one namespace, ids of any platform (Teams ids contain ":"), and Slack ids unchanged."""

from __future__ import annotations

import pytest

from conversations.addresses import (
    ConversationKey,
    clinic_key,
    clinic_prefix,
    conversation_prefix,
    parse_clinic_key,
    store_key,
)


def test_slack_ids_are_written_as_they_are() -> None:
    assert str(ConversationKey("slack", "T1", "C1", "U1")) == "aldense:v1:conv:slack:T1:C1:U1"
    assert clinic_key("slack", "C1") == "aldense:v1:clinic:slack:C1"


@pytest.mark.parametrize(
    "channel",
    ["19:abc123@thread.tacv2", "a:1xYz-_", "19:x;messageid=1700000000000", "odd%3Aalready%25escaped", "%:%"],
)
def test_ids_with_the_separator_round_trip(channel: str) -> None:
    key = ConversationKey("teams", "0f1e2d3c-tenant", channel, "29:1user")
    text = str(key)
    assert text.count(":") == 6
    assert ConversationKey.parse(text) == key
    assert parse_clinic_key(clinic_key("teams", channel)) == ("teams", channel)
    assert text.startswith(conversation_prefix("teams", "0f1e2d3c-tenant", channel))
    assert clinic_key("teams", channel).startswith(clinic_prefix("teams"))


def test_prefixes_do_not_overlap_across_channels() -> None:
    one = conversation_prefix("teams", "T", "19:a@thread.tacv2")
    other = str(ConversationKey("teams", "T", "19:a@thread.tacv2x", "U"))
    assert not other.startswith(one)


def test_empty_parts_and_foreign_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        store_key("conv", "slack", "")
    with pytest.raises(ValueError, match="kind"):
        store_key("a:b", "x")
    with pytest.raises(ValueError, match="not a conversation key"):
        ConversationKey.parse("aldense:v1:clinic:slack:C1")
    with pytest.raises(ValueError, match="not a clinic key"):
        parse_clinic_key("aldense:v1:conv:slack:T:C:U")
