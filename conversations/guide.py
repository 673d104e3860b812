"""Guide definitions: the data model of a guide and its loader, which rejects a broken guide at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

GUIDES_DIR = Path(__file__).parent / "guides"
DEFAULT_GUIDE = GUIDES_DIR / "dentally-key" / "guide.yaml"

_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# A picture's first bytes by suffix: an empty file or a saved error page must fail at start-up, not when posted.
_PICTURE_SIGNATURES = {
    ".png": ("PNG", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("JPEG", (b"\xff\xd8\xff",)),
    ".jpeg": ("JPEG", (b"\xff\xd8\xff",)),
    ".gif": ("GIF", (b"GIF87a", b"GIF89a")),
}
_PICTURE_SUFFIXES = tuple(_PICTURE_SIGNATURES)
_TROUBLE_FIELDS = ("id", "label", "answer", "go_to", "hand_over")


class GuideError(ValueError):
    """A guide file that cannot be used; the message names the guide and the step."""


class StepAction(StrEnum):
    """What finishing a step means."""

    NEXT = "next"
    ENTER_KEY = "enter_key"


@dataclass(frozen=True, slots=True)
class TextLimits:
    """Longest texts a chat platform shows in a step message; the defaults are Slack's Block Kit limits."""

    title: int = 150
    text: int = 3000
    alt: int = 2000
    summary: int = 3000


TROUBLE_LABEL_LIMIT = 75
"""The longest trouble label: Slack's limit for a button's text (Teams draws the same label on its button)."""
TROUBLES_PER_STEP = 4
"""The most troubles a step may list: with "Still stuck — ask Aldense" the offer then has at most five buttons."""
TROUBLE_ANSWER_LIMIT = 1500
"""The longest answer to a trouble: it shares one message section with the trouble's label and a short lead-in."""


@dataclass(frozen=True, slots=True)
class Trouble:
    """A common problem on a step, as the clinic would say it, with a short answer.

    ``go_to`` moves the guide to that step once the answer is shown; ``hand_over`` offers the "someone else has
    the Dentally login" hand-over beside the answer.
    """

    id: str
    label: str
    answer: str
    go_to: str | None = None
    hand_over: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """One step: a title, a short text, one picture with alt text, and what finishing it means."""

    id: str
    title: str
    text: str
    image: str
    alt: str
    action: StepAction = StepAction.NEXT
    seconds: int = 60
    """About how long the step takes a first-timer (from the guide's ``step_seconds``)."""
    troubles: tuple[Trouble, ...] = ()
    """Common problems on this step, offered by "I'm stuck" before a person is asked."""

    def trouble(self, trouble_id: str) -> Trouble | None:
        """The trouble called ``trouble_id``, or None when this step lists none by that id (now)."""
        return next((trouble for trouble in self.troubles if trouble.id == trouble_id), None)


