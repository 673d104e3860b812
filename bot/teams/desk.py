"""Aldense staff on Teams: ``status`` (for their eyes only), ``onboard`` to post the kick-off, ``forget`` (in a 1:1
chat) to erase a clinic's data, and the welcome for a member of another tenant who joins a shared channel.

Staff are the users of Aldense's own tenant (the installing tenant); everyone else is treated as a clinic user.

``status`` lists every clinic, so it fails closed: it is posted openly only in a 1:1 chat or in a channel known to be
Aldense's own (Aldense's tenant, and a channel type of standard or private that Teams reported). Anywhere else,
including every channel Teams never described (its recorded channel messages carry only the channel id), the answer
is a targeted message only the asker sees, and nothing at all when Teams refuses that.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import httpx

from bot.core.clinics import Clinics, ClinicView, duration, outcome, status_counts, time_per_step
from bot.core.erasure import Erasure
from bot.teams import cards
from bot.teams.activities import Actor, Place
from bot.teams.messenger import TeamsMessenger, UnknownConversation
from conversations.addresses import store_key
from conversations.guide import Guide
from conversations.schema import IncompatibleRecord
from conversations.service import OnboardingService
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)

NOT_STAFF = "Sorry, that is for the Aldense team only."
NOT_HERE = (
    "I couldn't show you **status** privately here, so I kept it to myself: clinics must never see each other's "
    "progress. Ask me in a 1:1 chat."
)
FORGET_IN_CHAT = (
    "I only **forget** a clinic when you ask in a 1:1 chat with me, so no clinic sees it. Nothing was changed."
)
FORGET_USAGE = "Send **forget** and part of a clinic's name, e.g. **forget maple**. Ask **status** for their names."
UNAVAILABLE_FOR_STAFF = (
    "⏳ I can't reach my state store right now, so nothing was changed — please try again in a minute."
)
INCOMPATIBLE_FOR_STAFF = (
    "⚠️ A stored record was written by a newer release of Aldense Guide, which this one cannot read, so I left it as "
    "it is. Finish deploying the newer release (or roll it back), then try again."
)
INTERNAL_CHANNEL_TYPES = frozenset({"standard", "private"})
# How long a member's tenant, once looked up, is trusted.
TENANT_TTL_SECONDS = 600.0
# One welcome per member and channel in this window, however many join events Teams sends.
WELCOME_TTL_SECONDS = 7 * 86400.0
MAX_LISTED = 25


class TeamsDesk:
    """What Aldense staff can ask the bot on Teams; support's main desk stays in Slack."""

    def __init__(
        self,
        service: OnboardingService,
        clinics: Clinics,
        messenger: TeamsMessenger,
        aldense_tenant: str,
        erasure: Erasure,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._erasure = erasure
        self._clinics = clinics
        self._messenger = messenger
        self._aldense = aldense_tenant
        self._monotonic = monotonic
        self._tenants: dict[tuple[str, str], tuple[float, str | None]] = {}

    @property
    def guide(self) -> Guide:
        """The guide being run."""
        return self._service.guide

    async def tenant_of(self, place: Place, account_id: str, said: str | None = None) -> str | None:
        """A member's own tenant: as the activity said, else as the connector says (cached for a while)."""
        if said:
            return said
        cache_key = (place.channel, account_id)
        cached = self._tenants.get(cache_key)
        if cached is not None and self._monotonic() - cached[0] < TENANT_TTL_SECONDS:
            return cached[1]
        tenant = await self._messenger.member_tenant(place.channel, account_id)
        self._tenants[cache_key] = (self._monotonic(), tenant)
        return tenant

    async def is_staff(self, place: Place, actor: Actor) -> bool:
        """Whether ``actor`` belongs to Aldense's own tenant."""
        return await self.tenant_of(place, actor.account_id, actor.tenant) == self._aldense

    async def status(self, place: Place, actor: Actor, words: list[str]) -> None:
        """Every clinic in progress (or one, named), for staff, only where no clinic can read along."""
        if not await self.is_staff(place, actor):
            await self._messenger.notify(place.channel, actor.id, NOT_STAFF)
            return
        views = await self._clinics.all()
        if words:
            wanted = " ".join(words).casefold()
            views = [v for v in views if wanted in v.clinic.display_name.casefold()]
            reply = self._listing(views, f"Clinics matching “{cards.escape(' '.join(words), 60)}”", detailed=True)
        else:
            counts = status_counts(views)
            waiting = f" · 🆘 {counts.waiting} waiting for help" if counts.waiting else ""
            heading = f"{counts.in_progress} clinic(s) in progress · {counts.verified} verified{waiting}"
            reply = self._listing(list(counts.listed), heading)
        if not self.internal(place):
            if not await self._messenger.privately(place.channel, actor.id, reply):
                await self._messenger.notify(place.channel, actor.id, NOT_HERE)
            return
        try:
            await self._messenger.post(place.channel, reply)
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("could not answer status on Teams: %s", type(exc).__name__)

    def internal(self, place: Place) -> bool:
        """Whether only Aldense can read ``place``: a channel of Aldense's tenant that Teams said is not shared.

        Unknown means no: the 1:1 chat is private anyway and is answered through ``privately``.
        """
        return (
            place.kind == "channel" and place.tenant == self._aldense and place.channel_type in INTERNAL_CHANNEL_TYPES
        )

    def _listing(self, views: list[ClinicView], heading: str, detailed: bool = False) -> str:
        now = self._service.clock()
        lines = [f"**{heading}**, waiting for help first, then longest idle"]
        for view in sorted(views, key=lambda v: (not v.stuck, v.idle_since()))[:MAX_LISTED]:
            leader = max(view.conversations, key=lambda c: self.guide.index_of(c.step_id), default=None)
            place = self.guide.index_of(leader.step_id) + 1 if leader else 0
            step = f"step {place}/{self.guide.step_count}" if leader else "not started"
            stuck = f" · 🆘 waiting for help {duration(now - (view.waiting[0].stuck_at or now))}" if view.stuck else ""
            lines.append(
                f"- **{cards.escape(view.clinic.display_name)}** ({view.platform_label}) · {step} · idle "
                f"{duration(now - view.idle_since())}{stuck} — {cards.markdown(outcome(view))}"
            )
            if detailed:
                for conversation in view.conversations:
                    spent = time_per_step(self.guide, conversation) or "no step finished yet"
                    who = cards.markdown(view.name_of(conversation.user))
                    lines.append(f"  - {who}: time per step {spent}")
        if len(views) > MAX_LISTED:
            lines.append(f"…and {len(views) - MAX_LISTED} more. Ask **status** with part of a clinic's name.")
        if len(lines) == 1:
            lines.append("No clinic is in the middle of Dentally setup.")
        return "\n\n".join(lines)

    async def forget(self, place: Place, actor: Actor, words: list[str]) -> None:
        """``forget NAME`` shows what would be erased; ``forget NAME yes`` (and ``tell``) erases it. Staff, 1:1 only."""
        if not await self.is_staff(place, actor):
            await self._messenger.notify(place.channel, actor.id, NOT_STAFF)
            return
        if place.kind != "personal":
            await self._messenger.notify(place.channel, actor.id, FORGET_IN_CHAT)
            return
        confirmed, tell = "yes" in words, "tell" in words
        name = " ".join(word for word in words if word not in ("yes", "tell"))
        try:
            reply = await self._forget(name, actor, confirmed, tell)
        except StoreUnavailable:
            logger.warning("a Teams forget was answered 'unavailable': the state store is unreachable")
            reply = UNAVAILABLE_FOR_STAFF
        except IncompatibleRecord:
            reply = INCOMPATIBLE_FOR_STAFF
        try:
            await self._messenger.post(place.channel, reply)
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("could not answer forget on Teams: %s", type(exc).__name__)

    async def _forget(self, name: str, actor: Actor, confirmed: bool, tell: bool) -> str:
        if not name:
            return FORGET_USAGE
        view = await self._clinics.find(name)
        if view is None:
            return f"No single clinic matches “{name[:60]}”. " + FORGET_USAGE
        clinic = view.clinic
        if not confirmed:
            stored = f"{len(view.conversations)} guide(s), the clinic record" + (
                " and its stored Dentally key" if clinic.credential else ""
            )
            return (
                f"This erases everything I store about **{clinic.display_name}** ({view.platform_label}): {stored}, "
                "its reminders and keep-alive, and the names I remember. It cannot be undone.\n\n"
                f"To go ahead, send **forget {name} yes** — add **tell** to also tell the clinic politely."
            )
        erased = await self._erasure.forget(view.platform, clinic.channel, by=f"{actor.name} (Teams)", tell_clinic=tell)
        told = " The clinic was told." if erased.clinic_told else ""
        return f"Done — {clinic.display_name}: {erased.summary()}.{told}"

    async def onboard(self, place: Place, actor: Actor) -> None:
        """Staff post the kick-off in the conversation they typed ``onboard`` in (a clinic's shared channel)."""
        if not await self.is_staff(place, actor):
            await self._messenger.notify(place.channel, actor.id, NOT_STAFF)
            return
        try:
            await self._messenger.post(place.channel, cards.kickoff(self.guide))
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("could not post the Teams kick-off: %s", type(exc).__name__)

    async def welcome(self, place: Place, account_id: str, name: str | None, said: str | None = None) -> None:
        """Post the kick-off, once, for a member of another tenant who joined a channel.

        ``said`` is the tenant the event itself names (``membershipSource``); without it the connector is asked,
        which may not know a member of another tenant (404). Teams may announce one join several times, so a mark
        per channel and member, kept in the store for ``WELCOME_TTL_SECONDS``, lets only the first one post.
        """
        tenant = await self.tenant_of(place, account_id, said)
        if tenant is None or tenant == self._aldense:
            return
        mark = welcome_key(place.channel, account_id)
        try:
            if not await self._service.store.mark_once(mark, WELCOME_TTL_SECONDS):
                return
        except StoreUnavailable:
            logger.warning("could not check for an earlier welcome: the state store is unreachable; welcoming anyway")
        try:
            await self._messenger.post(place.channel, cards.kickoff(self.guide, welcome=name or ""))
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("kick-off on join failed on Teams: %s", type(exc).__name__)
            with contextlib.suppress(StoreUnavailable):
                await self._service.store.unmark(mark)  # a later join event may try again


def welcome_key(channel: str, account_id: str) -> str:
    """Store key of the mark that a member of a channel was welcomed."""
    return store_key("teams-welcome", channel, account_id)
