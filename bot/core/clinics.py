"""Clinics as support sees them, on every platform: one view per clinic, and finding clinics by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.copy import inert, moment
from bot.core.platform import Platforms, label
from conversations.clinic import Clinic
from conversations.connection import Connection, ConnectionState
from conversations.conversation import Conversation, Status
from conversations.guide import Guide
from conversations.service import OnboardingService
from dentally.regions import parse_region, region_label
from dentally.scopes import SCOPE_LABELS, CheckResult, Verdict

_ENDED = (Status.VERIFIED, Status.ABANDONED)
ADMIN_PERMISSION_LEVEL = 4  # Dentally's administrator (0 is a deactivated user)


@dataclass(frozen=True, slots=True)
class ClinicView:
    """Everything support sees about one clinic."""

    clinic: Clinic
    conversations: tuple[Conversation, ...]
    thread_link: str | None = None
    platform: str = "slack"
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def platform_label(self) -> str:
        """The clinic's chat platform as support reads it (``Slack``, ``Microsoft Teams``)."""
        return label(self.platform)

    @property
    def last_activity(self) -> float:
        """When anything last happened in this clinic's guides."""
        times = [c.updated_at for c in self.conversations] or [self.clinic.updated_at]
        return max(times)

    @property
    def started(self) -> float:
        """When the first guide started."""
        return min([c.started_at for c in self.conversations] or [self.clinic.created_at])

    @property
    def waiting(self) -> tuple[Conversation, ...]:
        """The guides whose request for help is open (until staff answer it, or the guide connects or ends)."""
        open_ = [c for c in self.conversations if c.stuck_at is not None and c.status not in _ENDED]
        return tuple(sorted(open_, key=lambda c: c.stuck_at or 0.0))

    @property
    def stuck(self) -> bool:
        """Whether someone asked for help and no one has answered yet."""
        return bool(self.waiting)

    @property
    def verified(self) -> bool:
        """Whether the clinic is connected with a key Dentally still accepts (and no replacement waits for staff)."""
        connection = self.clinic.connection
        return connection is not None and connection.state is ConnectionState.CONNECTED and connection.pending is None

    def name_of(self, user: str) -> str:
        """How support sees ``user``: the name the platform gave, else a Slack mention or a neutral word."""
        return self.names.get(user) or (f"<@{user}>" if self.platform == "slack" else "a clinic user")

    def standing_of(self, conversation: Conversation) -> str:
        """Where ``conversation`` stands, in a few words, true of the connection too.

        A verified key is only "verified" while it is the clinic's key; otherwise it waits for staff, or was not
        used (rejected, replaced since, or the connection was reset).
        """
        status = conversation.status.value.replace("_", " ")
        connection = self.clinic.connection
        if conversation.status is not Status.VERIFIED or conversation.key_fingerprint is None:
            return status
        if connection is not None and connection.fingerprint == conversation.key_fingerprint:
            return "verified, in use"
        held = connection.pending if connection is not None else None
        if held is not None and held.key.fingerprint == conversation.key_fingerprint:
            return "verified, waiting for staff"
        return "verified, not in use"

    def idle_since(self) -> float:
        """When the quietest guide in progress was last active (the clinic's idle clock)."""
        active = [c.quiet_since for c in self.conversations if c.in_progress]
        return min(active) if active else self.last_activity


def attention(view: ClinicView, guide: Guide, since: Callable[[float], str]) -> list[str]:
    """What needs someone at Aldense, most urgent first, one line each (empty when nothing does).

    Args:
        view: The clinic.
        guide: The guide, to name each stuck person's step.
        since: How a moment is shown (a live date token on a card, a duration in a reply built now).
    """
    lines = []
    for conversation in view.waiting:
        assert conversation.stuck_at is not None
        place = guide.position(conversation.step_id)
        step = f" on step {place + 1}/{guide.step_count}" if place is not None else ""
        lines.append(
            f":sos: *Waiting for help* {since(conversation.stuck_at)} — {view.name_of(conversation.user)}{step}"
        )
    connection = view.clinic.connection
    if connection is not None and connection.pending is not None:
        lines.append(":warning: *Replacement key waiting for staff* — Accept or Reject it in the thread")
    if connection is not None and (
        connection.state is ConnectionState.NEEDS_NEW_KEY or connection.key.exposed_at is not None
    ):
        lines.append(f":x: *Needs a new key* — `…{connection.fingerprint}` no longer works or was exposed")
    elif any(c.status is Status.NEEDS_NEW_KEY for c in view.conversations):
        lines.append(":x: *Needs a new key* — the key entered was not accepted")
    return lines