@dataclass(frozen=True, slots=True)
class Guide:
    """A validated guide: an ordered list of steps plus the folder its pictures live in."""

    id: str
    version: int
    title: str
    summary: str
    estimated_minutes: int
    steps: tuple[Step, ...]
    images_dir: Path
    new_key_step: str

    @property
    def step_count(self) -> int:
        """How many steps the guide has."""
        return len(self.steps)

    def index_of(self, step_id: str) -> int:
        """Position of ``step_id`` (0-based); raises ``KeyError`` for an unknown id."""
        position = self.position(step_id)
        if position is None:
            raise KeyError(step_id)
        return position

    def position(self, step_id: str) -> int | None:
        """Where ``step_id`` stands, 0-based ("Step 3 of 9" is 2); None when the guide has no such step (now)."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        return None

    def seconds_left(self, index: int) -> int:
        """About how long step ``index`` (0-based) and every step after it take."""
        return sum(step.seconds for step in self.steps[index:])

    def image_path(self, step: Step) -> Path:
        """Where the picture of ``step`` is on disk."""
        return self.images_dir / step.image


def load_guide(path: Path | str = DEFAULT_GUIDE, limits: TextLimits | None = None) -> Guide:
    """Load and validate a guide file.

    Args:
        path: The guide's YAML file; its pictures are in ``images/`` beside it.
        limits: Text limits of the platform the guide is shown on.

    Returns:
        The guide.

    Raises:
        GuideError: With every problem found, each naming the guide and step.
    """
    path = Path(path)
    limits = limits or TextLimits()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GuideError(f"guide {path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise GuideError(f"guide {path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise GuideError(f"guide {path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise GuideError(f"guide {path}: expected a mapping at the top")
    return _GuideReader(path, raw, limits).read()


class _GuideReader:
    """Turns a parsed guide file into a ``Guide``, collecting every problem before failing."""

    def __init__(self, path: Path, raw: dict[str, Any], limits: TextLimits) -> None:
        self._path = path
        self._raw = raw
        self._limits = limits
        self._name = str(raw.get("id") or path)
        self._problems: list[str] = []

    def read(self) -> Guide:
        raw = self._raw
        guide_id = self._text(raw, "id", "guide", limit=64)
        if guide_id and not _STEP_ID.match(guide_id):
            self._problem("guide", "id must be lower-case letters, digits and dashes")
        version = raw.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self._problem("guide", "version must be a whole number of 1 or more")
            version = 1
        minutes = raw.get("estimated_minutes", 5)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
            self._problem("guide", "estimated_minutes must be a whole number of 1 or more")
            minutes = 5
        title = self._text(raw, "title", "guide", limit=self._limits.title)
        summary = self._text(raw, "summary", "guide", limit=self._limits.summary)
        steps = self._timed(self._steps(raw.get("steps")), raw, minutes)
        new_key_step = raw.get("new_key_step", steps[0].id if steps else "")
        if steps and new_key_step not in {step.id for step in steps}:
            self._problem("guide", f"new_key_step names unknown step {new_key_step!r}")
        if self._problems:
            listed = "\n  ".join(self._problems)
            raise GuideError(f"guide {self._name} ({self._path}) has {len(self._problems)} problem(s):\n  {listed}")
        return Guide(
            id=guide_id,
            version=version,
            title=title,
            summary=summary,
            estimated_minutes=minutes,
            steps=tuple(steps),
            images_dir=self._path.parent / "images",
            new_key_step=str(new_key_step),
        )

    def _steps(self, raw_steps: object) -> list[Step]:
        if not isinstance(raw_steps, list) or not raw_steps:
            self._problem("guide", "steps must be a non-empty list")
            return []
        steps: list[Step] = []
        seen: set[str] = set()
        for position, raw_step in enumerate(raw_steps, start=1):
            where = f"step {position}"
            if not isinstance(raw_step, dict):
                self._problem(where, "must be a mapping")
                continue
            step_id, where = self._id(raw_step, where, "step ", "duplicate step id", seen, limit=63)
            step = Step(
                id=step_id,
                title=self._text(raw_step, "title", where, limit=self._limits.title),
                text=self._text(raw_step, "text", where, limit=self._limits.text),
                image=self._picture(raw_step, where),
                alt=self._text(raw_step, "alt", where, limit=self._limits.alt, missing="has no alt text"),
                action=self._action(raw_step, where),
                troubles=self._troubles(raw_step.get("troubles"), where),
            )
            steps.append(step)
        self._check_ending(steps)
        self._check_jumps(steps)
        return steps

    def _id(
        self, raw: dict[str, Any], where: str, prefix: str, duplicate: str, seen: set[str], limit: int
    ) -> tuple[str, str]:
        """An item's ``id`` (checked: its form, unique among ``seen``) and where it is, named by it when it has one."""
        item_id = self._text(raw, "id", where, limit=limit)
        if not item_id:
            return item_id, where
        where = f"{prefix}{item_id!r}"
        if not _STEP_ID.match(item_id):
            self._problem(where, "id must be lower-case letters, digits and dashes")
        if item_id in seen:
            self._problem(where, duplicate)
        seen.add(item_id)
        return item_id, where

    def _troubles(self, raw: object, where: str) -> tuple[Trouble, ...]:
        """A step's ``troubles``: each with a unique id, a button-sized label, an answer and at most one way on."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self._problem(where, "troubles must be a list")
            return ()
        if len(raw) > TROUBLES_PER_STEP:
            self._problem(where, f"lists {len(raw)} troubles; the most a step may offer is {TROUBLES_PER_STEP}")
        troubles: list[Trouble] = []
        seen: set[str] = set()
        for position, item in enumerate(raw, start=1):
            at = f"{where} trouble {position}"
            if not isinstance(item, dict):
                self._problem(at, "must be a mapping")
                continue
            trouble_id, at = self._id(
                item, at, f"{where} trouble ", "duplicate trouble id on this step", seen, limit=40
            )
            unknown = sorted(str(name) for name in item if name not in _TROUBLE_FIELDS)
            if unknown:
                self._problem(at, f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(_TROUBLE_FIELDS)})")
            go_to = item.get("go_to")
            if go_to is not None and not isinstance(go_to, str):
                self._problem(at, "go_to must be a step id")
                go_to = None
            hand_over = item.get("hand_over", False)
            if not isinstance(hand_over, bool):
                self._problem(at, "hand_over must be true or false")
                hand_over = False
            if go_to is not None and hand_over:
                self._problem(at, "a trouble either jumps (go_to) or hands over (hand_over), not both")
            troubles.append(
                Trouble(
                    id=trouble_id,
                    label=self._text(item, "label", at, limit=TROUBLE_LABEL_LIMIT),
                    answer=self._text(item, "answer", at, limit=TROUBLE_ANSWER_LIMIT),
                    go_to=go_to,
                    hand_over=hand_over,
                )
            )
        return tuple(troubles)

    def _check_jumps(self, steps: list[Step]) -> None:
        """Every ``go_to`` names another step of the guide."""
        known = {step.id for step in steps}
        for step in steps:
            for trouble in step.troubles:
                if trouble.go_to is None:
                    continue
                where = f"step {step.id!r} trouble {trouble.id!r}"
                if trouble.go_to not in known:
                    self._problem(where, f"go_to names unknown step {trouble.go_to!r}")
                elif trouble.go_to == step.id:
                    self._problem(where, "go_to names its own step (leave go_to out to stay on the step)")

    def _timed(self, steps: list[Step], raw: dict[str, Any], minutes: int) -> list[Step]:
        """Steps with their ``step_seconds``; without that map, ``estimated_minutes`` is shared out evenly."""
        estimates = raw.get("step_seconds")
        if estimates is None:
            even = max(1, round(minutes * 60 / len(steps))) if steps else 60
            return [replace(step, seconds=even) for step in steps]
        if not isinstance(estimates, dict):
            self._problem("guide", "step_seconds must map each step id to a whole number of seconds")
            return steps
        known = {step.id for step in steps}
        for unknown in sorted(str(name) for name in estimates if name not in known):
            self._problem("guide", f"step_seconds names unknown step {unknown!r}")
        timed: list[Step] = []
        for step in steps:
            seconds = estimates.get(step.id)
            if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= 3600:
                self._problem(f"step {step.id!r}", "step_seconds needs a whole number of seconds from 1 to 3600")
                seconds = step.seconds
            timed.append(replace(step, seconds=seconds))
        total = sum(step.seconds for step in timed)
        # The kick-off promises estimated_minutes and each step counts down from it: the two must agree.
        if max(1, round(total / 60)) != minutes:
            self._problem(
                "guide",
                f"step_seconds add up to about {max(1, round(total / 60))} minutes but estimated_minutes is {minutes}",
            )
        return timed

    def _check_ending(self, steps: list[Step]) -> None:
        for step in steps[:-1]:
            if step.action is StepAction.ENTER_KEY:
                self._problem(f"step {step.id!r}", "only the last step may ask for the key")
        if steps and steps[-1].action is not StepAction.ENTER_KEY:
            self._problem(f"step {steps[-1].id!r}", "the last step is a dead end: it must have action enter_key")

    def _picture(self, raw_step: dict[str, Any], where: str) -> str:
        image = self._text(raw_step, "image", where, limit=255, missing="has no picture")
        if not image:
            return ""
        if Path(image).name != image:
            self._problem(where, f"picture {image!r} must be a plain file name inside images/")
        elif not image.lower().endswith(_PICTURE_SUFFIXES):
            self._problem(where, f"picture {image!r} must be PNG, JPEG or GIF")
        elif not (self._path.parent / "images" / image).is_file():
            self._problem(where, f"picture file images/{image} is missing")
        else:
            self._check_picture_content(image, where)
        return image

    def _check_picture_content(self, image: str, where: str) -> None:
        kind, signatures = _PICTURE_SIGNATURES[Path(image).suffix.lower()]
        try:
            with (self._path.parent / "images" / image).open("rb") as picture:
                head = picture.read(8)
        except OSError as exc:
            self._problem(where, f"picture file images/{image} cannot be read ({exc.strerror})")
            return
        if not head.startswith(signatures):
            self._problem(where, f"picture file images/{image} is not a {kind} picture")

    def _action(self, raw_step: dict[str, Any], where: str) -> StepAction:
        value = raw_step.get("action", StepAction.NEXT.value)
        try:
            return StepAction(value)
        except ValueError:
            allowed = ", ".join(action.value for action in StepAction)
            self._problem(where, f"unknown action {value!r} (allowed: {allowed})")
            return StepAction.NEXT

    def _text(self, raw: dict[str, Any], field: str, where: str, *, limit: int, missing: str = "") -> str:
        value = raw.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            self._problem(where, missing or f"has no {field}")
            return ""
        if not isinstance(value, str | int):
            self._problem(where, f"{field} must be text")
            return ""
        text = str(value).strip()
        if len(text) > limit:
            self._problem(where, f"{field} is {len(text)} characters; the limit is {limit}")
        return text

    def _problem(self, where: str, what: str) -> None:
        self._problems.append(f"{where}: {what}")
