"""The clinic's connection: what a verified key does to it, staff's decision, and records from before connections."""

from __future__ import annotations

import json

import pytest

from conversations.clinic import Clinic
from conversations.connection import (
    Candidate,
    Connection,
    ConnectionState,
    Decision,
    Identity,
    StoredCredential,
    accept,
    connected,
    decide,
    from_credential,
    reject,
)

JANE_AT_MAPLE = Identity(user_id="1", user_name="Jane", practice_id="maple", practice_name="Maple Leaf Dental")
PRIYA_AT_HARBOUR = Identity(user_id="7", user_name="Priya", practice_id="harbour", practice_name="Harbourside")
ANOTHER_AT_MAPLE = Identity(user_id="2", user_name="Sam", practice_id="maple", practice_name="Maple Leaf Dental")


def key(fingerprint: str, at: float = 100.0, by: str = "U1") -> StoredCredential:
    return StoredCredential(
        ciphertext=f"sealed-{fingerprint}",
        fingerprint=fingerprint,
        region="uk",
        scopes=(),
        verified_at=at,
        verified_by=by,
    )


def candidate(fingerprint: str, identity: Identity) -> Candidate:
    return Candidate(key=key(fingerprint), identity=identity)


CURRENT = Connection(key=key("aaaa"), identity=JANE_AT_MAPLE, connected_at=100.0, connected_by="U1")


def test_a_first_key_connects_the_clinic() -> None:
    decision, after = connected(None, candidate("aaaa", JANE_AT_MAPLE), "U1", 100.0)
    assert decision is Decision.CONNECT
    assert (after.state, after.fingerprint, after.connected_by, after.identity) == (
        ConnectionState.CONNECTED,
        "aaaa",
        "U1",
        JANE_AT_MAPLE,
    )


def test_a_new_key_of_the_same_user_and_practice_replaces_the_old_one() -> None:
    decision, after = connected(CURRENT, candidate("bbbb", JANE_AT_MAPLE), "U2", 200.0)
    assert decision is Decision.REPLACE
    assert (after.fingerprint, after.replaced_fingerprint, after.connected_by, after.connected_at) == (
        "bbbb",
        "aaaa",
        "U2",
        200.0,
    )


@pytest.mark.parametrize("other", [PRIYA_AT_HARBOUR, ANOTHER_AT_MAPLE, Identity()], ids=["practice", "user", "unknown"])
def test_a_key_of_another_practice_or_user_is_held_and_changes_nothing_else(other: Identity) -> None:
    decision, after = connected(CURRENT, candidate("cccc", other), "U2", 200.0)
    assert decision is Decision.HOLD
    assert after.model_copy(update={"pending": None, "pending_by": None, "pending_at": None}) == CURRENT
    assert after.pending == candidate("cccc", other)
    assert (after.pending_by, after.pending_at) == ("U2", 200.0)


def test_a_connection_of_unknown_identity_is_never_replaced_silently() -> None:
    legacy = from_credential(key("aaaa"))
    assert decide(legacy, candidate("bbbb", JANE_AT_MAPLE)) is Decision.HOLD


def test_the_key_in_use_verified_again_refreshes_it_and_clears_a_dead_state() -> None:
    dead = CURRENT.kept_alive(150.0, "invalid")
    assert dead.state is ConnectionState.NEEDS_NEW_KEY
    decision, after = connected(dead, candidate("aaaa", JANE_AT_MAPLE), "U1", 300.0)
    assert decision is Decision.REFRESH
    assert after.state is ConnectionState.CONNECTED
    assert after.key.keepalive_result is None


def test_a_key_of_another_user_ending_like_the_key_in_use_is_still_held() -> None:
    # Fingerprints are the last four characters: two keys may share one.
    assert decide(CURRENT, candidate("aaaa", PRIYA_AT_HARBOUR)) is Decision.HOLD
    legacy = from_credential(key("aaaa"))
    decision, learnt = connected(legacy, candidate("aaaa", JANE_AT_MAPLE), "U1", 300.0)
    assert decision is Decision.REFRESH
    assert learnt.identity == JANE_AT_MAPLE


def test_staff_accepting_a_held_key_replaces_the_connection_and_rejecting_forgets_it() -> None:
    _, held = connected(CURRENT, candidate("cccc", PRIYA_AT_HARBOUR), "U2", 200.0)
    accepted = accept(held, 300.0)
    assert (accepted.fingerprint, accepted.identity, accepted.connected_by, accepted.replaced_fingerprint) == (
        "cccc",
        PRIYA_AT_HARBOUR,
        "U2",
        "aaaa",
    )
    assert accepted.pending is None
    assert reject(held) == CURRENT
    with pytest.raises(ValueError, match="no replacement is pending"):
        accept(CURRENT, 300.0)


def record(**fields: object) -> dict[str, object]:
    return {"schema_version": 1, "platform": "slack", "channel": "C1", "created_at": 1.0, "updated_at": 1.0, **fields}


def test_a_record_written_before_connections_is_read_as_a_connection_of_unknown_identity() -> None:
    old_key = key("aaaa").model_dump()
    clinic = Clinic.model_validate(record(credential=old_key))
    assert clinic.connection == from_credential(key("aaaa"))
    assert clinic.connection is not None
    assert clinic.connection.identity == Identity()
    dead = Clinic.model_validate(record(credential={**old_key, "keepalive_result": "invalid"}))
    assert dead.connection is not None
    assert dead.connection.state is ConnectionState.NEEDS_NEW_KEY


def test_the_connection_is_mirrored_in_credential_so_an_older_replica_keeps_reading_the_key() -> None:
    clinic = Clinic.model_validate(record()).with_connection(CURRENT)
    written = json.loads(clinic.model_dump_json())
    assert written["credential"]["fingerprint"] == "aaaa"
    assert Clinic.model_validate(written) == clinic
    # An older replica rewrites the record with only the fields it knows, keeping the key alive meanwhile.
    older = {k: v for k, v in written.items() if k not in ("connection", "regions", "live_results")}
    older["credential"] = {**older["credential"], "last_keepalive": 500.0, "keepalive_result": "ok"}
    back = Clinic.model_validate(older)
    assert back.connection is not None
    assert back.connection.key.last_keepalive == 500.0
    # Its identity is lost with the field, so a new key of another fingerprint is held, never swapped in silently.
    assert decide(back.connection, candidate("bbbb", JANE_AT_MAPLE)) is Decision.HOLD


def test_a_credential_changed_beside_its_connection_keeps_the_identity() -> None:
    clinic = Clinic.model_validate(record()).with_connection(CURRENT)
    written = json.loads(clinic.model_dump_json())
    written["credential"] = {**written["credential"], "last_keepalive": 500.0, "keepalive_result": "invalid"}
    back = Clinic.model_validate(written)
    assert back.connection is not None
    assert back.connection.identity == JANE_AT_MAPLE
    assert back.connection.state is ConnectionState.NEEDS_NEW_KEY
