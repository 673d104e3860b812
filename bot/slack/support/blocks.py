"""Pure renderers for Aldense support: the clinic status card, /aldense status replies and the App Home dashboard."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.core.clinics import (
    ClinicView,
    StatusCounts,
    attention,
    connection_line,
    dentally_user,
    duration,
    last_check,
    outcome,
    pending_line,
    time_per_step,
)
from bot.core.copy import Shown, moment
from bot.core.funnel import StepFunnel, funnel
from bot.core.messages import Standing
from bot.slack.blocks import Blocks, button
from bot.slack.mrkdwn import escape
from bot.slack.platform import PLATFORM as SLACK
from conversations.addresses import ConversationKey
from conversations.clinic import Clinic
from conversations.connection import Connection, ConnectionState, Decision, Identity, StoredCredential
from conversations.conversation import Conversation, Status
from conversations.guide import Guide
from dentally.regions import parse_region, region_label
from dentally.scopes import SCOPE_LABELS, ScopeStatus

ACTION_RECHECK = "staff_recheck"
ACTION_RESEND_HANDOFF = "staff_resend_handoff"
ACTION_RESET = "staff_reset"
ACTION_OPEN_THREAD = "staff_open_thread"
ACTION_ACCEPT_KEY = "staff_accept_key"
ACTION_REJECT_KEY = "staff_reject_key"
ACTION_HELP_GIVEN = "staff_help_given"
RESET_VIEW = "staff_reset_confirm"
FORGET_VIEW = "staff_forget_confirm"
FORGET_TELL_BLOCK = "forget_tell"
FORGET_TELL_ACTION = "forget_tell"
FORGET_TELL_VALUE = "tell"
BLOCK_RESET_SCOPE = "reset_scope"
ACTION_RESET_SCOPE = "reset_scope_choice"
RESET_GUIDES = "guides"
RESET_CONNECTION = "connection"
RESET_PERSON = "person:"
"""Prefix of the scope value that resets one person's guide (``person:<user id>``)."""

# Slack allows 50 blocks in a message; the status list keeps room for its header and footer.
MAX_LISTED = 40


def place(view: ClinicView) -> str:
    """The clinic's channel in Slack text: a channel mention on Slack, its name elsewhere."""
    if view.platform == SLACK:
        return f"<#{view.clinic.channel}>"
    return f"*{escape(view.clinic.channel_name)}*" if view.clinic.channel_name else "their channel"


def name(clinic: Clinic) -> Shown:
    """The clinic's name (Dentally's practice name, else its channel's) as inert Slack text."""
    return escape(clinic.display_name)


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


def help_page_actions(key: ConversationKey, asked_at: float) -> dict[str, Any]:
    """The page's **Resolved** button; its value names the conversation and which request (when it was made)."""
    value = json.dumps({"p": key.platform, "t": key.team, "c": key.channel, "u": key.user, "a": asked_at})
    return {
        "type": "actions",
        "block_id": "sos:actions",
        "elements": [button("Resolved", ACTION_HELP_GIVEN, value, style="primary")],
    }


def parse_help_value(value: str) -> tuple[ConversationKey, float] | None:
    """The conversation and request named by a Resolved button's value; None when it names none we wrote."""
    try:
        fields = json.loads(value)
        key = ConversationKey(str(fields["p"]), str(fields["t"]), str(fields["c"]), str(fields["u"]))
        asked_at = float(fields["a"])
    except (ValueError, TypeError, KeyError):
        return None
    ids = (key.platform, key.team, key.channel, key.user)
    return (key, asked_at) if all(_ID.match(part) for part in ids) else None


def help_page_resolved(by: str, waited: float | None) -> Blocks:
    """What replaces the page's Resolved button once a staff member pressed it."""
    how = "(it was already closed: answered in the thread, connected or reset)"
    if waited is not None:
        how = f"after {duration(waited)}"
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": f":white_check_mark: Resolved by {by} {how}"}]}]


def when(timestamp: float, style: str = "{ago}") -> str:
    """A Slack date token that each reader sees in their own time zone (``{ago}``: "3 minutes ago")."""
    return f"<!date^{int(timestamp)}^{style}|{_utc(timestamp)}>"


