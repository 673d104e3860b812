"""What Slack does with a body posted to a response_url: answer ephemerally or in the channel, replace or delete."""

from __future__ import annotations

from bot.fakes.slack.ids import with_ids
from bot.fakes.slack.records import JSON, Message, ResponseTarget
from bot.fakes.slack.state import State
from bot.fakes.slack.validation import validate_blocks


def respond(state: State, target: ResponseTarget, body: JSON, source: str) -> str:
    """Apply a body posted to ``target`` (or a command's ack) to what users see.

    Returns:
        The outcome: ``ephemeral``, ``in_channel``, ``replaced``, ``deleted``, or ``refused:<error>``.
    """
    ws = state.workspace
    original = state.find_message(target.message_ts) if target.message_ts and not target.is_ephemeral else None
    if body.get("delete_original"):
        _drop_original(state, target, original)
        return "deleted"
    blocks = body.get("blocks")
    if blocks is not None and validate_blocks(blocks):
        return "refused:invalid_blocks"
    text = body.get("text")
    if not text and not blocks:
        return "refused:no_text"
    if body.get("replace_original") and (original is not None or target.is_ephemeral):
        if original is not None:
            state.edit(original, text, blocks)
        else:
            _drop_original(state, target, None)
            state.add_ephemeral(target.channel, target.user, text, blocks, target.thread_ts, source)
        return "replaced"
    thread_ts = body.get("thread_ts") or target.thread_ts
    if body.get("response_type") == "in_channel":
        ts = state.next_ts()
        message = Message(
            target.channel, ts, ws.bot_user_id, ws.installing_team_id, text or "",
            with_ids(blocks or [], f"{target.channel}:{ts}"), ws.bot.bot_id, ws.app_id, thread_ts,
        )  # fmt: skip
        state.store(message)
        return "in_channel"
    state.add_ephemeral(target.channel, target.user, text, blocks, thread_ts, source)
    return "ephemeral"


def _drop_original(state: State, target: ResponseTarget, original: Message | None) -> None:
    if original is not None:
        original.deleted = True
        state.change("message_deleted", channel=original.channel, ts=original.ts)
    for ephemeral in state.ephemeral:
        if target.is_ephemeral and ephemeral.ts == target.message_ts:
            ephemeral.deleted = True
            state.change("ephemeral_deleted", user=ephemeral.user, ts=ephemeral.ts)
