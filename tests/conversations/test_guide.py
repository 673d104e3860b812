"""Guide loading: a broken guide fails at start-up with every problem named by guide and step."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from conversations.guide import DEFAULT_GUIDE, GuideError, Step, StepAction, TextLimits, load_guide

GUIDE_ID = "test-guide"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def good_steps() -> list[dict[str, Any]]:
    return [
        {"id": "sign-in", "title": "Sign in", "text": "Sign in to Dentally.", "image": "sign-in.png", "alt": "Login"},
        {"id": "settings", "title": "Open Settings", "text": "Click the cog.", "image": "settings.png", "alt": "Cog"},
        {
            "id": "enter-key",
            "title": "Enter the key",
            "text": "Paste the key into the form.",
            "image": "enter-key.png",
            "alt": "The key form",
            "action": "enter_key",
        },
    ]


def good_guide() -> dict[str, Any]:
    return {
        "id": GUIDE_ID,
        "version": 3,
        "title": "Connect Dentally",
        "summary": "Make a key and check it.",
        "estimated_minutes": 4,
        "new_key_step": "settings",
        "steps": good_steps(),
    }


def write_guide(folder: Path, raw: object, pictures: tuple[str, ...] | None = None) -> Path:
    """Write ``raw`` as a guide file with a PNG in images/ for each named picture (default: every step's)."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    if pictures is None:
        steps = raw.get("steps") if isinstance(raw, dict) else None
        steps = steps if isinstance(steps, list) else []
        pictures = tuple(s["image"] for s in steps if isinstance(s, dict) and isinstance(s.get("image"), str))
    for name in pictures:
        if name.strip() and Path(name).name == name:
            (images / name).write_bytes(png_bytes())
    path = folder / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def problems(error: GuideError) -> list[str]:
    """The listed problems of a multi-problem error, one per line."""
    return [line.strip() for line in str(error).splitlines()[1:]]


def assert_problem(error: GuideError, where: str, fragment: str) -> None:
    """The error names the guide and has a problem line for ``where`` that contains ``fragment``."""
    message = str(error)
    assert message.startswith(f"guide {GUIDE_ID} ("), message
    matching = [line for line in problems(error) if line.startswith(f"{where}: ") and fragment in line]
    assert matching, f"no problem for {where!r} mentioning {fragment!r} in:\n{message}"


def load_broken(tmp_path: Path, raw: object, **kwargs: Any) -> GuideError:
    path = write_guide(tmp_path, raw)
    with pytest.raises(GuideError) as caught:
        load_guide(path, **kwargs)
    return caught.value


def with_step(index: int, **changes: Any) -> dict[str, Any]:
    raw = good_guide()
    raw["steps"][index].update(changes)
    return raw


def test_a_good_guide_loads_with_its_steps_in_order(tmp_path: Path) -> None:
    path = write_guide(tmp_path, good_guide())

    guide = load_guide(path)

    assert (guide.id, guide.version, guide.title, guide.estimated_minutes) == (GUIDE_ID, 3, "Connect Dentally", 4)
    assert guide.summary == "Make a key and check it."
    assert guide.steps == (
        Step("sign-in", "Sign in", "Sign in to Dentally.", "sign-in.png", "Login", StepAction.NEXT, 80),
        Step("settings", "Open Settings", "Click the cog.", "settings.png", "Cog", StepAction.NEXT, 80),
        Step(
            "enter-key",
            "Enter the key",
            "Paste the key into the form.",
            "enter-key.png",
            "The key form",
            StepAction.ENTER_KEY,
            80,
        ),
    )
    assert guide.step_count == 3
    assert guide.new_key_step == "settings"
    assert guide.index_of("settings") == 1
    assert guide.image_path(guide.steps[0]) == tmp_path / "images" / "sign-in.png"
    assert guide.image_path(guide.steps[0]).read_bytes() == png_bytes()


def test_index_of_an_unknown_step_raises_key_error(tmp_path: Path) -> None:
    guide = load_guide(write_guide(tmp_path, good_guide()))
    with pytest.raises(KeyError):
        guide.index_of("nope")


def test_new_key_step_defaults_to_the_first_step(tmp_path: Path) -> None:
    raw = good_guide()
    del raw["new_key_step"]
    assert load_guide(write_guide(tmp_path, raw)).new_key_step == "sign-in"


def test_a_one_step_guide_that_asks_for_the_key_is_fine(tmp_path: Path) -> None:
    raw = good_guide()
    raw["steps"] = raw["steps"][-1:]
    raw["new_key_step"] = "enter-key"
    assert [step.id for step in load_guide(write_guide(tmp_path, raw)).steps] == ["enter-key"]


def test_jpeg_and_gif_pictures_are_accepted(tmp_path: Path) -> None:
    raw = with_step(0, image="sign-in.jpg")
    raw["steps"][1]["image"] = "settings.gif"
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (2, 2)).save(images / "sign-in.jpg", format="JPEG")
    Image.new("P", (2, 2)).save(images / "settings.gif", format="GIF")
    path = write_guide(tmp_path, raw, pictures=("enter-key.png",))
    assert [step.image for step in load_guide(path).steps] == ["sign-in.jpg", "settings.gif", "enter-key.png"]


