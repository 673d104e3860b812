"""What Teams tells the bot survives a store outage: kept in memory for the reply, saved on a later activity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.teams.activities import Actor, Place
from bot.teams.directory import TeamsDirectory
from conversations.stores import open_store
from tests.bot.test_store_outage import RedisServer

PLACE = Place("19:clinic@thread.tacv2", "channel", "https://connector.example/", "tenant-1", "shared", "maple-leaf")
ADMIN = Actor("aad-admin", "29:admin", "Jane Admin", "tenant-1")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_facts_learnt_in_an_outage_reach_the_reply_and_are_saved_once_the_store_is_back(
    private_redis: RedisServer,
) -> None:
    store = open_store(private_redis.url)
    try:
        directory = TeamsDirectory(store)
        private_redis.stop()
        await directory.learn(PLACE, ADMIN, "Europe/London")  # logged, not raised
        assert await directory.place(PLACE.channel) == PLACE  # from memory: the reply can be addressed
        person = await directory.person(ADMIN.id)
        assert person is not None
        assert (person.account_id, person.name, person.time_zone) == ("29:admin", "Jane Admin", "Europe/London")

        private_redis.start()
        assert await TeamsDirectory(store).place(PLACE.channel) is None  # not saved yet
        await directory.learn(PLACE, ADMIN)  # the same facts on a later activity: now they are saved
        fresh = TeamsDirectory(store)  # another replica, reading the store
        assert await fresh.place(PLACE.channel) == PLACE
        assert await fresh.person(ADMIN.id) == person
    finally:
        await store.aclose()
