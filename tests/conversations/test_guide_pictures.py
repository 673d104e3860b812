"""The Dentally key guide's step pictures: the drawing script makes exactly the files the guide names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