def _utc(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _person(guide: Guide, view: ClinicView, conversation: Conversation) -> str:
    index = guide.index_of(conversation.step_id)
    line = f"{person(view, conversation.user)} — step {index + 1}/{guide.step_count} *{guide.steps[index].title}*"
    if conversation.handed_to is not None and not conversation.in_progress:
        line += f" · :handshake: handed over to {person(view, conversation.handed_to)}"
    elif conversation.status is not Status.ACTIVE:
        line += f" · {view.standing_of(conversation)}"
    if conversation.taken_from is not None and conversation.in_progress:
        line += f" · carrying on for {person(view, conversation.taken_from)}"
    if conversation.stuck_at is not None and conversation in view.waiting:
        line += f" · :sos: waiting for help since {when(conversation.stuck_at)}"
    spent = time_per_step(guide, conversation)
    current = conversation.steps.get(conversation.step_id)
    on_it = ""
    if conversation.in_progress and current is not None and current.done is None:
        on_it = f"on {index + 1} since {when(current.reached)}"
    if spent or on_it:
        line += "\n:stopwatch: " + " · ".join(part for part in (spent, on_it) if part)
    return line


def status_card(guide: Guide, view: ClinicView) -> tuple[str, Blocks]:
    """The clinic's live status card in the onboarding channel (edited in place)."""
    people = "\n".join(_person(guide, view, c) for c in view.conversations) or "_No one has started yet._"
    needs = attention(view, guide, lambda at: f"since {when(at)}")
    fallback = f"{name(view.clinic)}: {needs[0] if needs else outcome(view)}"
    card: Blocks = []
    if needs:
        card.append(
            {"type": "section", "block_id": "card:attention", "text": {"type": "mrkdwn", "text": "\n".join(needs)}}
        )
    user = dentally_user(view)
    card += [
        {
            "type": "section",
            "block_id": "card:title",
            "text": {
                "type": "mrkdwn",
                "text": (f":tooth: *{escape(view.clinic.name)}* · " if view.clinic.name else ":tooth: ")
                + f"Dentally setup in {place(view)} · {view.platform_label}",
            },
        },
        {
            "type": "section",
            "block_id": "card:outcome",
            "text": {"type": "mrkdwn", "text": outcome(view) + (f"\n{user}" if user else "")},
        },
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


def _identity_field(title: str, view: ClinicView, key: StoredCredential, identity: Identity, by: str | None) -> str:
    region = region_label(parse_region(key.region))
    who = f"\nentered by {person(view, by)} on {moment(key.verified_at)}" if by else ""
    return f"*{title}*\n{escape(identity.label)}\n{region} · key `…{key.fingerprint}`{who}"


def connection_note(view: ClinicView, standing: Standing) -> tuple[str, Blocks | None] | None:
    """What support reads when a verified key changed the connection; a held key gets both identities and buttons.

    Returns:
        The text and extra blocks for the support thread, or None when nothing changed worth a line (the key in
        use verified again).
    """
    connection = standing.connection
    by = person(view, connection.connected_by)
    if standing.decision is Decision.CONNECT:
        return (
            f":link: Dentally connected by {by}: {escape(connection.identity.label)}, key `…{connection.fingerprint}`.",
            None,
        )
    if standing.decision is Decision.REPLACE:
        return (
            f":arrows_counterclockwise: {by} replaced the key: `…{connection.fingerprint}` (same Dentally user and "
            f"practice: {escape(connection.identity.label)}) replaces `…{connection.replaced_fingerprint}`. "
            "The clinic was reminded to revoke the old key.",
            None,
        )
    held = connection.pending
    if standing.decision is not Decision.HOLD or held is None:
        return None
    text = (
        f":warning: *A key of another Dentally practice or user is waiting for staff* in {place(view)}. Nothing "
        "has changed and nothing was handed off: the current connection stays until a staff member accepts."
    )
    ref = clinic_ref(view.platform, view.clinic.channel)
    extra: Blocks = [
        {
            "type": "section",
            "block_id": "held:identities",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": _identity_field("Connected now", view, connection.key, connection.identity, None)
                    + f"\nby {by} on {moment(connection.connected_at)}",
                },
                {
                    "type": "mrkdwn",
                    "text": _identity_field("Waiting", view, held.key, held.identity, connection.pending_by),
                },
            ],
        },
        {
            "type": "actions",
            "block_id": "held:actions",
            "elements": [
                button("Accept the new key", ACTION_ACCEPT_KEY, ref, style="primary"),
                button("Reject it", ACTION_REJECT_KEY, ref, style="danger"),
            ],
        },
    ]
    return text, extra


def replacement_decided(accepted: bool, staff: str, fingerprint: str) -> str:
    """The held-key alert once a staff member decided (its buttons retire)."""
    if accepted:
        return f":white_check_mark: <@{staff}> accepted key `…{fingerprint}`: it is now the clinic's connection."
    return f":no_entry: <@{staff}> rejected key `…{fingerprint}`: the connection stays as it was."


