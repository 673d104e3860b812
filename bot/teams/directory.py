"""What Teams told us about conversations and people, kept in the state store for messages sent later.

A reminder, a reset notice or a support report happens without an incoming activity, so the bot keeps each
conversation's connector URL and kind, and each person's name, account id and time zone, as it sees them.

Activities tell different amounts: Microsoft's recorded channel messages carry only the channel's id, while an
install or member event may also name the channel, its team and its type. So each record is a merge of everything
told so far, newest first, and a fact is never erased by an activity that simply does not mention it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.teams.activities import Actor, Place
from conversations.addresses import store_key
from conversations.store import Store, StoreUnavailable, VersionConflict

logger = logging.getLogger(__name__)


class PlaceRecord(BaseModel):
    """A Teams conversation as last seen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    channel: str
    kind: str
    service_url: str
    tenant: str | None = None
    channel_type: str | None = None
    channel_name: str | None = None
    team_name: str | None = None
    team_group_id: str | None = None

    def to_place(self) -> Place:
        """As the adapter's ``Place``."""
        return Place(**self.model_dump(exclude={"schema_version"}))


class PersonRecord(BaseModel):
    """A Teams user as last seen (ids, display name, time zone)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    id: str
    account_id: str
    name: str
    tenant: str | None = None
    time_zone: str | None = None


def place_key(channel: str) -> str:
    """Store key of a conversation's record."""
    return store_key("teams-place", channel)


def person_key(user: str) -> str:
    """Store key of a person's record."""
    return store_key("teams-person", user)


def remembered(channel: str | None, users: Sequence[str]) -> list[tuple[str, bool]]:
    """Where Teams facts about ``channel`` (None: no channel) and ``users`` are kept, as ``(address, is_prefix)``.

    The channel's record, each person's record, and the marks that a member of the channel was welcomed (kept by
    ``bot.teams.desk.welcome_key``, one per member under the channel's prefix). ``bot.core.erasure`` erases them.
    """
    found = [(person_key(user), False) for user in users]
    if channel is not None:
        found += [(place_key(channel), False), (store_key("teams-welcome", channel) + ":", True)]
    return found


class TeamsDirectory:
    """Reads and writes place and person records; writes only what changed, reads through a small cache."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._places: dict[str, PlaceRecord] = {}
        self._people: dict[str, PersonRecord] = {}
        # Store keys of records learnt during a store outage: known in memory, saved on a later activity.
        self._unsaved: set[str] = set()

    async def learn(self, place: Place, actor: Actor | None = None, time_zone: str | None = None) -> Place:
        """Remember ``place`` (and ``actor``), merged with what earlier activities told; returns the merged place.

        In a store outage the facts are kept in memory (so the answer to this very activity still reaches the
        person) and saved on a later activity.
        """
        merged = place
        try:
            merged = await self._learn_place(place)
            if actor is not None:
                known = await self.person(actor.id)
                person = _person(actor, time_zone, known)
                if known != person or person_key(actor.id) in self._unsaved:
                    await self._save(person_key(actor.id), person)
                    self._people[actor.id] = person
                    self._unsaved.discard(person_key(actor.id))
        except StoreUnavailable:
            logger.warning("could not record a Teams conversation's details: the state store is unreachable")
            # The answer to this very activity (say, "temporarily unavailable") must still reach the person.
            cached = self._places.get(place.channel)
            merged = merge(cached.to_place(), place) if cached else place
            self._places[place.channel] = PlaceRecord(**_fields(merged))
            self._unsaved.add(place_key(place.channel))
            if actor is not None:
                self._people[actor.id] = _person(actor, time_zone, self._people.get(actor.id))
                self._unsaved.add(person_key(actor.id))
        return merged

    async def _learn_place(self, told: Place) -> Place:
        key = place_key(told.channel)
        cached = self._places.get(told.channel)
        if (
            cached is not None
            and key not in self._unsaved
            and PlaceRecord(**_fields(merge(cached.to_place(), told))) == cached
        ):
            return cached.to_place()  # nothing new: no write
        for _ in range(3):
            # Merge with the stored record, not the cache: another replica may have learnt more since.
            existing = await self._store.get(key)
            known = PlaceRecord.model_validate_json(existing.data).to_place() if existing else None
            if known is None and cached is not None:
                known = cached.to_place()  # learnt during an outage, never saved
            record = PlaceRecord(**_fields(merge(known, told) if known else told))
            try:
                if existing is None or existing.data != record.model_dump_json():
                    await self._store.put(key, record.model_dump_json(), existing.version if existing else 0)
            except VersionConflict:
                continue  # another replica wrote in between: merge with its record and try again
            self._places[told.channel] = record
            self._unsaved.discard(key)
            return record.to_place()
        return told

    def drop(self, channel: str | None, users: Sequence[str]) -> None:
        """Forget the cached copies of a channel's and people's records (their stored ones were just erased)."""
        if channel is not None:
            self._places.pop(channel, None)
            self._unsaved.discard(place_key(channel))
        for user in users:
            self._people.pop(user, None)
            self._unsaved.discard(person_key(user))

    async def place(self, channel: str) -> Place | None:
        """The conversation's record, or None when Teams never told us about it."""
        record = self._places.get(channel)
        if record is None:
            stored = await self._store.get(place_key(channel))
            if stored is None:
                return None
            record = PlaceRecord.model_validate_json(stored.data)
            self._places[channel] = record
        return record.to_place()

    async def person(self, user: str) -> PersonRecord | None:
        """The person's record, or None."""
        if user not in self._people:
            stored = await self._store.get(person_key(user))
            if stored is None:
                return None
            self._people[user] = PersonRecord.model_validate_json(stored.data)
        return self._people[user]

    async def name(self, user: str) -> str:
        """The person's display name, or a neutral stand-in."""
        try:
            person = await self.person(user)
        except StoreUnavailable:
            person = None
        return person.name if person else "a clinic user"

    async def account_id(self, user: str) -> str | None:
        """The person's Teams account id (what a mention names), or None when unknown."""
        try:
            person = await self.person(user)
        except StoreUnavailable:
            person = None
        return person.account_id if person else None

    async def _save(self, key: str, record: BaseModel) -> None:
        for _ in range(3):
            existing = await self._store.get(key)
            try:
                await self._store.put(key, record.model_dump_json(), existing.version if existing else 0)
                return
            except VersionConflict:
                continue  # another replica wrote the same facts; read its version and write ours once more


def _person(actor: Actor, time_zone: str | None, known: PersonRecord | None) -> PersonRecord:
    """What an activity says about its sender, completed by what was known before."""
    return PersonRecord(
        id=actor.id,
        account_id=actor.account_id,
        name=actor.name,
        tenant=actor.tenant or (known.tenant if known else None),
        time_zone=time_zone or (known.time_zone if known else None),
    )


def merge(known: Place, told: Place) -> Place:
    """``told`` over ``known``: a field the new activity leaves out keeps its known value.

    A channel once seen to be shared stays shared: a later activity without a channel type never makes it look
    internal (staff replies depend on it).
    """
    fields = {name: value for name, value in _fields(told).items() if value not in (None, "")}
    merged = {**_fields(known), **fields}
    if known.channel_type == "shared":
        merged["channel_type"] = "shared"
    return Place(**merged)  # type: ignore[arg-type]


def _fields(place: Place) -> dict[str, object]:
    return {
        "channel": place.channel,
        "kind": place.kind,
        "service_url": place.service_url,
        "tenant": place.tenant,
        "channel_type": place.channel_type,
        "channel_name": place.channel_name,
        "team_name": place.team_name,
        "team_group_id": place.team_group_id,
    }
