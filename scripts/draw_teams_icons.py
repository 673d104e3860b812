"""Draw the Teams app icons: color.png (192×192, full colour) and outline.png (32×32, white on transparent).

Run with the dev extras installed (Pillow): ``.venv/bin/python scripts/draw_teams_icons.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "teams" / "appPackage"
ACCENT = (31, 111, 139, 255)
WHITE = (255, 255, 255, 255)


def tooth(draw: ImageDraw.ImageDraw, size: int, fill: tuple[int, int, int, int], width: int | None = None) -> None:
    """A simple tooth: a rounded crown and two roots, scaled to ``size``."""
    s = size / 32
    crown = [6 * s, 5 * s, 26 * s, 18 * s]
    left_root = [(8 * s, 15 * s), (13 * s, 15 * s), (12 * s, 27 * s), (9.5 * s, 27 * s)]
    right_root = [(19 * s, 15 * s), (24 * s, 15 * s), (22.5 * s, 27 * s), (20 * s, 27 * s)]
    if width is None:
        draw.rounded_rectangle(crown, radius=6 * s, fill=fill)
        draw.polygon(left_root, fill=fill)
        draw.polygon(right_root, fill=fill)
    else:
        draw.rounded_rectangle(crown, radius=6 * s, outline=fill, width=width)
        draw.line([*left_root, left_root[0]], fill=fill, width=width)
        draw.line([*right_root, right_root[0]], fill=fill, width=width)


def main() -> None:
    """Write both icons into teams/appPackage/."""
    color = Image.new("RGBA", (192, 192), ACCENT)
    draw = ImageDraw.Draw(color)
    inner = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    tooth(ImageDraw.Draw(inner), 128, WHITE)
    color.alpha_composite(inner, (32, 32))
    draw.rounded_rectangle([4, 4, 187, 187], radius=28, outline=(255, 255, 255, 60), width=3)
    color.save(OUT / "color.png")
    outline = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    tooth(ImageDraw.Draw(outline), 32, WHITE, width=2)
    outline.save(OUT / "outline.png")


if __name__ == "__main__":
    main()
