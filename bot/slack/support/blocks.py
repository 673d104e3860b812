"""Pure renderers for Aldense support: the clinic status card, /aldense status replies and the App Home dashboard."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from typing import Any

from bot.core.clinics import ClinicView, duration, last_check, outcome
from bot.slack.blocks import Blocks, button
from bot.slack.platform import PLATFORM as SLACK
from conversations.clinic import Clinic
from conversations.conversation import Conversation, Status
from conversations.guide import Guide
from dentally.scopes import SCOPE_LABELS, ScopeStatus

ACTION_RECHECK = "staff_recheck"
ACTION_RESEND_HANDOFF = "staff_resend_handoff"
ACTION_RESET = "staff_reset"
ACTION_OPEN_THREAD = "staff_open_thread"
RESET_VIEW = "staff_reset_confirm"

# Slack allows 50 blocks in a message; the status list keeps room for its header and footer.
MAX_LISTED = 40


def place(view: ClinicView) -> str:
    """The clinic's channel in Slack text: a channel mention on Slack, its name elsewhere."""
    if view.platform == SLACK:
        return f"<#{view.clinic.channel}>"
    return f"*{view.clinic.channel_name}*" if view.clinic.channel_name else "their channel"


def person(view: ClinicView, user: str) -> str:
    """How support sees ``user``: a Slack mention, or the name another platform knows them by."""
    return view.names.get(user) or (f"<@{user}>" if view.platform == SLACK else "a clinic user")


def clinic_ref(platform: str, channel: str) -> str:
    """A clinic named in a button value: a Slack channel id as it is, another platform's as ``platform|channel``."""
    return channel if platform == SLACK else f"{platform}|{channel}"


_ID = re.compile(r"^[A-Za-z0-9_.:@;=%-]{1,200}$")


def parse_clinic_ref(value: str) -> tuple[str, str] | None:
    """The (platform, channel) named by ``clinic_ref``; None when ``value`` names no clinic we could have written."""
    platform, separator, channel = value.partition("|")
    platform, channel = (platform, channel) if separator else (SLACK, value)
    return (platform, channel) if _ID.match(platform) and _ID.match(channel) else None


def when(timestamp: float, style: str = "{ago}") -> str:
    """A Slack date token that each reader sees in their own time zone (``{ago}``: "3 minutes ago")."""
    return f"<!date^{int(timestamp)}^{style}|{_utc(timestamp)}>"


def _utc(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _person(guide: Guide, view: ClinicView, conversation: Conversation) -> str:
    index = guide.index_of(conversation.step_id)
    line = f"{person(view, conversation.user)} — step {index + 1}/{guide.step_count} *{guide.steps[index].title}*"
    if conversation.status is not Status.ACTIVE:
        line += f" · {conversation.status.value.replace('_', ' ')}"
    if conversation.stuck_at is not None and conversation.in_progress:
        line += f" · :sos: stuck since {when(conversation.stuck_at, '{time}')}"
    return line


def status_card(guide: Guide, view: ClinicView) -> tuple[str, Blocks]:
    """The clinic's live status card in the onboarding channel (edited in place)."""
    name = view.clinic.display_name
    people = "\n".join(_person(guide, view, c) for c in view.conversations) or "_No one has started yet._"
    fallback = f"{name}: {outcome(view)}"
    card: Blocks = [
        {
            "type": "section",
            "block_id": "card:title",
            "text": {
                "type": "mrkdwn",
                "text": (f":tooth: *{view.clinic.name}* · " if view.clinic.name else ":tooth: ")
                + f"Dentally setup in {place(view)} · {view.platform_label}",
            },
        },
        {"type": "section", "block_id": "card:outcome", "text": {"type": "mrkdwn", "text": outcome(view)}},
        {"type": "section", "block_id": "card:people", "text": {"type": "mrkdwn", "text": people[:2900]}},
        {
            "type": "context",
            "block_id": "card:times",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Started {when(view.started)} · last activity {when(view.last_activity)}"
                    + _keepalive_note(view.clinic),
                }
            ],
        },
    ]
    actions = _card_buttons(view)
    if actions:
        card.append({"type": "actions", "block_id": "card:actions", "elements": actions})
    return fallback, card


def _keepalive_note(clinic: Clinic) -> str:
    credential = clinic.credential
    if credential is None or credential.last_keepalive is None:
        return ""
    return f" · key kept alive {when(credential.last_keepalive)} ({credential.keepalive_result or 'ok'})"


def _card_buttons(view: ClinicView) -> list[dict[str, Any]]:
    channel = clinic_ref(view.platform, view.clinic.channel)
    buttons = []
    if view.clinic.credential is not None:
        buttons.append(button("Re-check key", ACTION_RECHECK, channel))
        if view.clinic.credential.handoff == "failed":
            buttons.append(button("Re-send hand-off", ACTION_RESEND_HANDOFF, channel))
    if view.conversations:
        buttons.append(button("Reset guide", ACTION_RESET, channel, style="danger"))
    if view.thread_link:
        link = button("Open clinic thread", ACTION_OPEN_THREAD, channel)
        link["url"] = view.thread_link
        buttons.append(link)
    return buttons