def time_per_step(guide: Guide, conversation: Conversation) -> str:
    """How long each finished step took, in guide order: ``1: 40 s · 2: 1 min · 3: 12 min`` (empty when none)."""
    spent = []
    for index, step in enumerate(guide.steps):
        times = conversation.steps.get(step.id)
        if times is not None and times.done is not None:
            spent.append(f"{index + 1}: {duration(times.done - times.reached)}")
    return " · ".join(spent)


def dentally_user(view: ClinicView) -> str | None:
    """The key's Dentally user and practice id, for when the practice's name is unknown (None when it is known).

    The name comes from the connection; a check result keeps only the user's id and permission level (the
    retention rule drops names and e-mail addresses), so the e-mail address is never shown.
    """
    if view.clinic.name:
        return None
    connection = view.clinic.connection
    identity = connection.identity if connection is not None else None
    check = last_check(view.clinic)
    user = check.user if check is not None else None
    user_id = (identity.user_id if identity else None) or (str(user.id) if user and user.id is not None else None)
    practice = (identity.practice_id if identity else None) or (
        str(user.practice_id) if user and user.practice_id is not None else None
    )
    if user_id is None and practice is None:
        return None
    name = identity.user_name if identity and identity.user_name else None
    level = user.permission_level if user is not None else None
    admin = ""
    if level is not None:
        admin = " · administrator" if level == ADMIN_PERMISSION_LEVEL else " · not an administrator"
    who = f"{inert(name)} (user {inert(user_id or '?')}{admin})" if name else f"user {inert(user_id or '?')}{admin}"
    return f"Dentally {who} · practice id {inert(practice or 'unknown')}"


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """``status`` in numbers: what is listed (in progress or waiting for help) and how many are verified."""

    listed: tuple[ClinicView, ...]
    in_progress: int
    verified: int
    waiting: int


def status_counts(views: Sequence[ClinicView]) -> StatusCounts:
    """A verified clinic counts as verified (never "in progress"); it is listed too while someone there waits."""
    listed = tuple(v for v in views if not v.verified or v.stuck)
    return StatusCounts(
        listed=listed,
        in_progress=sum(1 for v in views if not v.verified),
        verified=sum(1 for v in views if v.verified),
        waiting=sum(1 for v in views if v.stuck),
    )


def duration(seconds: float) -> str:
    """A short duration: ``45 s``, ``12 min``, ``5 h``, ``3 d``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def last_check(clinic: Clinic) -> CheckResult | None:
    """The clinic's last check result, if any."""
    return CheckResult.model_validate(clinic.last_check) if clinic.last_check else None


def connection_line(view: ClinicView, connection: Connection) -> str:
    """The connection in one line: whose Dentally, where, which key, who connected it and when."""
    region = region_label(parse_region(connection.key.region))
    who = f"{view.name_of(connection.connected_by)} on {moment(connection.connected_at)}"
    whose = inert(connection.identity.label)
    if connection.key.exposed_at is not None:
        return (
            f":rotating_light: Key `…{connection.fingerprint}` was pasted in the channel ({whose}, {region}) — "
            f"compromised, a new key is needed (connected by {who})"
        )
    if connection.state is ConnectionState.NEEDS_NEW_KEY:
        return (
            f":x: Needs a new key: `…{connection.fingerprint}` expired or revoked ({whose}, "
            f"{region}; connected by {who})"
        )
    key = connection.key
    if key.undecryptable_at is not None:
        return (
            f":warning: Stored key `…{connection.fingerprint}` can't be decrypted ({whose}, {region}) — check "
            "KEY_ENCRYPTION_KEYS; it is not being kept alive"
        )
    replaced = f" · replaced `…{connection.replaced_fingerprint}`" if connection.replaced_fingerprint else ""
    handoff = ""
    if key.handoff == "failed":
        handoff = " · :warning: hand-off to Aldense failed (Re-send hand-off)"
    elif key.handoff == "pending" and key.handoff_rounds:
        handoff = " · hand-off to Aldense not delivered yet (retrying)"
    return (
        f":white_check_mark: Connected · {whose} · {region} · key `…{connection.fingerprint}` · by {who}{replaced}"
        f"{handoff}"
    )


