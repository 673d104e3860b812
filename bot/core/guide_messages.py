"""Every message a guide's own texts appear in, step by step: what both platforms' rendered-length checks render."""

from __future__ import annotations

from bot.core import messages as m
from bot.core.hours import LONGEST_PROMISE
from conversations.events import ClosedAs
from conversations.guide import Guide


def step_messages(guide: Guide, index: int, user: str) -> list[tuple[str, m.Outgoing]]:
    """The messages of step ``index`` addressed to ``user`` (the longest id the platform gives), with where each is."""
    step = guide.steps[index]
    where = f"step {step.id}"
    found: list[tuple[str, m.Outgoing]] = [
        (where, m.StepMessage(index, user, again=again, picture=picture))
        for again in (False, True)
        for picture in (True, False)
    ]
    found += [(f"{where} closed", m.ClosedStep(index, outcome)) for outcome in ClosedAs]
    found.append((f"{where} help coming", m.HelpComing(index, LONGEST_PROMISE)))
    found.append((f"{where} troubles", m.TroubleOffer(index, user)))
    for trouble in step.troubles:
        moved_to = guide.position(trouble.go_to) if trouble.go_to else None
        found.append((f"{where} trouble {trouble.id}", m.TroubleAnswer(index, trouble.id, user, moved_to)))
    found.append((f"{where} reminder", m.Reminder(index, user, 99)))
    return found
