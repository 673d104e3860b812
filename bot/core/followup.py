"""Timed work from the store's due queues: reminders, keep-alive calls for stored keys, unfinished work, hand-offs.

Each item is claimed atomically with a lease, so a restart loses nothing and two replicas never run the same item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import TypeVar

from bot.core import lease
from bot.core.credentials import open_stored_key
from bot.core.kit import Core
from bot.core.messages import NewKeyNeeded
from bot.core.retention import Retention
from conversations.addresses import (
    HANDOFF_QUEUE,
    KEEPALIVE_QUEUE,
    NUDGE_QUEUE,
    OUTBOX_QUEUE,
    ConversationKey,
    parse_clinic_key,
)
from conversations.clinic import Clinic
from conversations.events import Nudged
from conversations.store import StoreUnavailable
from dentally.regions import parse_region

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

LEASE_SECONDS = 300.0
# A claimed outbox item reappears after this long if its recovery did not settle it (Slack still down, say).
OUTBOX_LEASE_SECONDS = 60.0
# How many claimed items of one queue are carried out at once.
AT_ONCE = 8
RETRY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class FollowUp:
    """How often keep-alive calls happen (the reminder rule is the service's ``ReminderPolicy``)."""

    keepalive_every: float = 7 * 86400.0
    retention_days: float = 180.0


class Scheduler:
    """Claims due items and carries them out; ``run_once`` is what the loop (and tests) call."""

    def __init__(self, core: Core, follow_up: FollowUp) -> None:
        self.ctx = core
        self.follow_up = follow_up
        self.retention = Retention(core.service, core.erasure, follow_up.retention_days)
        self._zones: dict[str, tzinfo] = {}

    async def run_forever(self, interval: float = 30.0) -> None:
        """Run due work every ``interval`` seconds until cancelled; a store outage only delays it."""
        while True:
            try:
                await self.run_once()
            except StoreUnavailable:
                logger.warning("due work postponed: the state store is unreachable")
            except Exception:
                logger.exception("due work failed; trying again next round")
            await asyncio.sleep(interval)

    async def run_once(self, limit: int = 50) -> int:
        """Carry out every due reminder and keep-alive (up to ``limit`` of each), then the retention rule when due.

        Returns:
            How many reminders, keep-alives and outbox recoveries were handled.
        """
        store = self.ctx.service.store
        now = self.ctx.clock()
        nudges = await store.claim_due(NUDGE_QUEUE, now, LEASE_SECONDS, limit)
        await _each(nudges, lambda item: self._nudge(item, now))
        keepalives = await store.claim_due(KEEPALIVE_QUEUE, now, LEASE_SECONDS, limit)
        await _each(keepalives, lambda item: self._keep_alive(item, now))
        unfinished = await store.claim_due(OUTBOX_QUEUE, now, OUTBOX_LEASE_SECONDS, limit)
        await _each(unfinished, lambda item: self._recover(item, now))
        handoffs = await store.claim_due(HANDOFF_QUEUE, now, LEASE_SECONDS, limit)
        await _each(handoffs, self._hand_off)
        # Last, so a slow sweep never delays a reminder; one replica an hour does it (see ``bot.core.retention``).
        await self.retention.sweep(now)
        return len(nudges) + len(keepalives) + len(unfinished) + len(handoffs)

    async def _hand_off(self, item: str) -> None:
        """Retry a verified key's hand-off (bot.core.handoffs); the claim hides it while this round runs."""
        clinic_id = await self._readable(HANDOFF_QUEUE, item, parse_clinic_key)
        if clinic_id is None:
            return
        if self.ctx.handoffs is None or not self.ctx.handoffs.enabled:
            # No hand-off URL in this process's settings: leave the item to a process that has one.
            return
        await self.ctx.handoffs.send(*clinic_id)

    async def _readable(self, queue: str, item: str, parse: Callable[[str], _T]) -> _T | None:
        """The item's ids, or None after dropping an item no code of ours could have queued."""
        try:
            return parse(item)
        except ValueError:
            await self.ctx.service.store.unschedule(queue, item)
            return None

    async def _recover(self, item: str, now: float) -> None:
        """Carry out outbox batches that were saved but never settled (their process died, or Slack was down)."""
        ctx = self.ctx
        store = ctx.service.store
        key = await self._readable(OUTBOX_QUEUE, item, ConversationKey.parse)
        if key is None:
            return
        state = await ctx.service.conversation(key)
        if state is None or not state.outbox:
            await store.unschedule(OUTBOX_QUEUE, item)
            return
        for batch in state.outbox:
            ready_at = batch.at + ctx.service.outbox_grace
            if now < ready_at:
                await store.schedule(OUTBOX_QUEUE, item, ready_at)
                return
            if await lease.is_held(store, key, batch.id):
                # Its process is alive and still at it (Slack backing off, a slow Dentally check): look again later.
                await store.schedule(OUTBOX_QUEUE, item, now + lease.lease_for(ctx.service.outbox_grace))
                return
            latest = await ctx.service.conversation(key)
            if latest is None:
                return
            await ctx.runner.recover(latest, batch)

    async def _nudge(self, item: str, now: float) -> None:
        ctx = self.ctx
        store = ctx.service.store
        key = await self._readable(NUDGE_QUEUE, item, ConversationKey.parse)
        if key is None:
            return
        state = await ctx.service.conversation(key)
        rule, due = ctx.service.reminders, None
        if state is not None and rule is not None and rule.due_at(state) is not None:  # asks a zone only if needed
            due = rule.next_due(state, now, await self._zone(key.platform, key.user))
        if due is None:
            await store.unschedule(NUDGE_QUEUE, item)
            return
        if due > now:  # the user did something since this was scheduled, or it is outside their working hours
            await store.schedule(NUDGE_QUEUE, item, due)
            return
        outcome = await ctx.service.handle(key, Nudged(now))
        if outcome.refused is None:
            ctx.metrics.nudges.inc()
            await ctx.runner.carry_out(outcome)

    async def _zone(self, platform: str, user: str) -> tzinfo:
        """The person's time zone as their platform reports it (asked once), else UTC."""
        if user not in self._zones:
            served = self.ctx.platforms.get(platform)
            self._zones[user] = (await served.time_zone(user) if served else None) or UTC
        return self._zones[user]

    async def _keep_alive(self, item: str, now: float) -> None:
        ctx = self.ctx
        store = ctx.service.store
        clinic_id = await self._readable(KEEPALIVE_QUEUE, item, parse_clinic_key)
        if clinic_id is None:
            return
        platform, channel = clinic_id
        clinic = await ctx.service.clinic(platform, channel)
        credential = clinic.credential if clinic else None
        if clinic is None or credential is None or credential.keepalive_result == "invalid" or ctx.vault is None:
            await store.unschedule(KEEPALIVE_QUEUE, item)
            return
        token = await open_stored_key(ctx.service, ctx.vault, ctx.reports, platform, channel, credential)
        if token is None:
            # Marked and told once; keep looking, so the key is kept alive again as soon as it can be opened.
            await store.schedule(KEEPALIVE_QUEUE, item, now + RETRY_SECONDS)
            return
        assert ctx.clients is not None
        result = await ctx.clients.for_region(parse_region(credential.region), token).ping()
        status = result.status
        if status != "ok":
            ctx.metrics.keepalive_failures.labels(status).inc()
        await ctx.service.update_clinic(platform, channel, lambda record: _record_keepalive(record, now, status))
        if status == "ok":
            await store.schedule(KEEPALIVE_QUEUE, item, now + self.follow_up.keepalive_every)
        elif status == "invalid":
            await store.unschedule(KEEPALIVE_QUEUE, item)
            await self._tell_key_is_dead(platform, channel, credential.fingerprint)
        else:
            await store.schedule(KEEPALIVE_QUEUE, item, now + RETRY_SECONDS)
        await ctx.reports.refresh_card(platform, channel, urgent=status == "invalid")

    async def _tell_key_is_dead(self, platform: str, channel: str, fingerprint: str) -> None:
        ctx = self.ctx
        await ctx.reports.clinic_note(
            platform,
            channel,
            f":x: Dentally no longer accepts the stored key `…{fingerprint}` (expired or revoked). "
            "The clinic has been asked to set up a new one.",
            broadcast=True,
        )
        served = ctx.platforms.get(platform)
        if served is None:
            return
        try:
            await served.post(channel, NewKeyNeeded(fingerprint))
        except Exception as exc:
            if served.failure(exc) is None:
                raise
            logger.warning("could not tell a %s clinic about its dead key: %s", served.label, type(exc).__name__)


def _record_keepalive(clinic: Clinic, now: float, status: str) -> Clinic:
    if clinic.connection is None:
        return clinic
    result = {"ok": "ok", "invalid": "invalid", "rate_limited": "retrying"}.get(status, "retrying")
    return clinic.with_connection(clinic.connection.kept_alive(now, result))


async def _each(items: list[str], work: Callable[[str], Awaitable[None]]) -> None:
    """Carry out ``work`` for every claimed item, ``AT_ONCE`` at a time: each is a different conversation or clinic.

    Fifty reminders falling due together (a webinar's clinics went quiet at once) then take seconds, not a minute
    of one after another, well inside the claim that hides them from other replicas. The first error is raised
    after every item had its turn.
    """
    gate = asyncio.Semaphore(AT_ONCE)
    failures: list[BaseException] = []

    async def one(item: str) -> None:
        async with gate:
            try:
                await work(item)
            except Exception as exc:
                failures.append(exc)

    await asyncio.gather(*(one(item) for item in items))
    if failures:
        raise failures[0]
