"""The guide's funnel from stored conversations: per step, reached, time on it, drop-off, troubles, people asked."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from conversations.conversation import Conversation
from conversations.guide import Guide


@dataclass(frozen=True, slots=True)
class TroubleCount:
    """How many guides picked one trouble of a step (``label`` is the trouble's id once an edit removed it)."""

    trouble_id: str
    label: str
    guides: int


@dataclass(frozen=True, slots=True)
class StepFunnel:
    """One step's row of the funnel."""

    index: int
    title: str
    reached: int
    """Guides that reached the step."""
    median_seconds: float | None
    """Median time from reaching the step to finishing it (None until someone finished it)."""
    dropped: int
    """Guides that reached the step but not the next one (0 for the last step; never below 0, though a run that
    starts at a later step, as a new key does, reaches that step without the ones before it)."""
    troubles: tuple[TroubleCount, ...]
    """The troubles picked on the step, most picked first."""
    asked_a_person: int
    """Guides that asked Aldense for help on the step."""
    asked_after_a_trouble: int
    """Of those, the guides that had also picked one of the step's troubles."""


def funnel(guide: Guide, conversations: Sequence[Conversation]) -> list[StepFunnel]:
    """The funnel of ``guide`` over ``conversations`` (their steps are matched by id, so edits move nobody)."""
    reached = [sum(1 for c in conversations if step.id in c.steps) for step in guide.steps]
    rows = []
    for index, step in enumerate(guide.steps):
        times = [t for c in conversations if (t := c.steps.get(step.id)) is not None]
        spent = [t.done - t.reached for t in times if t.done is not None]
        picked: Counter[str] = Counter(trouble_id for t in times for trouble_id in t.troubles)
        labels = {trouble.id: trouble.label for trouble in step.troubles}
        troubles = tuple(
            TroubleCount(trouble_id, labels.get(trouble_id, trouble_id), count)
            for trouble_id, count in sorted(picked.items(), key=lambda item: (-item[1], item[0]))
        )
        asked = [t for t in times if t.asked_help > 0]
        rows.append(
            StepFunnel(
                index=index,
                title=step.title,
                reached=reached[index],
                median_seconds=statistics.median(spent) if spent else None,
                dropped=max(0, reached[index] - reached[index + 1]) if index + 1 < len(reached) else 0,
                troubles=troubles,
                asked_a_person=len(asked),
                asked_after_a_trouble=sum(1 for t in asked if t.troubles),
            )
        )
    return rows
