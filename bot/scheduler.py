"""Timed work from the store's due queues: reminders for quiet guides and keep-alive calls for stored keys.

Each item is claimed atomically with a lease, so a restart loses nothing and two replicas never run the same item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot import blocks, slack_calls
from bot.app import BotContext
from conversations.addresses import KEEPALIVE_QUEUE, NUDGE_QUEUE, OUTBOX_QUEUE, ConversationKey, parse_clinic_key
from conversations.clinic import Clinic
from conversations.events import Nudged
from conversations.store import StoreUnavailable
from conversations.vault import VaultError
from dentally.regions import parse_region

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

LEASE_SECONDS = 300.0
# A claimed outbox item reappears after this long if its recovery did not settle it (Slack still down, say).
OUTBOX_LEASE_SECONDS = 60.0
KEY_CHECK_PATIENCE = 150.0
RETRY_SECONDS = 3600.0
WORKDAY_START_HOUR = 9
WORKDAY_END_HOUR = 17


@dataclass(frozen=True, slots=True)
class FollowUp:
    """How often reminders and keep-alive calls happen."""

    nudge_after: float = 24 * 3600.0
    nudge_max: int = 2
    keepalive_every: float = 7 * 86400.0


def next_working_moment(now: float, zone: tzinfo) -> float:
    """``now`` if it falls on a weekday between 09:00 and 17:00 in ``zone``, else the start of the next such window."""
    local = datetime.fromtimestamp(now, zone)
    if local.weekday() < 5 and WORKDAY_START_HOUR <= local.hour < WORKDAY_END_HOUR:
        return now
    day = local if local.hour < WORKDAY_START_HOUR else local + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime(day.year, day.month, day.day, WORKDAY_START_HOUR, tzinfo=zone)
    return start.timestamp()


class Scheduler:
    """Claims due items and carries them out; ``run_once`` is what the loop (and tests) call."""

    def __init__(self, ctx: BotContext, follow_up: FollowUp) -> None:
        self.ctx = ctx
        self.follow_up = follow_up
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
        """Carry out every due reminder and keep-alive (up to ``limit`` of each); returns how many were handled."""
        store = self.ctx.service.store
        now = self.ctx.clock()
        nudges = await store.claim_due(NUDGE_QUEUE, now, LEASE_SECONDS, limit)
        for item in nudges:
            await self._nudge(item, now)
        keepalives = await store.claim_due(KEEPALIVE_QUEUE, now, LEASE_SECONDS, limit)
        for item in keepalives:
            await self._keep_alive(item, now)
        unfinished = await store.claim_due(OUTBOX_QUEUE, now, OUTBOX_LEASE_SECONDS, limit)
        for item in unfinished:
            await self._recover(item, now)
        return len(nudges) + len(keepalives) + len(unfinished)

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
            # A key check legitimately takes a while (Dentally timeouts, rate-limit waits): give it longer.
            patience = KEY_CHECK_PATIENCE if any(e.get("type") == "RunKeyCheck" for e in batch.effects) else 0.0
            ready_at = batch.at + max(ctx.service.outbox_grace, patience)
            if now < ready_at:
                await store.schedule(OUTBOX_QUEUE, item, ready_at)
                return
            latest = await ctx.service.conversation(key)
            if latest is None:
                return
            other = ctx.reporter.platform(key.platform)
            if other is not None:
                await other.recover(latest, batch)
            else:
                await ctx.presenter.recover(latest, batch)

    async def _nudge(self, item: str, now: float) -> None:
        ctx = self.ctx
        store = ctx.service.store
        key = await self._readable(NUDGE_QUEUE, item, ConversationKey.parse)
        if key is None:
            return
        state = await ctx.service.conversation(key)
        if state is None or not state.in_progress or state.nudges >= self.follow_up.nudge_max:
            await store.unschedule(NUDGE_QUEUE, item)
            return
        due = state.quiet_since + self.follow_up.nudge_after
        if now < due:  # the user did something since this was scheduled
            await store.schedule(NUDGE_QUEUE, item, due)
            return
        window = next_working_moment(now, await self._zone(key.platform, key.user))
        if window > now:
            await store.schedule(NUDGE_QUEUE, item, window)
            return
        outcome = await ctx.service.handle(key, Nudged(now))
        if outcome.refused is None:
            ctx.metrics.nudges.inc()
            other = ctx.reporter.platform(key.platform)
            await (other.carry_out(outcome) if other is not None else ctx.presenter.carry_out(outcome))

    async def _zone(self, platform: str, user: str) -> tzinfo:
        if user not in self._zones:
            other = self.ctx.reporter.platform(platform)
            if other is not None:
                self._zones[user] = await other.time_zone(user) or UTC
            else:
                self._zones[user] = await self._lookup_zone(user)
        return self._zones[user]

    async def _lookup_zone(self, user: str) -> timezone | ZoneInfo:
        try:
            profile = (await self.ctx.client.users_info(user=user)).get("user") or {}
        except SlackApiError as exc:
            logger.warning("users.info failed (%s); using UTC for reminders", slack_calls.slack_error(exc))
            return UTC
        name = profile.get("tz")
        if isinstance(name, str):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        offset = profile.get("tz_offset")
        return timezone(timedelta(seconds=int(offset))) if isinstance(offset, int) else UTC

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
        try:
            token: SecretStr = ctx.vault.decrypt(credential.ciphertext)
        except VaultError:
            logger.error("stored key of %s cannot be decrypted: check KEY_ENCRYPTION_KEYS", channel)
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
        await ctx.reporter.refresh_card(platform, channel)

    async def _tell_key_is_dead(self, platform: str, channel: str, fingerprint: str) -> None:
        ctx = self.ctx
        await ctx.reporter.clinic_note(
            platform,
            channel,
            f":x: Dentally no longer accepts the stored key `…{fingerprint}` (expired or revoked). "
            "The clinic has been asked to set up a new one.",
            broadcast=True,
        )
        other = ctx.reporter.platform(platform)
        if other is not None:
            await other.tell_new_key_needed(channel, fingerprint)
            return
        text, message = blocks.new_key_needed(ctx.guide, fingerprint)
        try:
            await slack_calls.post(ctx.client, channel, text, message)
        except SlackApiError as exc:
            logger.warning("could not tell %s about its dead key: %s", channel, slack_calls.slack_error(exc))


def _record_keepalive(clinic: Clinic, now: float, status: str) -> Clinic:
    if clinic.credential is None:
        return clinic
    result = {"ok": "ok", "invalid": "invalid", "rate_limited": "retrying"}.get(status, "retrying")
    credential = clinic.credential.model_copy(update={"last_keepalive": now, "keepalive_result": result})
    return clinic.model_copy(update={"credential": credential})
