"""Store addresses: one namespace, ids of any platform (Teams ids contain ":"), and Slack ids unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.addresses import (
    ConversationKey,
    clinic_key,
    clinic_prefix,
    conversation_prefix,
    parse_clinic_key,
    placement,
    prefix_placement,
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


def test_a_clinic_and_the_conversations_in_its_channel_share_a_placement() -> None:
    clinic = placement(clinic_key("teams", "19:a@thread.tacv2"))
    assert placement(str(ConversationKey("teams", "T", "19:a@thread.tacv2", "29:1u"))) == clinic
    assert placement(str(ConversationKey("teams", "T2", "19:a@thread.tacv2", "29:2u"))) == clinic
    assert placement(str(ConversationKey("teams", "T", "19:b@thread.tacv2", "29:1u"))) != clinic
    assert placement(str(ConversationKey("slack", "T", "19:a@thread.tacv2", "29:1u"))) != clinic
    assert placement(store_key("event", "Ev1", "done")) == store_key("event", "Ev1", "done")


def test_only_a_channel_prefix_pins_a_placement() -> None:
    channel = conversation_prefix("slack", "T1", "C1")
    assert prefix_placement(channel) == placement(str(ConversationKey("slack", "T1", "C1", "U1")))
    assert prefix_placement(channel[:-1]) is None, "…:C1 without its ':' also matches channel C10"
    assert prefix_placement(conversation_prefix("slack", "T1")) is None
    assert prefix_placement(clinic_prefix("slack")) is None
    assert prefix_placement(clinic_key("slack", "C1") + ":") == placement(clinic_key("slack", "C1"))
    assert prefix_placement("p:") is None


ids = st.text(alphabet="ab:%Tx19@", min_size=1, max_size=6)


@given(
    address=st.one_of(
        st.builds(lambda p, t, c, u: str(ConversationKey(p, t, c, u)), ids, ids, ids, ids),
        st.builds(clinic_key, ids, ids),
        st.builds(lambda k, p: store_key(k, *p), st.sampled_from(["conv", "clinic", "event"]), st.lists(ids)),
        st.text(alphabet="aldense:v1conliC%", max_size=40),
    ),
)
def test_a_pinned_prefix_never_misplaces_an_address_that_starts_with_it(address: str) -> None:
    pinned = [pin for cut in range(len(address) + 1) if (pin := prefix_placement(address[:cut])) is not None]
    assert all(pin == placement(address) for pin in pinned)