def test_unknown_new_key_step(tmp_path: Path) -> None:
    raw = good_guide()
    raw["new_key_step"] = "no-such-step"
    assert_problem(load_broken(tmp_path, raw), "guide", "new_key_step names unknown step 'no-such-step'")


def test_duplicate_step_id(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_step(1, id="sign-in"))
    assert_problem(error, "step 'sign-in'", "duplicate step id")


@pytest.mark.parametrize("bad_id", ["Sign-In", "sign_in", "sign in", "-sign-in", "../etc", "sign.in", "x" * 64])
def test_bad_step_id_characters(tmp_path: Path, bad_id: str) -> None:
    raw = with_step(0, id=bad_id)
    raw["new_key_step"] = "settings"
    assert_problem(load_broken(tmp_path, raw), f"step {bad_id!r}", "id must be lower-case letters, digits and dashes")


def test_a_step_without_an_id_is_named_by_its_position(tmp_path: Path) -> None:
    raw = good_guide()
    del raw["steps"][1]["id"]
    assert_problem(load_broken(tmp_path, raw), "step 2", "has no id")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_step_without_a_picture(tmp_path: Path, blank: str | None) -> None:
    assert_problem(load_broken(tmp_path, with_step(1, image=blank)), "step 'settings'", "has no picture")


@pytest.mark.parametrize("blank", [None, "", "  \n"])
def test_a_step_without_alt_text(tmp_path: Path, blank: str | None) -> None:
    assert_problem(load_broken(tmp_path, with_step(2, alt=blank)), "step 'enter-key'", "has no alt text")


def test_a_missing_picture_file(tmp_path: Path) -> None:
    path = write_guide(tmp_path, good_guide(), pictures=("sign-in.png", "enter-key.png"))
    with pytest.raises(GuideError) as caught:
        load_guide(path)
    assert_problem(caught.value, "step 'settings'", "picture file images/settings.png is missing")
    assert len(problems(caught.value)) == 1


@pytest.mark.parametrize("outside", ["../outside.png", "images/../../outside.png", "sub/inner.png", "/tmp/abs.png"])
def test_a_picture_outside_images_is_refused_even_when_the_file_exists(tmp_path: Path, outside: str) -> None:
    guide_dir = tmp_path / "guide"
    (guide_dir / "images" / "sub").mkdir(parents=True)
    (tmp_path / "outside.png").write_bytes(png_bytes())
    (guide_dir / "images" / "sub" / "inner.png").write_bytes(png_bytes())
    path = write_guide(guide_dir, with_step(0, image=outside))
    with pytest.raises(GuideError) as caught:
        load_guide(path)
    assert_problem(caught.value, "step 'sign-in'", "must be a plain file name inside images/")


