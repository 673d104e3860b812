"""Replays any event sequence through the guide machine, checking what every state it reaches must keep true."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from conversations.addresses import ConversationKey
from conversations.conversation import Conversation
from conversations.events import CloseStep, Event, StepPosted
from conversations.guide import Guide
from conversations.machine import IllegalMove, Transition, apply


def replay(
    guide: Guide, key: ConversationKey, sequence: Sequence[Event]
) -> Iterator[tuple[Conversation, Transition, dict[str, str]]]:
    """Apply ``sequence``, skipping illegal moves; yield each state, its transition and the posted step messages.

    Every ``StepPosted`` gets a message ref of its own (``m<position>``), so a ref names one step. Checked for
    every state: it survives its JSON, it knows only the guide's steps, and nothing closes a message as another
    step than the one it was posted for.
    """
    step_ids = {step.id for step in guide.steps}
    state: Conversation | None = None
    posted: dict[str, str] = {}
    for number, event in enumerate(sequence):
        if isinstance(event, StepPosted):
            event = StepPosted(event.step_id, f"m{number}")
            posted[event.ref] = event.step_id
        try:
            transition = apply(guide, key, state, event)
        except IllegalMove:
            continue
        state = transition.state
        assert Conversation.from_json(state.to_json()) == state
        assert set(state.steps) <= step_ids
        for effect in transition.effects:
            if isinstance(effect, CloseStep) and effect.ref is not None:
                assert posted[effect.ref] == effect.step_id, "closing a message as the wrong step"
        yield state, transition, posted
