"""A clinic's Dentally connection as a record with a lifecycle, and the pure rule for what a newly verified key does.

The lifecycle: not connected (no record) → connected (by whom, when, the key's Dentally user and practice, region,
fingerprint) → needs a new key (Dentally expired or revoked it) → replaced (by a key of the same practice and user,
or, for another practice or user, only once Aldense staff accept it; until then that key is held as ``pending``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class StoredCredential(BaseModel):
    """A verified Dentally key, encrypted at rest, with what was proven about it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ciphertext: str
    fingerprint: str
    region: str
    scopes: tuple[str, ...]
    verified_at: float
    verified_by: str
    last_keepalive: float | None = None
    keepalive_result: str | None = None
    # When this key was seen pasted into a chat message: it is compromised and must be replaced.
    exposed_at: float | None = None
    # When the bot first found that no configured encryption key opens ``ciphertext`` (None: it opens, or untried).
    undecryptable_at: float | None = None
    # The hand-off of this key to Aldense: None (no hand-off configured), "pending", "delivered" or "failed".
    handoff: str | None = None
    handoff_rounds: int = 0
    handoff_detail: str | None = None

    def __repr__(self) -> str:
        return f"StoredCredential(fingerprint={self.fingerprint!r}, region={self.region!r})"


class Identity(BaseModel):
    """Whose key it is in Dentally: the key's user and practice, as the check read them (each may be unknown)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: str | None = None
    user_name: str | None = None
    practice_id: str | None = None
    practice_name: str | None = None

    def same_as(self, other: Identity) -> bool:
        """Whether both are proven to be the same Dentally user of the same practice (unknown is never the same)."""
        return self.known and other.known and (self.user_id, self.practice_id) == (other.user_id, other.practice_id)

    @property
    def known(self) -> bool:
        """Whether the Dentally user and practice are known (a connection recorded before identities were not)."""
        return self.user_id is not None and self.practice_id is not None

    @property
    def label(self) -> str:
        """``Dr Jane Smith at Maple Leaf Dental`` with what is known; says so when nothing is."""
        practice = self.practice_name or (f"practice {self.practice_id}" if self.practice_id else None)
        user = self.user_name or (f"user {self.user_id}" if self.user_id else None)
        if user and practice:
            return f"{user} at {practice}"
        return user or practice or "an unknown Dentally user and practice"


class Candidate(BaseModel):
    """A key that has just been verified, waiting for ``decide`` to say what it does to the connection."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: StoredCredential
    identity: Identity


class ConnectionState(StrEnum):
    """Where a connection stands (a clinic that is not connected has no connection record)."""

    CONNECTED = "connected"
    NEEDS_NEW_KEY = "needs_new_key"
    """Dentally no longer accepts the key (expired or revoked)."""


class Connection(BaseModel):
    """The clinic's connection to Dentally: the key in use, whose it is, and a replacement held for staff, if any."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    state: ConnectionState = ConnectionState.CONNECTED
    key: StoredCredential
    identity: Identity = Identity()
    connected_at: float
    connected_by: str
    replaced_fingerprint: str | None = None
    """The key this one replaced (the clinic was reminded to revoke it)."""
    pending: Candidate | None = None
    """A verified key of another practice or user, held (encrypted) until Aldense staff accept or reject it."""
    pending_by: str | None = None
    pending_at: float | None = None

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the key in use."""
        return self.key.fingerprint

    def kept_alive(self, at: float, result: str) -> Connection:
        """The connection after a keep-alive call that found ``result`` (``ok``, ``invalid``, ``retrying``)."""
        return self.with_key(self.key.model_copy(update={"last_keepalive": at, "keepalive_result": result}))

    def with_key(self, key: StoredCredential) -> Connection:
        """The same connection with ``key``'s keep-alive news (a key Dentally refused needs a new one)."""
        dead = key.keepalive_result == "invalid" or key.exposed_at is not None  # refused, or pasted in a channel
        state = ConnectionState.NEEDS_NEW_KEY if dead else self.state
        return self.model_copy(update={"key": key, "state": state})


