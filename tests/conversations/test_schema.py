"""Rolling deploys: this release reads records a newer one wrote (extra fields, a higher minor) and refuses a newer
major clearly, for conversations, their outbox batches and clinic records, through real stores."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conversations.addresses import ConversationKey, clinic_key
from conversations.clinic import Clinic
from conversations.conversation import Conversation
from conversations.events import Done, PostStep, Start
from conversations.outbox import OutboxBatch
from conversations.schema import IncompatibleRecord, parse_version
from conversations.service import OnboardingService
from conversations.store import Store
from tests.conversations.test_service import GUIDE

KEY = ConversationKey("slack", "T1", "C1", "U1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def newer(data: dict[str, Any], version: object) -> dict[str, Any]:
    """What a newer release of the same major might write: a higher minor and fields this release never heard of."""
    return {**data, "schema_version": version, "mood": "keen", "locale": {"lang": "en-GB"}}


async def a_newer_conversation(store: Store, version: object = "2.7") -> dict[str, Any]:
    """Save, the way a newer replica would, a conversation on step 2 with an unfinished outbox."""
    service = OnboardingService(store, GUIDE, clock=Clock())
    await service.handle(KEY, Start(at=100.0))
    outcome = await service.handle(KEY, Done("first", at=110.0))
    assert outcome.state.outbox, "Done leaves its effects in the outbox until they are settled"
    data = json.loads(outcome.state.to_json())
    data = newer(data, version)
    data["steps"] = {name: {**times, "skipped": False} for name, times in data["steps"].items()}
    data["outbox"] = [
        {**batch, "attempts": 2, "effects": [{**effect, "priority": "high"} for effect in batch["effects"]]}
        for batch in data["outbox"]
    ]
    record = await store.get(str(KEY))
    assert record is not None
    await store.put(str(KEY), json.dumps(data), record.version)
    return data


async def test_a_conversation_from_a_newer_minor_is_read_driven_and_saved_in_this_releases_form(store: Store) -> None:
    written = await a_newer_conversation(store)
    service = OnboardingService(store, GUIDE, clock=Clock())

    conversation = await service.conversation(KEY)

    assert conversation is not None
    assert conversation.step_id == "second"
    assert conversation.steps.keys() == written["steps"].keys()
    batch = conversation.outbox[-1]
    assert PostStep("second") in batch.unpack(), "the batch's effects survive fields this release does not know"
    outcome = await service.handle(KEY, Done("second", at=120.0))
    assert outcome.refused is None
    record = await store.get(str(KEY))
    assert record is not None
    saved = json.loads(record.data)
    assert saved["schema_version"] == 2, "saved under this release's version"
    assert "mood" not in saved
    assert "locale" not in saved
    assert all("skipped" not in times for times in saved["steps"].values())
    assert all("attempts" not in batch for batch in saved["outbox"])
    # An unfinished effect is kept as it was written, so a newer replica that carries it out still sees its fields.
    assert saved["outbox"][0]["effects"] == written["outbox"][0]["effects"]


async def test_a_clinic_record_from_a_newer_minor_is_read(store: Store) -> None:
    service = OnboardingService(store, GUIDE, clock=Clock())
    created, _ = await service.update_clinic("slack", "C9", lambda clinic: clinic.model_copy(update={"name": "Maple"}))
    data = newer(json.loads(created.model_dump_json()), "1.7")
    data["credential"] = {
        "ciphertext": "gAAAA-sealed",
        "fingerprint": "…x9Qa",
        "region": "uk",
        "scopes": ["user:read"],
        "verified_at": 5.0,
        "verified_by": "U1",
        "rotated_at": 6.0,
    }
    await store.put(clinic_key("slack", "C9"), json.dumps(data), 1)

    clinic = await service.clinic("slack", "C9")

    assert clinic is not None
    assert (clinic.name, clinic.schema_version) == ("Maple", 1)
    assert clinic.credential is not None
    assert clinic.credential.fingerprint == "…x9Qa"
    assert await service.clinics("slack") == [clinic]


async def test_a_conversation_from_a_newer_major_is_refused_with_a_clear_error_and_left_as_it_is(
    store: Store,
) -> None:
    written = await a_newer_conversation(store, version="3.0")
    before = await store.get(str(KEY))
    service = OnboardingService(store, GUIDE, clock=Clock())

    with pytest.raises(IncompatibleRecord, match=r"conversation record has schema 3\.0, written by a newer release"):
        await service.conversation(KEY)
    with pytest.raises(IncompatibleRecord):
        await service.handle(KEY, Done("second", at=120.0))

    assert await store.get(str(KEY)) == before
    assert before is not None
    assert json.loads(before.data) == written


async def test_a_clinic_from_a_newer_major_is_refused(store: Store) -> None:
    service = OnboardingService(store, GUIDE, clock=Clock())
    created, _ = await service.update_clinic("slack", "C9", lambda clinic: clinic)
    await store.put(clinic_key("slack", "C9"), json.dumps(newer(json.loads(created.model_dump_json()), 3)), 1)

    with pytest.raises(IncompatibleRecord, match=r"clinic record has schema 3\.0"):
        await service.clinic("slack", "C9")
    with pytest.raises(IncompatibleRecord):
        await service.clinics("slack")


@pytest.mark.parametrize(("version", "parsed"), [(1, (1, 0)), ("1", (1, 0)), ("1.0", (1, 0)), ("1.12", (1, 12))])
def test_version_forms(version: object, parsed: tuple[int, int]) -> None:
    assert parse_version(version) == parsed


@pytest.mark.parametrize("version", [0, -1, True, "0.3", "1.x", "v1", "", None, 1.5, "1.2.3"])
def test_malformed_versions_are_refused(version: object) -> None:
    with pytest.raises(IncompatibleRecord, match=r"is not MAJOR or 'MAJOR\.MINOR'"):
        Clinic.model_validate_json(
            json.dumps(
                {"schema_version": version, "platform": "slack", "channel": "C1", "created_at": 1, "updated_at": 1}
            )
        )


def test_an_outbox_effect_missing_a_field_it_needs_is_refused() -> None:
    batch = OutboxBatch(id="b1", at=1.0, effects=({"type": "PostStep", "again": False},))
    with pytest.raises(ValueError, match="PostStep lacks a field"):
        batch.unpack()


def test_conversations_say_schema_2_and_clinics_still_schema_1() -> None:
    """A conversation names its step by id (major 2: older releases refuse it instead of misreading it); a clinic
    record is unchanged, so replicas of the previous release still read it."""
    conversation = Conversation(
        platform="slack",
        team="T1",
        channel="C1",
        user="U1",
        guide_id="g",
        guide_version=1,
        step_id="first",
        started_at=1,
        updated_at=1,
    )
    assert json.loads(conversation.to_json())["schema_version"] == 2
    clinic = Clinic(platform="slack", channel="C1", created_at=1, updated_at=1)
    assert json.loads(clinic.model_dump_json())["schema_version"] == 1
