"""What Teams told us about conversations and people, kept in the state store for messages sent later.

A reminder, a reset notice or a support report happens without an incoming activity, so the bot keeps each
conversation's connector URL and kind, and each person's name, account id and time zone, as it sees them.
"""

from __future__ import annotations

import logging
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


class TeamsDirectory:
    """Reads and writes place and person records; writes only what changed, reads through a small cache."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._places: dict[str, PlaceRecord] = {}
        self._people: dict[str, PersonRecord] = {}

    async def learn(self, place: Place, actor: Actor | None = None, time_zone: str | None = None) -> None:
        """Remember ``place`` (and ``actor``); a store outage only means a later send may lack these facts."""
        record = PlaceRecord(**_fields(place))
        try:
            if self._places.get(place.channel) != record:
                await self._save(place_key(place.channel), record)
                self._places[place.channel] = record
            if actor is not None:
                known = await self.person(actor.id)
                person = PersonRecord(
                    id=actor.id,
                    account_id=actor.account_id,
                    name=actor.name,
                    tenant=actor.tenant or (known.tenant if known else None),
                    time_zone=time_zone or (known.time_zone if known else None),
                )
                if known != person:
                    await self._save(person_key(actor.id), person)
                    self._people[actor.id] = person
        except StoreUnavailable:
            logger.warning("could not record a Teams conversation's details: the state store is unreachable")

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

    async def _save(self, key: str, record: BaseModel) -> None:
        for _ in range(3):
            existing = await self._store.get(key)
            try:
                await self._store.put(key, record.model_dump_json(), existing.version if existing else 0)
                return
            except VersionConflict:
                continue  # another replica wrote the same facts; read its version and write ours once more


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