@pytest.mark.parametrize("name", ["sign-in.svg", "sign-in.webp", "sign-in.txt", "sign-in"])
def test_a_picture_of_the_wrong_type(tmp_path: Path, name: str) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / name).write_bytes(png_bytes())
    assert_problem(load_broken(tmp_path, with_step(0, image=name)), "step 'sign-in'", "must be PNG, JPEG or GIF")


@pytest.mark.parametrize("content", [b"", b"<html>404 Not Found</html>", b"GIF89a-but-named-png"])
def test_a_picture_whose_content_is_not_what_its_name_says(tmp_path: Path, content: bytes) -> None:
    path = write_guide(tmp_path, good_guide())
    (tmp_path / "images" / "settings.png").write_bytes(content)
    with pytest.raises(GuideError) as caught:
        load_guide(path)
    assert_problem(caught.value, "step 'settings'", "is not a PNG picture")


@pytest.mark.parametrize(
    ("field", "limit", "label"),
    [("title", TextLimits().title, "title"), ("text", TextLimits().text, "text"), ("alt", TextLimits().alt, "alt")],
)
def test_step_texts_over_the_default_limits(tmp_path: Path, field: str, limit: int, label: str) -> None:
    at_limit = with_step(1, **{field: "x" * limit})
    assert len(getattr(load_guide(write_guide(tmp_path / "ok", at_limit)).steps[1], field)) == limit
    error = load_broken(tmp_path / "bad", with_step(1, **{field: "x" * (limit + 1)}))
    assert_problem(error, "step 'settings'", f"{label} is {limit + 1} characters; the limit is {limit}")


def test_the_limits_of_another_platform_are_used(tmp_path: Path) -> None:
    limits = TextLimits(title=10, text=20, alt=30, summary=40)
    raw = with_step(0, title="A title of 19 chars", text="t" * 21, alt="a" * 31)
    error = load_broken(tmp_path, raw, limits=limits)
    assert_problem(error, "step 'sign-in'", "title is 19 characters; the limit is 10")
    assert_problem(error, "step 'sign-in'", "text is 21 characters; the limit is 20")
    assert_problem(error, "step 'sign-in'", "alt is 31 characters; the limit is 30")


def test_guide_title_and_summary_have_limits_too(tmp_path: Path) -> None:
    raw = good_guide()
    raw["title"] = "T" * 151
    raw["summary"] = "S" * 3001
    error = load_broken(tmp_path, raw)
    assert_problem(error, "guide", "title is 151 characters; the limit is 150")
    assert_problem(error, "guide", "summary is 3001 characters; the limit is 3000")


def test_a_last_step_that_does_not_ask_for_the_key_is_a_dead_end(tmp_path: Path) -> None:
    raw = good_guide()
    del raw["steps"][2]["action"]
    assert_problem(load_broken(tmp_path, raw), "step 'enter-key'", "dead end")


def test_enter_key_before_the_last_step_is_refused(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_step(0, action="enter_key"))
    assert_problem(error, "step 'sign-in'", "only the last step may ask for the key")
    assert len(problems(error)) == 1


def test_an_unknown_action(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_step(1, action="teleport"))
    assert_problem(error, "step 'settings'", "unknown action 'teleport' (allowed: next, enter_key)")


@pytest.mark.parametrize("steps", [[], None, "sign-in", {"id": "sign-in"}])
def test_steps_must_be_a_non_empty_list(tmp_path: Path, steps: object) -> None:
    raw = good_guide()
    raw["steps"] = steps
    assert_problem(load_broken(tmp_path, raw), "guide", "steps must be a non-empty list")