def status_list(guide: Guide, views: Sequence[ClinicView], now: float, verified_count: int) -> tuple[str, Blocks]:
    """``/aldense status``: clinics in progress, longest idle first, within Slack's block limit."""
    ordered = sorted(views, key=lambda view: view.idle_since())
    if not ordered:
        text = f"No clinic is in the middle of Dentally setup. ({verified_count} verified so far.)"
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    header = f"*{len(ordered)} clinic(s) in progress*, longest idle first · {verified_count} verified"
    listing: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": header}}, {"type": "divider"}]
    for view in ordered[:MAX_LISTED]:
        leader = max(view.conversations, key=lambda c: guide.index_of(c.step_id), default=None)
        step = f"step {guide.index_of(leader.step_id) + 1}/{guide.step_count}" if leader else "not started"
        flag = " · :sos: stuck" if view.stuck else ""
        line = (
            f"*{view.clinic.display_name}* ({place(view)} · {view.platform_label}) · {step} · idle "
            f"{duration(now - view.idle_since())}{flag}\n{outcome(view)}"
        )
        listing.append({"type": "section", "text": {"type": "mrkdwn", "text": line}})
    if len(ordered) > MAX_LISTED:
        more = len(ordered) - MAX_LISTED
        listing.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"…and {more} more clinic(s) not shown (Slack shows at most {MAX_LISTED} here). "
                        "Use `/aldense status #channel` for any one clinic.",
                    }
                ],
            }
        )
    return f"{len(ordered)} clinic(s) in progress", listing


def clinic_detail(guide: Guide, view: ClinicView) -> tuple[str, Blocks]:
    """``/aldense status #channel``: one clinic in detail."""
    clinic = view.clinic
    detail: Blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f":tooth: *{clinic.display_name}* ({place(view)} · {view.platform_label})\n{outcome(view)}",
            },
        }
    ]
    for conversation in view.conversations:
        lines = [_person(guide, view, conversation), f"Started {when(conversation.started_at, '{date_short} {time}')}"]
        for step in guide.steps:
            times = conversation.steps.get(step.id)
            if times is None:
                continue
            done = f" → done {when(times.done, '{time}')}" if times.done else ""
            lines.append(f"• {step.title}: reached {when(times.reached, '{date_short} {time}')}{done}")
        detail.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    check = last_check(clinic)
    if check is not None:
        marks = {
            ScopeStatus.GRANTED: ":white_check_mark:",
            ScopeStatus.MISSING: ":x:",
            ScopeStatus.UNKNOWN: ":grey_question:",
        }
        scopes = "\n".join(f"{marks[c.status]} {SCOPE_LABELS[c.scope]} (`{c.scope}`)" for c in check.scopes)
        detail.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Last check* ({check.verdict.value.replace('_', ' ')}):\n{scopes}",
                },
            }
        )
    credential = clinic.credential
    if credential is not None:
        kept = when(credential.last_keepalive) if credential.last_keepalive else "not yet"
        detail.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Stored key `…{credential.fingerprint}` · verified {when(credential.verified_at)} "
                        f"by {person(view, credential.verified_by)} · last keep-alive {kept}",
                    }
                ],
            }
        )
    return f"{clinic.display_name}: {outcome(view)}", detail[:50]


def reset_confirmation(platform: str, channel: str, clinic_name: str) -> dict[str, Any]:
    """The modal that confirms a guide reset of the clinic at ``platform``/``channel``."""
    return {
        "type": "modal",
        "callback_id": RESET_VIEW,
        "private_metadata": json.dumps({"channel": channel, "platform": platform}),
        "title": {"type": "plain_text", "text": "Reset guide?"},
        "submit": {"type": "plain_text", "text": "Reset"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Reset the Dentally guide for *{clinic_name}*? Everyone's progress there is cleared and "
                    "the clinic is told politely that they can start afresh. A stored key is kept.",
                },
            }
        ],
    }


def home_for_staff(
    guide: Guide, conversations: Sequence[Conversation], views: Sequence[ClinicView], now: float
) -> dict[str, Any]:
    """The App Home dashboard: the funnel, clinics stuck or idle longest, latest verifications."""
    reached = [sum(1 for c in conversations if step.id in c.steps) for step in guide.steps]
    rows = []
    for index, step in enumerate(guide.steps):
        spent = [t.done - t.reached for c in conversations if (t := c.steps.get(step.id)) and t.done is not None]
        median = duration(statistics.median(spent)) if spent else "—"
        following = reached[index + 1] if index + 1 < len(reached) else None
        drop = reached[index] - following if following is not None else 0
        rows.append(f"{index + 1:>2}. {step.title[:34]:<34} {reached[index]:>5} {median:>7} {drop:>5}")
    funnel = "```\n    Step                                reached  median  drop\n" + "\n".join(rows) + "\n```"
    waiting = sorted((v for v in views if not v.verified), key=lambda v: (not v.stuck, v.idle_since()))[:8]
    waiting_lines = "\n".join(
        f"{':sos: ' if v.stuck else ''}*{v.clinic.display_name}* ({place(v)} · {v.platform_label}) · idle "
        f"{duration(now - v.idle_since())} · {outcome(v)}"
        for v in waiting
    )
    credentials = sorted(
        ((v.clinic.display_name, v.clinic.credential) for v in views if v.clinic.credential is not None),
        key=lambda pair: -pair[1].verified_at,
    )[:8]
    verified_lines = "\n".join(
        f"*{name}* · {when(credential.verified_at)} · key `…{credential.fingerprint}`"
        for name, credential in credentials
    )
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Aldense Guide — Dentally onboarding"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Funnel* ({len(conversations)} guides)\n{funnel}"},
            },
            {"type": "divider"},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Stuck or idle longest*\n" + (waiting_lines or "_Nobody is waiting._"),
                },
            },
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Latest verifications*\n" + (verified_lines or "_None yet._")},
            },
        ],
    }


def home_for_others() -> dict[str, Any]:
    """App Home for anyone outside Aldense: a short explanation."""
    return {
        "type": "home",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Aldense Guide* helps your practice connect Dentally to Aldense. Your guide runs in the "
                    "channel you share with Aldense — look for the *Start Dentally setup* button there.",
                },
            }
        ],
    }