def pending_line(view: ClinicView, connection: Connection) -> str | None:
    """A replacement key held for staff, in one line (None when nothing is held)."""
    held = connection.pending
    if held is None:
        return None
    by = view.name_of(connection.pending_by) if connection.pending_by else "someone"
    region = region_label(parse_region(held.key.region))
    whose = inert(held.identity.label)
    return (
        f":warning: *Replacement waiting for staff*: {by} entered key `…{held.key.fingerprint}` of "
        f"{whose} ({region}) — another Dentally practice or user. Accept or Reject it in the thread."
    )


def outcome(view: ClinicView) -> str:
    """The clinic's outcome in a few words; a replacement waiting for staff comes first."""
    connection = view.clinic.connection
    check = last_check(view.clinic)
    if connection is not None:
        held = pending_line(view, connection)
        line = connection_line(view, connection)
        return f"{held}\n{line}" if held else line
    if check is not None and check.verdict is Verdict.MISSING_SCOPES:
        missing = ", ".join(SCOPE_LABELS[scope] for scope in check.missing_scopes)
        return f":x: Missing permissions: {missing}"
    if check is not None and check.verdict is Verdict.INVALID_KEY:
        return ":x: Key not accepted by Dentally"
    if check is not None and check.verdict is Verdict.COULD_NOT_CHECK:
        return ":hourglass: Could not check yet"
    if check is not None and check.verdict is Verdict.COULD_NOT_PROVE:
        unproven = ", ".join(SCOPE_LABELS[scope] for scope in check.unknown_scopes) or "the permissions"
        return f":grey_question: Dentally's answers could not prove {unproven} — confirm with the clinic"
    if view.stuck:
        return ":sos: Stuck"
    return ":arrows_counterclockwise: In progress" if view.conversations else "Not started"


class Clinics:
    """Builds ``ClinicView``s from the store and each clinic's platform (names, thread links)."""

    def __init__(self, service: OnboardingService, platforms: Platforms) -> None:
        self._service = service
        self._platforms = platforms

    async def person(self, platform: str, user: str) -> str:
        """How support sees a clinic user: a Slack mention, or the name another platform knows them by."""
        served = self._platforms.get(platform)
        return await served.person(user) if served else f"`{user}`"

    async def view(self, platform: str, channel: str) -> ClinicView | None:
        """Everything support sees about a clinic, or None when it has no record."""
        clinic = await self._service.clinic(platform, channel)
        if clinic is None:
            return None
        conversations = await self._service.conversations(platform, clinic.team, channel) if clinic.team else []
        threads = [c for c in conversations if c.thread_ref]
        served = self._platforms.get(platform)
        link = await served.thread_link(threads[-1]) if threads and served else None
        names = {}
        users = {c.user for c in conversations}
        if clinic.connection is not None:
            users |= {clinic.connection.connected_by, clinic.connection.pending_by or clinic.connection.connected_by}
        for user in sorted(users):
            names[user] = await self.person(platform, user)
        return ClinicView(clinic, tuple(conversations), link, platform=platform, names=names)

    async def all(self) -> list[ClinicView]:
        """Every clinic of every platform this process serves, in the order the platforms were added."""
        views = []
        for platform in self._platforms.names:
            for clinic in await self._service.clinics(platform):
                view = await self.view(platform, clinic.channel)
                if view is not None:
                    views.append(view)
        return views

    async def find(self, name: str) -> ClinicView | None:
        """The one clinic whose name or channel name contains ``name`` (any platform), or None."""
        wanted = name.strip().lstrip("#").casefold()
        if not wanted:
            return None
        matches = [
            view
            for view in await self.all()
            if wanted in view.clinic.display_name.casefold() or wanted in (view.clinic.channel_name or "").casefold()
        ]
        exact = [view for view in matches if view.clinic.display_name.casefold() == wanted] or matches
        return exact[0] if len(exact) == 1 else None