class Decision(StrEnum):
    """What a newly verified key does to the clinic's connection."""

    CONNECT = "connect"
    """No connection yet: this key connects the clinic."""
    REFRESH = "refresh"
    """The key in use, verified again: its proof is refreshed, nothing else changes."""
    REPLACE = "replace"
    """A new key of the same Dentally practice and user: it replaces the old one (which the clinic should revoke)."""
    HOLD = "hold"
    """A key of another practice or user (or one whose identity cannot be compared): held until staff decide."""


def decide(current: Connection | None, candidate: Candidate) -> Decision:
    """What ``candidate`` does to ``current``; pure.

    Args:
        current: The clinic's connection, or None when it is not connected.
        candidate: A key that has just been verified, with its Dentally identity.

    Returns:
        ``CONNECT``, ``REFRESH``, ``REPLACE`` or ``HOLD`` (see ``Decision``). A connection whose identity is
        unknown (recorded before identities were kept) is never replaced silently: that is ``HOLD``.
    """
    if current is None:
        return Decision.CONNECT
    same = candidate.identity.same_as(current.identity)
    # A fingerprint is only the key's last characters: it names the key in use only for the same Dentally user (or,
    # for a connection recorded before identities were kept, one whose user is unknown and learnt now).
    if candidate.key.fingerprint == current.fingerprint and (same or not current.identity.known):
        return Decision.REFRESH
    if same:
        return Decision.REPLACE
    return Decision.HOLD


def connected(current: Connection | None, candidate: Candidate, by: str, at: float) -> tuple[Decision, Connection]:
    """The connection after ``candidate`` was verified by ``by`` at ``at``, with the decision that led there.

    ``HOLD`` keeps the current key in use and holds the candidate as ``pending`` (replacing an earlier one held).
    """
    decision = decide(current, candidate)
    if current is None or decision is Decision.CONNECT:
        return decision, Connection(key=candidate.key, identity=candidate.identity, connected_at=at, connected_by=by)
    if decision is Decision.REFRESH:
        key = candidate.key.model_copy(update={"last_keepalive": current.key.last_keepalive, "keepalive_result": None})
        return decision, current.model_copy(
            update={"key": key, "identity": candidate.identity, "state": ConnectionState.CONNECTED}
        )
    if decision is Decision.REPLACE:
        return decision, _replaced(current, candidate, by, at)
    return decision, current.model_copy(update={"pending": candidate, "pending_by": by, "pending_at": at})


def accept(current: Connection, at: float) -> Connection:
    """The connection once staff accepted the pending key: it replaces the key in use.

    Raises:
        ValueError: Nothing is pending.
    """
    if current.pending is None or current.pending_by is None:
        raise ValueError("no replacement is pending")
    return _replaced(current, current.pending, current.pending_by, at)


def reject(current: Connection) -> Connection:
    """The connection once staff rejected the pending key: unchanged, the pending key forgotten."""
    return current.model_copy(update={"pending": None, "pending_by": None, "pending_at": None})


def _replaced(current: Connection, candidate: Candidate, by: str, at: float) -> Connection:
    identity = candidate.identity
    if identity.same_as(current.identity):
        identity = _named(identity, current.identity)
    return Connection(
        key=candidate.key,
        identity=identity,
        connected_at=at,
        connected_by=by,
        replaced_fingerprint=current.fingerprint,
    )


def _named(fresh: Identity, known: Identity) -> Identity:
    """``fresh`` with the names it could not read (a key without practice:read) taken from ``known``."""
    return fresh.model_copy(
        update={
            "user_name": fresh.user_name or known.user_name,
            "practice_name": fresh.practice_name or known.practice_name,
        }
    )


def from_credential(credential: StoredCredential) -> Connection:
    """A connection read from a record written before connections were kept (its identity is unknown)."""
    state = ConnectionState.NEEDS_NEW_KEY if credential.keepalive_result == "invalid" else ConnectionState.CONNECTED
    return Connection(
        state=state, key=credential, connected_at=credential.verified_at, connected_by=credential.verified_by
    )