def status_list(guide: Guide, counts: StatusCounts, now: float) -> tuple[str, Blocks]:
    """``/aldense status``: clinics waiting for help, then in progress longest idle first, within Slack's limit."""
    ordered = sorted(counts.listed, key=lambda view: (not view.stuck, view.idle_since()))
    verified_count = counts.verified
    if not ordered:
        text = f"No clinic is in the middle of Dentally setup. ({verified_count} verified so far.)"
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    waiting = f" · :sos: {counts.waiting} waiting for help" if counts.waiting else ""
    header = (
        f"*{counts.in_progress} clinic(s) in progress* · {verified_count} verified{waiting} — waiting first, then "
        "longest idle"
    )
    listing: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": header}}, {"type": "divider"}]
    for view in ordered[:MAX_LISTED]:
        leader = max(view.conversations, key=lambda c: guide.index_of(c.step_id), default=None)
        step = f"step {guide.index_of(leader.step_id) + 1}/{guide.step_count}" if leader else "not started"
        flag = f" · :sos: waiting for help {duration(now - (view.waiting[0].stuck_at or now))}" if view.stuck else ""
        line = (
            f"*{name(view.clinic)}* ({place(view)} · {view.platform_label}) · {step} · idle "
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
    return f"{counts.in_progress} clinic(s) in progress · {verified_count} verified{waiting}", listing


def clinic_detail(guide: Guide, view: ClinicView, now: float) -> tuple[str, Blocks]:
    """``/aldense status #channel``: one clinic in detail, with the time each person spent on each step."""
    clinic = view.clinic
    needs = attention(view, guide, lambda at: f"for {duration(now - at)}")
    user = dentally_user(view)
    head = f":tooth: *{name(clinic)}* ({place(view)} · {view.platform_label})\n" + "\n".join(
        [*needs, outcome(view), *([user] if user else [])]
    )
    detail: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": head[:2900]}}]
    for conversation in view.conversations:
        lines = [_person(guide, view, conversation).split("\n")[0], f"Started {when(conversation.started_at)}"]
        lines += step_lines(guide, conversation, now)
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
    return f"{name(clinic)}: {outcome(view)}", detail[:50]


def step_lines(guide: Guide, conversation: Conversation, now: float) -> list[str]:
    """One line per step reached: the time spent on it (still on it: for how long so far)."""
    lines = []
    for index, step in enumerate(guide.steps):
        times = conversation.steps.get(step.id)
        if times is None:
            continue
        if times.done is not None:
            lines.append(f"• {index + 1}. {step.title}: {duration(times.done - times.reached)}")
        elif conversation.in_progress and conversation.step_id == step.id:
            lines.append(f"• {index + 1}. {step.title}: on it for {duration(now - times.reached)}")
        else:
            lines.append(f"• {index + 1}. {step.title}: not finished")
    return lines


def reset_confirmation(
    platform: str,
    channel: str,
    clinic_name: str,
    connection: str | None = None,
    people: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The modal that confirms a reset of the clinic at ``platform``/``channel``, saying exactly what it resets.

    Args:
        platform: The clinic's platform.
        channel: The clinic's channel.
        clinic_name: How the clinic is named.
        connection: The clinic's connection in one line, when it has one (the modal then offers to reset it too).
        people: (user id, how support sees them) of each person with a guide there: one option each to reset only
            that person's guide (when there are several).
    """
    guides = {
        "text": {"type": "mrkdwn", "text": "*Everyone's guide only*"},
        "description": {
            "type": "mrkdwn",
            "text": "Each person's progress is cleared. "
            + ("The Dentally connection is *kept*." if connection else "Nothing is connected yet."),
        },
        "value": RESET_GUIDES,
    }
    text = f"Reset the Dentally guide for *{escape(clinic_name)}*?"
    if connection:
        text += f"\n{connection}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    options = [guides]
    kept = "The Dentally connection and everyone else's guide are *kept*."
    if len(people) > 1:
        options += [
            {
                "text": {"type": "mrkdwn", "text": f"*Only {name}'s guide*"[:75]},  # ``name``: support's own rendering
                "description": {"type": "mrkdwn", "text": kept if connection else "Everyone else's guide is kept."},
                "value": f"{RESET_PERSON}{user}",
            }
            for user, name in people[:8]
        ]
    if connection:
        options.append(
            {
                "text": {"type": "mrkdwn", "text": "*Guides and the clinic's connection*"},
                "description": {
                    "type": "mrkdwn",
                    "text": "The stored key is forgotten (revoke it in Dentally too) and the clinic is asked to "
                    "connect again.",
                },
                "value": RESET_CONNECTION,
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": BLOCK_RESET_SCOPE,
            "label": {"type": "plain_text", "text": "What to reset"},
            "element": {
                "type": "radio_buttons",
                "action_id": ACTION_RESET_SCOPE,
                "options": options,
                "initial_option": guides,
            },
        }
    )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "The clinic is told in each thread exactly what was reset."},
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": RESET_VIEW,
        "private_metadata": json.dumps({"channel": channel, "platform": platform}),
        "title": {"type": "plain_text", "text": "Reset guide?"},
        "submit": {"type": "plain_text", "text": "Reset"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def forget_confirmation(platform: str, channel: str, clinic_name: str, conversations: int, key: bool) -> dict[str, Any]:
    """The modal that confirms erasing everything stored about the clinic at ``platform``/``channel``."""
    stored = f"{conversations} guide(s)" + (", the clinic record and its stored Dentally key" if key else "")
    return {
        "type": "modal",
        "callback_id": FORGET_VIEW,
        "private_metadata": json.dumps({"channel": channel, "platform": platform}),
        "title": {"type": "plain_text", "text": "Forget this clinic?"},
        "submit": {"type": "plain_text", "text": "Erase"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Erase everything Aldense Guide stores about *{clinic_name}*: {stored}, its reminders "
                    "and keep-alive, and the names it remembers. This cannot be undone; the status card will say "
                    "who erased it and when.",
                },
            },
            {
                "type": "input",
                "block_id": FORGET_TELL_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "The clinic"},
                "element": {
                    "type": "checkboxes",
                    "action_id": FORGET_TELL_ACTION,
                    "options": [
                        {
                            "text": {"type": "plain_text", "text": "Tell the clinic's channel politely"},
                            "value": FORGET_TELL_VALUE,
                        }
                    ],
                },
            },
        ],
    }


def forget_tells_clinic(view: dict[str, Any]) -> bool:
    """Whether the submitted confirmation's "tell the clinic" box is ticked."""
    values = ((view.get("state") or {}).get("values") or {}).get(FORGET_TELL_BLOCK) or {}
    chosen = (values.get(FORGET_TELL_ACTION) or {}).get("selected_options") or []
    return any(isinstance(option, dict) and option.get("value") == FORGET_TELL_VALUE for option in chosen)


def home_for_staff(
    guide: Guide, conversations: Sequence[Conversation], views: Sequence[ClinicView], now: float
) -> dict[str, Any]:
    """The App Home dashboard: the funnel, clinics stuck or idle longest, the clinics' Dentally connections."""
    rows = [_funnel_row(row, guide.step_count) for row in funnel(guide, conversations)]
    waiting = sorted((v for v in views if v.stuck or not v.verified), key=lambda v: (not v.stuck, v.idle_since()))[:8]
    waiting_lines = "\n".join(
        (
            f":sos: *{name(v.clinic)}* ({place(v)} · {v.platform_label}) · waiting for help "
            f"{duration(now - (v.waiting[0].stuck_at or now))} · {v.name_of(v.waiting[0].user)}"
            if v.stuck
            else f"*{name(v.clinic)}* ({place(v)} · {v.platform_label}) · idle {duration(now - v.idle_since())}"
        )
        + f" · {outcome(v)}"
        for v in waiting
    )
    connections = sorted(
        ((v, v.clinic.connection) for v in views if v.clinic.connection is not None),
        key=lambda pair: (_settled(pair[1]), -pair[1].connected_at),
    )[:8]
    connection_lines = "\n".join(
        f"*{name(v.clinic)}* · {connection_line(v, connection)}"
        + (f"\n{pending}" if (pending := pending_line(v, connection)) else "")
        for v, connection in connections
    )
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Aldense Guide — Dentally onboarding"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Funnel* ({len(conversations)} guides): per step, who reached it, the median time on "
                    "it, how many went no further, the troubles picked and the people who still asked Aldense.",
                },
            },
            *rows,
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
                "text": {
                    "type": "mrkdwn",
                    "text": "*Connections* (needing attention first)\n" + (connection_lines or "_None yet._"),
                },
            },
        ],
    }


def _funnel_row(row: StepFunnel, steps: int) -> dict[str, Any]:
    """One step of the funnel in App Home: its whole title (never cut), its figures, and what was sought on it."""
    median = duration(row.median_seconds) if row.median_seconds is not None else "—"
    lines = [
        f"*{row.index + 1}/{steps} {escape(row.title, limit=300)}* · reached {row.reached} · median {median} · "
        f"went no further {row.dropped}"
    ]
    if row.troubles:
        picked = ", ".join(f"{escape(t.label, limit=150)} ×{t.guides}" for t in row.troubles)
        lines.append(f":bulb: Troubles picked: {picked}")
    if row.asked_a_person:
        after = f" ({row.asked_after_a_trouble} after picking a trouble)" if row.asked_after_a_trouble else ""
        lines.append(f":raising_hand: Still asked a person: {row.asked_a_person}{after}")
    return {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}


def _settled(connection: Connection) -> bool:
    """Whether a connection needs nobody: connected, nothing pending, its key neither exposed nor unreadable."""
    key = connection.key
    return (
        connection.state is ConnectionState.CONNECTED
        and connection.pending is None
        and key.exposed_at is None
        and key.undecryptable_at is None
    )


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
