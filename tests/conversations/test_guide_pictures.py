"""The Dentally key guide's step pictures: the drawing script makes exactly the files the guide names."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from bot.core import copy
from bot.slack import modals

Image = pytest.importorskip("PIL.Image")

REPO = Path(__file__).resolve().parents[2]
GUIDE_DIR = REPO / "conversations" / "guides" / "dentally-key"
SCRIPT = REPO / "scripts" / "draw_dentally_guide.py"
SIZE = (1200, 675)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def guide_pictures() -> list[str]:
    guide = yaml.safe_load((GUIDE_DIR / "guide.yaml").read_text(encoding="utf-8"))
    return [step["image"] for step in guide["steps"]]


def draw_into(out: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True)


def assert_png_of_size(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == SIZE, f"{path.name} is {img.size}, not {SIZE}"


def test_guide_names_nine_distinct_pictures() -> None:
    names = guide_pictures()
    assert len(names) == 9
    assert len(set(names)) == 9


def test_script_draws_exactly_the_guide_pictures(tmp_path: Path) -> None:
    draw_into(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(guide_pictures())
    for name in guide_pictures():
        assert_png_of_size(tmp_path / name)


def test_script_output_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    draw_into(first)
    draw_into(second)
    for name in guide_pictures():
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.parametrize("name", guide_pictures())
def test_committed_picture_exists_and_is_a_png_of_the_right_size(name: str) -> None:
    # A real screenshot may replace a drawing (see guide.yaml), so only the format and size are pinned.
    assert_png_of_size(GUIDE_DIR / "images" / name)


def drawing_script() -> ModuleType:
    """The drawing script as a module, to ask each drawing what it shows (it keeps its words in ``info``)."""
    spec = importlib.util.spec_from_file_location("draw_dentally_guide", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[str, ...]]:
    script = drawing_script()
    return {name: draw().info[script.DRAWN] for name, draw in script.PICTURES.items()}


def test_permissions_are_scope_names_under_an_appointment_group_box_not_a_grid(
    drawn: dict[str, tuple[str, ...]],
) -> None:
    words = drawn["tick-permissions.png"]
    needed = ["user : read", *(f"appointment : {verb}" for verb in ("read", "create", "update", "delete"))]
    assert [word for word in words if word in needed] == needed, "listed in the order the step's text gives them"
    assert "appointment" in words, "the group box that ticks all four"
    assert words.index("appointment") < words.index("appointment : read")
    assert not {"Read", "Create", "Update", "Delete"} & set(words), "no grid of columns"
    step_text = yaml.safe_load((GUIDE_DIR / "guide.yaml").read_text(encoding="utf-8"))["steps"][5]["text"]
    places = [step_text.index(f"*{name}*") for name in needed]
    assert places == sorted(places)


def test_the_purpose_field_shows_dentallys_own_placeholder(drawn: dict[str, tuple[str, ...]]) -> None:
    shown = " ".join(drawn["describe-token.png"])
    assert (
        "e.g., Integration with our appointment booking system, automated patient data sync, reporting, etc." in shown
    )


def test_the_copy_step_says_to_keep_dentallys_window_open(drawn: dict[str, tuple[str, ...]]) -> None:
    shown = " ".join(drawn["copy-key.png"])
    assert "keep this open" in shown
    assert "then Close" not in shown


def test_the_key_step_shows_our_real_slack_key_form(drawn: dict[str, tuple[str, ...]]) -> None:
    view = modals.key_modal("C0CLINIC", "U0ADMIN", min_length=20, max_length=200)
    region, key = view["blocks"][1], view["blocks"][2]
    expected = [
        view["title"]["text"],
        region["label"]["text"],
        region["element"]["initial_option"]["text"]["text"],
        key["label"]["text"],
        key["element"]["placeholder"]["text"],
        view["submit"]["text"],  # drawn from the right: the primary button, then Cancel beside it
        view["close"]["text"],
    ]
    words = drawn["enter-key.png"]
    assert [word for word in words if word in expected] == expected, "every label, in the form's own order"
    shown = " ".join(words)
    assert "only you see this form" in shown.lower()
    assert " ".join(copy.REGION_HINT.split()) in shown