def test_a_step_that_is_not_a_mapping(tmp_path: Path) -> None:
    raw = good_guide()
    raw["steps"].insert(1, "just a string")
    assert_problem(load_broken(tmp_path, raw), "step 2", "must be a mapping")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("version", 0, "version must be a whole number of 1 or more"),
        ("version", "two", "version must be a whole number of 1 or more"),
        ("version", True, "version must be a whole number of 1 or more"),
        ("estimated_minutes", -1, "estimated_minutes must be a whole number of 1 or more"),
        ("id", "Test Guide", "id must be lower-case letters, digits and dashes"),
        ("title", ["a", "list"], "title must be text"),
    ],
)
def test_bad_guide_fields(tmp_path: Path, field: str, value: object, fragment: str) -> None:
    raw = good_guide()
    raw[field] = value
    path = write_guide(tmp_path, raw)
    with pytest.raises(GuideError) as caught:
        load_guide(path)
    assert str(caught.value).startswith(f"guide {raw['id']} ({path})")
    assert any(line == f"guide: {fragment}" for line in problems(caught.value)), str(caught.value)


@pytest.mark.parametrize("top", [["a", "list"], "just text", 42, None])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, top: object) -> None:
    path = write_guide(tmp_path, top)
    with pytest.raises(GuideError, match="expected a mapping at the top") as caught:
        load_guide(path)
    assert str(caught.value).startswith(f"guide {path}:")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "guide.yaml"
    path.write_text("id: test-guide\nsteps: [unclosed\n", encoding="utf-8")
    with pytest.raises(GuideError, match="not valid YAML") as caught:
        load_guide(path)
    assert str(caught.value).startswith(f"guide {path}:")


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_an_unreadable_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "guide.yaml"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(GuideError, match="cannot read it") as caught:
        load_guide(path)
    assert str(caught.value).startswith(f"guide {path}:")


def test_a_file_that_is_not_utf8_text(tmp_path: Path) -> None:
    path = tmp_path / "guide.yaml"
    path.write_bytes(b"id: test-guide\ntitle: caf\xe9\n")
    with pytest.raises(GuideError, match="not UTF-8 text") as caught:
        load_guide(path)
    assert str(caught.value).startswith(f"guide {path}:")


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    raw = good_guide()
    raw["new_key_step"] = "gone"
    raw["steps"][0]["alt"] = ""
    raw["steps"][1]["action"] = "jump"
    raw["steps"][2]["image"] = "../escape.png"
    error = load_broken(tmp_path, raw)

    assert str(error).startswith(f"guide {GUIDE_ID} ({tmp_path / 'guide.yaml'}) has 4 problem(s):")
    assert len(problems(error)) == 4
    assert_problem(error, "step 'sign-in'", "has no alt text")
    assert_problem(error, "step 'settings'", "unknown action 'jump'")
    assert_problem(error, "step 'enter-key'", "must be a plain file name inside images/")
    assert_problem(error, "guide", "new_key_step names unknown step 'gone'")


# The shipped guide. Its pictures are drawn separately, so the text and structure are checked from the YAML alone.

