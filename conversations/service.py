"""The onboarding service: load state, apply an event with the pure machine, save with compare-and-set."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conversations.addresses import (
    NUDGE_QUEUE,
    OUTBOX_QUEUE,
    ConversationKey,
    clinic_key,
    clinic_prefix,
    conversation_prefix,
)
from conversations.clinic import Clinic
from conversations.conversation import Conversation
from conversations.events import Effect, Event
from conversations.guide import Guide
from conversations.machine import IllegalMove, adopt, apply
from conversations.outbox import OutboxBatch
from conversations.reminders import ReminderPolicy
from conversations.store import DueChange, Store, VersionConflict

# A lost race reloads and re-applies. Each round of a race has exactly one winner, so the attempt budget is how
# many writers of one record may collide at once; a short random pause stops the losers colliding in lockstep again.
_MAX_ATTEMPTS = 32
_RETRY_PAUSE_SECONDS = 0.002


async def _pause_after_lost_race(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, _RETRY_PAUSE_SECONDS * attempt))  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True, slots=True)
class Handled:
    """What an event did: the state after it, the effects to carry out, or why it was refused."""

    state: Conversation | None
    effects: tuple[Effect, ...] = ()
    refused: IllegalMove | None = None
    batch: str | None = None


class OnboardingService:
    """Ties the guide machine to a store; safe to call from any number of replicas at once.

    Args:
        store: Where conversations and clinics are kept.
        guide: The guide in use; saved conversations are resolved against it by step id.
        clock: Unix time now.
        reminders: The reminder rule; None turns reminders off (nothing is queued for them).
        outbox_grace: Seconds a saved batch of effects is left to its own process before recovery may take it.
        earlier_guides: Earlier versions of the guide, to read records that still name their step by index.
    """

    def __init__(
        self,
        store: Store,
        guide: Guide,
        clock: Callable[[], float] = time.time,
        reminders: ReminderPolicy | None = None,
        outbox_grace: float = 30.0,
        earlier_guides: Sequence[Guide] = (),
    ) -> None:
        self.store = store
        self.guide = guide
        self.clock = clock
        self.reminders = reminders
        # With reminders off nothing queues a Nudged; one arriving anyway meets the default rule.
        self._rule = reminders or ReminderPolicy()
        self.outbox_grace = outbox_grace
        self._guides = (guide, *earlier_guides)

    def _read(self, data: str | bytes) -> Conversation:
        return Conversation.from_json(data, self._guides)

    def _view(self, data: str | bytes) -> Conversation:
        # Readers see the conversation as the current guide places it; the move is saved with its next event.
        return adopt(self.guide, self._read(data)).state

    def conversation_from(self, data: str | bytes) -> Conversation:
        """A stored conversation record as readers see it (placed in the current guide).

        Raises:
            IncompatibleRecord: A newer release wrote it.
        """
        return self._view(data)

    async def conversation(self, key: ConversationKey) -> Conversation | None:
        """The current state of ``key``'s conversation (placed in the current guide), or None."""
        record = await self.store.get(str(key))
        return None if record is None else self._view(record.data)

    async def conversations(self, platform: str, team: str, channel: str | None = None) -> list[Conversation]:
        """Every conversation of a team (or of one channel), in key order, placed in the current guide."""
        rows = await self.store.scan(conversation_prefix(platform, team, channel))
        return [self._view(record.data) for _, record in rows]

    async def handle(self, key: ConversationKey, event: Event) -> Handled:
        """Apply ``event`` to ``key``'s conversation and save it; a lost race reloads and tries again.

        The transition's effects are saved in the conversation's outbox in the same write; carry them out, then
        call ``settle`` with ``Handled.batch``. Until then the due queue holds the conversation for recovery.

        Returns:
            The outcome; ``refused`` is set (and nothing saved) when the machine rejected the event.
        """
        for attempt in range(_MAX_ATTEMPTS):
            record = await self.store.get(str(key))
            state = None if record is None else self._read(record.data)
            try:
                transition = apply(self.guide, key, state, event, self._rule)
            except IllegalMove as refused:
                return Handled(None if state is None else adopt(self.guide, state).state, (), refused)
            after = transition.state
            batch = None
            if transition.effects:
                batch = OutboxBatch.of(uuid.uuid4().hex[:16], self.clock(), transition.effects)
                kept = state.outbox if state is not None else ()
                after = after.model_copy(update={"outbox": (*kept, batch)})
            elif state is not None and after.outbox != state.outbox:
                after = after.model_copy(update={"outbox": state.outbox})
            if after == state:
                return Handled(state, transition.effects)
            due = self._reminder_change(state, after)
            if batch is not None:
                due.append(DueChange(OUTBOX_QUEUE, str(key), batch.at + self.outbox_grace))
            try:
                await self.store.put(str(key), after.to_json(), record.version if record else 0, due)
            except VersionConflict:
                await _pause_after_lost_race(attempt + 1)
                continue
            return Handled(after, transition.effects, batch=batch.id if batch else None)
        raise VersionConflict(f"{key}: gave up after {_MAX_ATTEMPTS} lost races")

    async def settle(self, key: ConversationKey, batch: str) -> None:
        """Remove a carried-out batch from the outbox (and the conversation from the due queue once it is empty)."""
        for attempt in range(_MAX_ATTEMPTS):
            record = await self.store.get(str(key))
            if record is None:
                return
            state = self._read(record.data)
            remaining = tuple(kept for kept in state.outbox if kept.id != batch)
            if remaining == state.outbox:
                return
            due = DueChange(OUTBOX_QUEUE, str(key), remaining[0].at + self.outbox_grace if remaining else None)
            try:
                await self.store.put(
                    str(key), state.model_copy(update={"outbox": remaining}).to_json(), record.version, [due]
                )
            except VersionConflict:
                await _pause_after_lost_race(attempt + 1)
                continue
            return
        raise VersionConflict(f"{key}: gave up settling after {_MAX_ATTEMPTS} lost races")

    def _reminder_change(self, before: Conversation | None, after: Conversation) -> list[DueChange]:
        """Keep the due queue in step with the guide: a quiet guide in progress gets a reminder later."""
        if self.reminders is None:
            return []
        due_at = self.reminders.due_at(after)
        if before is not None and self.reminders.due_at(before) == due_at:
            return []
        return [DueChange(NUDGE_QUEUE, str(after.key), due_at)]

    async def clinic(self, platform: str, channel: str) -> Clinic | None:
        """The clinic record of a shared channel, or None."""
        record = await self.store.get(clinic_key(platform, channel))
        return None if record is None else Clinic.model_validate_json(record.data)

    async def clinics(self, platform: str) -> list[Clinic]:
        """Every clinic record of a platform."""
        rows = await self.store.scan(clinic_prefix(platform))
        return [Clinic.model_validate_json(record.data) for _, record in rows]

    async def update_clinic(
        self, platform: str, channel: str, change: Callable[[Clinic], Clinic], due: Sequence[DueChange] = ()
    ) -> tuple[Clinic, Clinic | None]:
        """Apply ``change`` to a clinic record (created empty when missing) with compare-and-set.

        ``due`` changes (about the clinic's own address) are saved in the same atomic step when the record changes.

        Returns:
            The record after the change and the one before it (None when it was just created).
        """
        changed = await self._change_clinic(platform, channel, change, create=True, due=due)
        assert changed is not None, "a created record is never missing"
        return changed

    async def change_existing_clinic(
        self, platform: str, channel: str, change: Callable[[Clinic], Clinic], due: Sequence[DueChange] = ()
    ) -> tuple[Clinic, Clinic] | None:
        """Like ``update_clinic``, but a missing record stays missing (it may have just been erased).

        Returns:
            The record after the change and the one before it, or None when there is no record.
        """
        changed = await self._change_clinic(platform, channel, change, create=False, due=due)
        if changed is None:
            return None
        after, before = changed
        assert before is not None, "an existing record has a before"
        return after, before

    async def _change_clinic(
        self,
        platform: str,
        channel: str,
        change: Callable[[Clinic], Clinic],
        create: bool,
        due: Sequence[DueChange] = (),
    ) -> tuple[Clinic, Clinic | None] | None:
        key = clinic_key(platform, channel)
        for attempt in range(_MAX_ATTEMPTS):
            record = await self.store.get(key)
            now = self.clock()
            before = None if record is None else Clinic.model_validate_json(record.data)
            if before is None and not create:
                return None
            base = before or Clinic(platform=platform, channel=channel, created_at=now, updated_at=now)
            after = change(base)
            if after == before:
                return after, before
            after = after.model_copy(update={"updated_at": now})
            try:
                await self.store.put(key, after.model_dump_json(), record.version if record else 0, due)
            except VersionConflict:
                await _pause_after_lost_race(attempt + 1)
                continue
            return after, before
        raise VersionConflict(f"{key}: gave up after {_MAX_ATTEMPTS} lost races")