SHIPPED_STEPS = [
    ("sign-in", "Sign in to Dentally as an administrator"),
    ("open-settings", "Open Settings"),
    ("developer-tab", "Open the Developer tab"),
    ("generate-token", "Generate a new token"),
    ("describe-token", "Say what the token is for"),
    ("tick-permissions", "Tick the permissions Aldense needs"),
    ("save-token", "Save the token"),
    ("copy-key", "Copy the key"),
    ("enter-key", "Enter the key privately"),
]


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    raw = yaml.safe_load(DEFAULT_GUIDE.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def test_shipped_guide_has_the_expected_steps(shipped: dict[str, Any]) -> None:
    assert shipped["id"] == "dentally-key"
    assert shipped["version"] >= 1
    assert [(step["id"], step["title"]) for step in shipped["steps"]] == SHIPPED_STEPS
    assert shipped["new_key_step"] == "generate-token"


def test_shipped_guide_only_asks_for_the_key_on_its_last_step(shipped: dict[str, Any]) -> None:
    actions = [step.get("action", "next") for step in shipped["steps"]]
    assert actions == ["next"] * (len(actions) - 1) + ["enter_key"]


def test_shipped_guide_texts_fit_slack(shipped: dict[str, Any]) -> None:
    limits = TextLimits()
    assert len(shipped["title"]) <= limits.title
    assert len(shipped["summary"].strip()) <= limits.summary
    for step in shipped["steps"]:
        assert 0 < len(step["title"].strip()) <= limits.title, step["id"]
        assert 0 < len(step["text"].strip()) <= limits.text, step["id"]
        assert 0 < len(step["alt"].strip()) <= limits.alt, step["id"]


def test_shipped_guide_pictures_are_plain_png_names_in_images(shipped: dict[str, Any]) -> None:
    assert [step["image"] for step in shipped["steps"]] == [f"{step_id}.png" for step_id, _ in SHIPPED_STEPS]


def test_shipped_guide_asks_for_exactly_the_scopes_aldense_needs(shipped: dict[str, Any]) -> None:
    permissions = next(step for step in shipped["steps"] if step["id"] == "tick-permissions")["text"]
    # Dentally lists permissions by scope name, in this order, with one "appointment" box ticking all four.
    named = ["user : read", *(f"appointment : {verb}" for verb in ("read", "create", "update", "delete"))]
    places = [permissions.index(f"*{name}*") for name in named]
    assert places == sorted(places), "the text lists them in the order Dentally (and the picture) shows them"
    assert "*appointment* box" in permissions
    assert "all four at once" in permissions


def test_shipped_guide_alt_texts_say_the_pictures_are_drawn(shipped: dict[str, Any]) -> None:
    for step in shipped["steps"]:
        assert "drawn illustration" in step["alt"], step["id"]


def test_shipped_guide_step_estimates_add_up_to_the_promised_minutes() -> None:
    guide = load_guide()
    assert all(step.seconds > 0 for step in guide.steps)
    assert round(guide.seconds_left(0) / 60) == guide.estimated_minutes
    left = [guide.seconds_left(index) for index in range(guide.step_count)]
    assert left == sorted(left, reverse=True)
    assert left[-1] == guide.steps[-1].seconds


def test_step_estimates_are_shared_out_evenly_when_the_guide_gives_none(tmp_path: Path) -> None:
    guide = load_guide(write_guide(tmp_path, good_guide()))
    assert [step.seconds for step in guide.steps] == [80, 80, 80]  # 4 minutes over 3 steps


def test_step_estimates_are_read_per_step(tmp_path: Path) -> None:
    raw = good_guide()
    raw["step_seconds"] = {"sign-in": 90, "settings": 30, "enter-key": 120}
    guide = load_guide(write_guide(tmp_path, raw))
    assert [step.seconds for step in guide.steps] == [90, 30, 120]
    assert guide.seconds_left(1) == 150


@pytest.mark.parametrize(
    ("estimates", "where", "fragment"),
    [
        ({"sign-in": 90, "settings": 30}, "step 'enter-key'", "step_seconds needs a whole number"),
        ({"sign-in": 90, "settings": 30, "enter-key": "2m"}, "step 'enter-key'", "step_seconds needs a whole number"),
        ({"sign-in": 90, "settings": 0, "enter-key": 150}, "step 'settings'", "step_seconds needs a whole number"),
        ({"sign-in": 90, "settings": True, "enter-key": 150}, "step 'settings'", "step_seconds needs a whole number"),
        ({"sign-in": 90, "settings": 30, "enter-key": 120, "gone": 5}, "guide", "unknown step 'gone'"),
        ({"sign-in": 60, "settings": 60, "enter-key": 60}, "guide", "add up to about 3 minutes"),
        (["sign-in", 60], "guide", "step_seconds must map each step id"),
    ],
)
def test_bad_step_estimates_fail_at_load(tmp_path: Path, estimates: object, where: str, fragment: str) -> None:
    raw = good_guide()
    raw["step_seconds"] = estimates
    assert_problem(load_broken(tmp_path, raw), where, fragment)


def test_shipped_guide_loads_with_its_pictures() -> None:
    """Passes once the pictures in images/ are drawn; a missing picture must fail start-up, so this is not skipped."""
    guide = load_guide()
    assert [(step.id, step.title) for step in guide.steps] == SHIPPED_STEPS
    assert all(guide.image_path(step).is_file() for step in guide.steps)
