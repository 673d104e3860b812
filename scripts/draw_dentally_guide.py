"""Draw the nine step pictures of the Dentally key guide as clean, deterministic PNG illustrations.

They are drawn, not screenshots: Dentally's screens as the original guide recorded them (scope names such as
"appointment : create" under a group box "appointment"; the Purpose field's own placeholder), and our key form as our
Slack modal renders it (its words come from ``bot.slack.modals.key_modal``). A real screenshot saved under the same
file name replaces any of them (README.md, "Pictures"). Every drawing keeps the words it drew in ``image.info``
under ``DRAWN`` so tests can check what each picture says.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont

from bot.slack.modals import key_modal

W, H = 1200, 675
SCALE = 2  # draw at twice the size and downsample, for smooth edges on shapes and rings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "conversations" / "guides" / "dentally-key" / "images"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
DRAWN = "drawn"  # image.info key: the words a drawing shows, in the order drawn

# Dentally's new-token form, as the original guide recorded it.
PURPOSE_PLACEHOLDER = (
    "e.g., Integration with our appointment booking system, automated patient data sync, reporting, etc."
)
PURPOSE_VALUE = "Connect appointment bookings with Aldense"
SOFTWARE_VALUE = "Aldense"
# Dentally lists a token's permissions by scope name; a group box ("appointment") ticks every scope under it.
PERMISSION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("user", ("user : read",)),
    ("appointment", ("appointment : read", "appointment : create", "appointment : update", "appointment : delete")),
    ("patient", ("patient : read",)),
)
NEEDED_GROUP = "appointment"
NEEDED_SCOPES = (
    "user : read",
    "appointment : read",
    "appointment : create",
    "appointment : update",
    "appointment : delete",
)

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]
Point = tuple[float, float]
Style = Literal["regular", "bold", "mono"]
Align = Literal["left", "center", "right"]
FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont

INK: RGB = (17, 24, 39)
MUTED: RGB = (75, 85, 99)
PLACEHOLDER: RGB = (107, 114, 128)
LINE: RGB = (209, 213, 219)
BOX_EDGE: RGB = (120, 130, 145)
PAGE: RGB = (241, 244, 247)
WHITE: RGB = (255, 255, 255)
SIDEBAR: RGB = (30, 41, 59)
SIDEBAR_ICON: RGB = (148, 163, 184)
SIDEBAR_ACTIVE: RGB = (61, 77, 101)
PRIMARY: RGB = (13, 112, 122)
PRIMARY_SOFT: RGB = (214, 238, 238)
AVATAR: RGB = (91, 95, 199)
ACCENT: RGB = (255, 90, 0)
DIM: RGB = (15, 23, 42)
DIM_ALPHA = 0.40
BACKDROP_ALPHA = 0.45
CHAT_SIDEBAR: RGB = (40, 44, 60)
CHAT_ACTIVE: RGB = (72, 84, 120)
CHAT_GREEN: RGB = (0, 122, 90)
CHAT_SIDEBAR_W = 240

SIDEBAR_W = 96
HEADER_H = 72
TAB_BOTTOM = HEADER_H + 64
CONTENT_L, CONTENT_R = SIDEBAR_W + 32, W - 32


@cache
def font(px: int, style: Style = "regular") -> FontT:
    """DejaVu at `px` pixels, or Pillow's bundled font when DejaVu is not installed."""
    name = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}[style]
    path = FONT_DIR / name
    if path.exists():
        return ImageFont.truetype(str(path), px)
    return ImageFont.load_default(size=px)


def expand(box: Box, pad: float) -> Box:
    return (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)


class Canvas:
    """A 1200x675 drawing surface in picture coordinates, backed by a supersampled RGB image."""

    def __init__(self, background: RGB = PAGE) -> None:
        self.img = Image.new("RGB", (W * SCALE, H * SCALE), background)
        self.draw = ImageDraw.Draw(self.img)
        self.words: list[str] = []

    @staticmethod
    def _xy(values: Sequence[float]) -> list[float]:
        return [v * SCALE for v in values]

    def rect(
        self,
        box: Box,
        fill: RGB | None = None,
        radius: float = 0,
        outline: RGB | None = None,
        width: float = 0,
    ) -> None:
        self.draw.rounded_rectangle(
            self._xy(box), radius=radius * SCALE, fill=fill, outline=outline, width=round(width * SCALE)
        )

    def circle(
        self, cx: float, cy: float, r: float, fill: RGB | None = None, outline: RGB | None = None, width: float = 0
    ) -> None:
        self.draw.ellipse(
            self._xy((cx - r, cy - r, cx + r, cy + r)), fill=fill, outline=outline, width=round(width * SCALE)
        )

    def arc(self, box: Box, start: float, end: float, fill: RGB, width: float) -> None:
        self.draw.arc(self._xy(box), start, end, fill=fill, width=round(width * SCALE))

    def pieslice(self, box: Box, start: float, end: float, fill: RGB) -> None:
        self.draw.pieslice(self._xy(box), start, end, fill=fill)

    def line(self, points: Sequence[Point], fill: RGB, width: float) -> None:
        self.draw.line(
            [(x * SCALE, y * SCALE) for x, y in points], fill=fill, width=round(width * SCALE), joint="curve"
        )

    def polygon(self, points: Sequence[Point], fill: RGB) -> None:
        self.draw.polygon([(x * SCALE, y * SCALE) for x, y in points], fill=fill)

    def text(
        self, x: float, y: float, s: str, size: int, fill: RGB = INK, style: Style = "regular", anchor: str = "lm"
    ) -> None:
        self.draw.text((x * SCALE, y * SCALE), s, font=font(size * SCALE, style), fill=fill, anchor=anchor)
        self.words.append(s)

    def wrapped(self, x: float, y: float, s: str, size: int, width: float, fill: RGB = INK, gap: float = 1.35) -> float:
        """Draw ``s`` word-wrapped to ``width`` with its first line's middle at ``y``; returns the last line's y."""
        lines: list[str] = []
        for word in s.split():
            if lines and self.text_width(f"{lines[-1]} {word}", size) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        for i, line in enumerate(lines):
            self.text(x, y + i * size * gap, line, size, fill)
        return y + (len(lines) - 1) * size * gap

    @staticmethod
    def text_width(s: str, size: int, style: Style = "regular") -> float:
        return font(size * SCALE, style).getlength(s) / SCALE

    def shade(self, alpha: float, colour: RGB = DIM) -> None:
        """Darken the whole picture, as a modal backdrop does."""
        self.img = Image.blend(self.img, Image.new("RGB", self.img.size, colour), alpha)
        self.draw = ImageDraw.Draw(self.img)


# --- icons (filled, drawn around a centre; `bg` is the colour behind them, for cut-outs) ---

Icon = Callable[[Canvas, float, float, RGB, RGB], None]


def icon_home(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.polygon([(cx - 17, cy - 1), (cx, cy - 16), (cx + 17, cy - 1)], fg)
    c.rect((cx - 12, cy - 3, cx + 12, cy + 15), fg)
    c.rect((cx - 4, cy + 5, cx + 4, cy + 15), bg)


def icon_calendar(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.rect((cx - 15, cy - 11, cx + 15, cy + 15), fg, radius=4)
    c.rect((cx - 12, cy - 3, cx + 12, cy + 12), bg, radius=2)
    for row in range(2):
        for col in range(3):
            x, y = cx - 9 + col * 7, cy + row * 6
            c.rect((x, y, x + 4, y + 3), fg)
    c.rect((cx - 9, cy - 16, cx - 5, cy - 7), fg, radius=2)
    c.rect((cx + 5, cy - 16, cx + 9, cy - 7), fg, radius=2)


def icon_people(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.circle(cx, cy - 7, 8, fg)
    c.pieslice((cx - 15, cy + 3, cx + 15, cy + 31), 180, 360, fg)


def icon_chart(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.rect((cx - 15, cy + 1, cx - 7, cy + 15), fg, radius=2)
    c.rect((cx - 4, cy - 8, cx + 4, cy + 15), fg, radius=2)
    c.rect((cx + 7, cy - 15, cx + 15, cy + 15), fg, radius=2)


def icon_envelope(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.rect((cx - 16, cy - 11, cx + 16, cy + 12), fg, radius=3)
    c.line([(cx - 14, cy - 9), (cx, cy + 2), (cx + 14, cy - 9)], bg, 3)


def icon_cog(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB, r: float = 17) -> None:
    teeth, inner = 8, r * 0.74
    step = 2 * math.pi / teeth
    points: list[Point] = []
    for k in range(teeth):
        base = k * step
        for radius, frac in ((inner, -0.32), (r, -0.2), (r, 0.2), (inner, 0.32)):
            angle = base + frac * step
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    c.polygon(points, fg)
    c.circle(cx, cy, inner, fg)
    c.circle(cx, cy, r * 0.34, bg)


def icon_lock(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.arc((cx - 8, cy - 14, cx + 8, cy + 4), 180, 360, fg, 3.5)
    c.line([(cx - 6.3, cy - 5), (cx - 6.3, cy)], fg, 3.5)
    c.line([(cx + 6.3, cy - 5), (cx + 6.3, cy)], fg, 3.5)
    c.rect((cx - 11, cy - 2, cx + 11, cy + 14), fg, radius=3)
    c.circle(cx, cy + 5, 2.5, bg)


def icon_copy(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.rect((cx - 10, cy - 12, cx + 5, cy + 5), None, radius=3, outline=fg, width=2.5)
    c.rect((cx - 5, cy - 6, cx + 10, cy + 11), bg, radius=3, outline=fg, width=2.5)


def icon_tooth(c: Canvas, cx: float, cy: float, fg: RGB, bg: RGB) -> None:
    c.circle(cx - 7, cy - 6, 9, fg)
    c.circle(cx + 7, cy - 6, 9, fg)
    c.polygon(
        [
            (cx - 15, cy - 4),
            (cx + 15, cy - 4),
            (cx + 12, cy + 14),
            (cx + 7, cy + 16),
            (cx, cy + 6),
            (cx - 7, cy + 16),
            (cx - 12, cy + 14),
        ],
        fg,
    )


def chevron_down(c: Canvas, cx: float, cy: float, fg: RGB) -> None:
    c.line([(cx - 8, cy - 4), (cx, cy + 4), (cx + 8, cy - 4)], fg, 3)


def cross(c: Canvas, cx: float, cy: float, fg: RGB) -> None:
    c.line([(cx - 9, cy - 9), (cx + 9, cy + 9)], fg, 3)
    c.line([(cx - 9, cy + 9), (cx + 9, cy - 9)], fg, 3)


# --- shared widgets ---

NAV: tuple[tuple[str, Icon], ...] = (
    ("home", icon_home),
    ("calendar", icon_calendar),
    ("patients", icon_people),
    ("reports", icon_chart),
    ("messages", icon_envelope),
)
COG_CY = 612


def logo(c: Canvas, cx: float, cy: float, size: float = 52) -> None:
    """A neutral practice-app mark (a plain tooth), not any vendor's logo."""
    c.rect((cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), PRIMARY, radius=size / 4)
    icon_tooth(c, cx, cy + 1, WHITE, PRIMARY)


def sidebar(c: Canvas, active: str) -> Box:
    """The dark left-hand menu; returns the box of the settings cog at its bottom."""
    c.rect((0, 0, SIDEBAR_W, H), SIDEBAR)
    logo(c, SIDEBAR_W / 2, 40)
    items: list[tuple[str, Icon, float]] = [(name, icon, 130 + i * 74) for i, (name, icon) in enumerate(NAV)]
    items.append(("settings", icon_cog, COG_CY))
    cog_box: Box = (0, 0, 0, 0)
    for name, icon, cy in items:
        box = (18, cy - 29, SIDEBAR_W - 18, cy + 29)
        bg = SIDEBAR
        if name == active:
            bg = SIDEBAR_ACTIVE
            c.rect(box, bg, radius=12)
        icon(c, SIDEBAR_W / 2, cy, WHITE if name == active else SIDEBAR_ICON, bg)
        if name == "settings":
            cog_box = box
    return cog_box


def header(c: Canvas, title: str) -> None:
    c.rect((SIDEBAR_W, 0, W, HEADER_H), WHITE)
    c.line([(SIDEBAR_W, HEADER_H - 1), (W, HEADER_H - 1)], LINE, 2)
    c.text(CONTENT_L, HEADER_H / 2, title, 30, INK, "bold")
    c.text(W - 84, HEADER_H / 2, "Riverside Dental", 22, MUTED, anchor="rm")
    c.circle(W - 44, HEADER_H / 2, 22, AVATAR)
    c.text(W - 44, HEADER_H / 2, "A", 24, WHITE, "bold", anchor="mm")


def app_screen(title: str, active: str) -> tuple[Canvas, Box]:
    """A blank app page: sidebar, header and grey content area. Returns the canvas and the cog's box."""
    c = Canvas(PAGE)
    cog = sidebar(c, active)
    header(c, title)
    return c, cog


TABS = ("Practice", "Users", "Calendar", "Clinical", "Payments", "Messages", "Developer")


def tab_bar(c: Canvas, active: str) -> dict[str, Box]:
    """The Settings tabs spread across the top of the page; returns each tab's box."""
    c.rect((SIDEBAR_W, HEADER_H, W, TAB_BOTTOM), WHITE)
    c.line([(SIDEBAR_W, TAB_BOTTOM - 1), (W, TAB_BOTTOM - 1)], LINE, 2)
    styles: list[Style] = ["bold" if t == active else "regular" for t in TABS]
    widths = [c.text_width(t, 24, s) for t, s in zip(TABS, styles, strict=True)]
    left, right = CONTENT_L, W - 48
    gap = (right - left - sum(widths)) / (len(TABS) - 1)
    mid = (HEADER_H + TAB_BOTTOM) / 2
    boxes: dict[str, Box] = {}
    x: float = left
    for tab, style, width in zip(TABS, styles, widths, strict=True):
        is_active = tab == active
        c.text(x, mid, tab, 24, PRIMARY if is_active else MUTED, style)
        if is_active:
            c.rect((x - 6, TAB_BOTTOM - 6, x + width + 6, TAB_BOTTOM), PRIMARY, radius=2)
        boxes[tab] = (x - 14, HEADER_H + 10, x + width + 14, TAB_BOTTOM - 10)
        x += width + gap
    return boxes


def settings_screen(tab: str) -> Canvas:
    c, _ = app_screen("Settings", "settings")
    tab_bar(c, tab)
    return c


def card(c: Canvas, box: Box) -> None:
    c.rect(box, WHITE, radius=16, outline=LINE, width=2)


def button(
    c: Canvas,
    x: float,
    y: float,
    label: str,
    *,
    primary: bool = True,
    align: Align = "left",
    height: float = 56,
    colour: RGB = PRIMARY,
    icon: Icon | None = None,
) -> Box:
    """A button whose top edge is at y and whose left/right edge is at x; returns its box."""
    icon_w = 34 if icon else 0
    width = c.text_width(label, 26, "bold") + 56 + icon_w
    x0 = x - width if align == "right" else x - width / 2 if align == "center" else x
    box = (x0, y, x0 + width, y + height)
    fill, ink = (colour, WHITE) if primary else (WHITE, INK)
    c.rect(box, fill, radius=10, outline=None if primary else BOX_EDGE, width=0 if primary else 2)
    if icon:
        icon(c, x0 + 28 + 10, y + height / 2, ink, fill)
    c.text(x0 + 28 + icon_w + (width - 56 - icon_w) / 2, y + height / 2, label, 26, ink, "bold", anchor="mm")
    return box


def text_field(
    c: Canvas, box: Box, value: str, *, placeholder: bool = False, style: Style = "regular", size: int = 24
) -> None:
    c.rect(box, WHITE, radius=8, outline=BOX_EDGE, width=2)
    c.text(box[0] + 18, (box[1] + box[3]) / 2, value, size, PLACEHOLDER if placeholder else INK, style)


def field_label(c: Canvas, x: float, y: float, text: str) -> None:
    c.text(x, y, text, 24, INK, "bold")


def checkbox(c: Canvas, cx: float, cy: float, ticked: bool, size: float = 34) -> Box:
    box = (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)
    if ticked:
        c.rect(box, PRIMARY, radius=7)
        c.line([(cx - 9, cy + 1), (cx - 3, cy + 8), (cx + 10, cy - 7)], WHITE, 4.5)
    else:
        c.rect(box, WHITE, radius=7, outline=BOX_EDGE, width=2.5)
    return box


def divider(c: Canvas, x0: float, x1: float, y: float) -> None:
    c.line([(x0, y), (x1, y)], LINE, 2)


# --- focus: dim everything but the target, ring it, number it, caption it ---


@dataclass(frozen=True)
class Focus:
    number: int
    caption: str
    rings: tuple[Box, ...]
    caption_at: Point
    caption_align: Align = "left"
    badge_corner: Literal["tl", "tr"] = "tl"
    spotlights: tuple[Box, ...] = ()  # extra areas left undimmed, without a ring
    circle: bool = False
    pad: float = 10


def badge(c: Canvas, cx: float, cy: float, number: int, r: float = 22) -> None:
    c.circle(cx, cy, r + 3, WHITE)
    c.circle(cx, cy, r, ACCENT)
    c.text(cx, cy, str(number), 26, WHITE, "bold", anchor="mm")


def caption(c: Canvas, at: Point, align: Align, number: int, text: str) -> None:
    height, size = 60, 28
    width = 16 + 44 + 16 + c.text_width(text, size, "bold") + 26
    x0 = at[0] - width if align == "right" else at[0] - width / 2 if align == "center" else at[0]
    y0 = at[1]
    c.rect((x0, y0, x0 + width, y0 + height), INK, radius=height / 2, outline=WHITE, width=2)
    badge(c, x0 + 16 + 22, y0 + height / 2, number, r=20)
    c.text(x0 + 16 + 44 + 16, y0 + height / 2, text, size, WHITE, "bold")


def ring(c: Canvas, box: Box, circle: bool) -> None:
    radius = min(box[2] - box[0], box[3] - box[1]) / 2 if circle else 16
    c.rect(expand(box, 3), None, radius=radius + 3, outline=WHITE, width=3)
    c.rect(box, None, radius=radius, outline=ACCENT, width=7)


def apply_focus(c: Canvas, focus: Focus) -> None:
    rings = [expand(box, focus.pad) for box in focus.rings]
    mask = Image.new("L", c.img.size, 0)
    mask_draw = ImageDraw.Draw(mask)
    for box in (*rings, *focus.spotlights):
        mask_draw.rounded_rectangle([v * SCALE for v in box], radius=16 * SCALE, fill=255)
    dimmed = Image.blend(c.img, Image.new("RGB", c.img.size, DIM), DIM_ALPHA)
    c.img = Image.composite(c.img, dimmed, mask)
    c.draw = ImageDraw.Draw(c.img)
    for box in rings:
        ring(c, box, focus.circle)
    first = rings[0]
    corner_x = first[0] if focus.badge_corner == "tl" else first[2]
    if focus.circle:  # sit the badge on the circle, up and to the side
        cx, cy, r = (first[0] + first[2]) / 2, (first[1] + first[3]) / 2, (first[2] - first[0]) / 2
        side = -1 if focus.badge_corner == "tl" else 1
        badge(c, cx + side * r * 0.78, cy - r * 0.78, focus.number)
    else:
        badge(c, corner_x, first[1], focus.number)
    caption(c, focus.caption_at, focus.caption_align, focus.number, focus.caption)


def finish(c: Canvas, focus: Focus) -> Image.Image:
    """Apply the focus, downsample to 1200x675 and reduce to a palette image."""
    apply_focus(c, focus)
    small = c.img.resize((W, H), Image.Resampling.LANCZOS)
    picture = small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    picture.info[DRAWN] = tuple(c.words)
    return picture


# --- the nine screens ---


def draw_sign_in() -> Image.Image:
    c = Canvas(PAGE)
    c.rect((0, 0, W, 230), PRIMARY)
    x0, x1 = 380, 820
    card(c, (x0, 36, x1, 566))
    logo(c, W / 2, 96, 60)
    c.text(W / 2, 164, "Sign in", 34, INK, "bold", anchor="mm")
    fx0, fx1 = x0 + 40, x1 - 40
    field_label(c, fx0, 218, "Email")
    text_field(c, (fx0, 238, fx1, 294), "jo@riversidedental.uk")
    field_label(c, fx0, 326, "Password")
    text_field(c, (fx0, 346, fx1, 402), "••••••••••", size=28)
    c.rect((fx0, 432, fx1, 488), PRIMARY, radius=10)  # a full-width button
    c.text(W / 2, 460, "Sign in", 26, WHITE, "bold", anchor="mm")
    c.text(W / 2, 530, "Forgot password?", 22, PRIMARY, anchor="mm")
    return finish(
        c,
        Focus(
            1,
            "Sign in as an administrator",
            rings=((fx0 - 8, 200, fx1 + 8, 496),),
            caption_at=(W / 2, 596),
            caption_align="center",
        ),
    )


def draw_open_settings() -> Image.Image:
    c, cog = app_screen("Home", "home")
    c.text(CONTENT_L, 116, "Good morning, Alex", 28, INK, "bold")
    stats = (("Appointments", "24"), ("Arrived", "6"), ("Waiting", "2"))
    card_w = (CONTENT_R - CONTENT_L - 2 * 24) / 3
    for i, (label, value) in enumerate(stats):
        x = CONTENT_L + i * (card_w + 24)
        card(c, (x, 148, x + card_w, 262))
        c.text(x + 28, 182, label, 22, MUTED)
        c.text(x + 28, 228, value, 38, INK, "bold")
    card(c, (CONTENT_L, 286, CONTENT_R, 562))
    c.text(CONTENT_L + 32, 324, "Today", 26, INK, "bold")
    rows = (("09:00", "Sarah Lewis", "Check-up"), ("09:30", "Tom Patel", "Hygiene"), ("10:15", "Amy Chen", "Filling"))
    for i, (time, name, kind) in enumerate(rows):
        y = 384 + i * 62
        divider(c, CONTENT_L + 32, CONTENT_R - 32, y - 31)
        c.text(CONTENT_L + 32, y, time, 24, PRIMARY, "bold")
        c.text(CONTENT_L + 150, y, name, 24, INK)
        c.text(CONTENT_R - 32, y, kind, 24, MUTED, anchor="rm")
    return finish(
        c,
        Focus(
            2,
            "Click the settings cog",
            rings=(cog,),
            caption_at=(132, COG_CY - 30),
            circle=True,
            badge_corner="tr",
            pad=6,
        ),
    )


def draw_developer_tab() -> Image.Image:
    c, _ = app_screen("Settings", "settings")
    tabs = tab_bar(c, "Practice")
    card(c, (CONTENT_L, 236, CONTENT_R, 640))
    c.text(CONTENT_L + 32, 280, "Practice details", 28, INK, "bold")
    rows = (
        ("Practice name", "Riverside Dental"),
        ("Phone", "020 7946 0321"),
        ("Email", "hello@riversidedental.uk"),
        ("Address", "12 River Street, London"),
    )
    for i, (label, value) in enumerate(rows):
        y = 352 + i * 68
        divider(c, CONTENT_L + 32, CONTENT_R - 32, y - 34)
        c.text(CONTENT_L + 32, y, label, 24, MUTED)
        c.text(CONTENT_L + 300, y, value, 24, INK)
    return finish(
        c,
        Focus(
            3,
            "Click the Developer tab",
            rings=(tabs["Developer"],),
            caption_at=(CONTENT_R, 156),
            caption_align="right",
            badge_corner="tl",
        ),
    )


def tokens_page(c: Canvas) -> Box:
    """The Developer tab's Personal tokens section; returns the Generate button's box."""
    card(c, (CONTENT_L, 168, CONTENT_R, 410))
    c.text(CONTENT_L + 32, 212, "Personal tokens", 28, INK, "bold")
    c.text(CONTENT_L + 32, 256, "Let other software use your account.", 24, MUTED)
    generate = button(c, CONTENT_R - 32, 192, "Generate new token", align="right")
    c.rect((CONTENT_L + 32, 296, CONTENT_R - 32, 380), PAGE, radius=10)
    c.text(W / 2 + SIDEBAR_W / 2, 338, "No personal tokens yet", 24, PLACEHOLDER, anchor="mm")
    card(c, (CONTENT_L, 508, CONTENT_R, 640))
    c.text(CONTENT_L + 32, 552, "Applications", 28, INK, "bold")
    c.text(CONTENT_L + 32, 598, "No applications connected", 24, MUTED)
    return generate


def draw_generate_token() -> Image.Image:
    c = settings_screen("Developer")
    generate = tokens_page(c)
    return finish(
        c, Focus(4, "Click Generate new token", rings=(generate,), caption_at=(CONTENT_R, 428), caption_align="right")
    )


def draw_describe_token() -> Image.Image:
    c = settings_screen("Developer")
    x0, x1 = CONTENT_L, CONTENT_R
    card(c, (x0, 152, x1, 628))
    c.text(x0 + 32, 190, "New personal token", 28, INK, "bold")
    field_label(c, x0 + 32, 236, "Purpose")
    purpose = (x0 + 32, 256, x1 - 32, 338)
    c.rect(purpose, WHITE, radius=8, outline=BOX_EDGE, width=2)
    c.wrapped(purpose[0] + 18, purpose[1] + 24, PURPOSE_PLACEHOLDER, 22, purpose[2] - purpose[0] - 36, PLACEHOLDER)
    c.text(x0 + 32, 356, f"Type: {PURPOSE_VALUE}", 22, ACCENT, "bold")
    field_label(c, x0 + 32, 404, "Software name")
    software = (x0 + 32, 424, x0 + 560, 480)
    text_field(c, software, "software name", placeholder=True)
    c.text(x0 + 32, 498, f"Type: {SOFTWARE_VALUE}", 22, ACCENT, "bold")
    divider(c, x0, x1, 530)
    cont = button(c, x1 - 32, 552, "Continue", align="right")
    button(c, cont[0] - 20, 552, "Cancel", primary=False, align="right")
    return finish(
        c,
        Focus(
            5,
            "Fill in both, then click Continue",
            rings=(cont,),
            caption_at=(x0 + 32, 550),
            spotlights=((x0, 152, x1, 628),),
        ),
    )


def permission_group(
    c: Canvas, y: float, group: str, scopes: Sequence[str], ticked: bool
) -> tuple[Box, list[Box], float]:
    """A group box ("☐ appointment") with its scopes listed under it: the group's box, the scopes' and the next y."""
    box = checkbox(c, CONTENT_L + 52, y, ticked)
    c.text(CONTENT_L + 84, y, group, 24, INK, "bold")
    scope_boxes = []
    for i, scope in enumerate(scopes, start=1):
        scope_boxes.append(checkbox(c, CONTENT_L + 100, y + i * 40, ticked, size=28))
        c.text(CONTENT_L + 128, y + i * 40, scope, 22, INK, "mono")
    return box, scope_boxes, y + (len(scopes) + 1) * 40 + 8


def draw_tick_permissions() -> Image.Image:
    c = settings_screen("Developer")
    card(c, (CONTENT_L, 152, CONTENT_R, 636))
    c.text(CONTENT_L + 32, 186, "Permissions", 28, INK, "bold")
    y = 236.0
    rows: dict[str, tuple[Box, list[Box], float, float]] = {}
    for group, scopes in PERMISSION_GROUPS:
        top = y
        box, scope_boxes, y = permission_group(c, y, group, scopes, ticked=group in ("user", NEEDED_GROUP))
        rows[group] = (box, scope_boxes, top, y)
    group_box, _, top, bottom = rows[NEEDED_GROUP]
    user_read, user_top, user_bottom = rows["user"][1][0], rows["user"][2], rows["user"][3]
    c.text(CONTENT_L + 520, (top + bottom) / 2 - 20, "Ticking \u201cappointment\u201d", 24, ACCENT, "bold")
    c.text(CONTENT_L + 520, (top + bottom) / 2 + 14, "ticks all four at once", 24, ACCENT, "bold")
    return finish(
        c,
        Focus(
            6,
            "Tick user : read and the appointment box",
            rings=(group_box, user_read),
            caption_at=(CONTENT_R, 600),
            caption_align="right",
            spotlights=(
                (CONTENT_L + 24, user_top - 24, CONTENT_L + 480, user_bottom - 24),
                (CONTENT_L + 24, top - 24, CONTENT_L + 1000, bottom - 24),
            ),
        ),
    )


def draw_save_token() -> Image.Image:
    c, _ = app_screen("Settings", "settings")
    card(c, (CONTENT_L, 100, CONTENT_R, 506))  # scrolled: its top is hidden under the tabs
    tab_bar(c, "Developer")
    # Scrolled: only the last appointment scopes and the groups after them are still in sight.
    for i, scope in enumerate(PERMISSION_GROUPS[1][1][-2:]):
        checkbox(c, CONTENT_L + 100, 170 + i * 40, True, size=28)
        c.text(CONTENT_L + 128, 170 + i * 40, scope, 22, INK, "mono")
    y = 258.0
    for group, scopes in PERMISSION_GROUPS[2:]:
        _, _, y = permission_group(c, y, group, scopes, ticked=False)
    divider(c, CONTENT_L, CONTENT_R, 400)
    save = button(c, CONTENT_R - 32, 424, "Save", align="right")
    button(c, save[0] - 20, 424, "Back", primary=False, align="right")
    c.rect((W - 14, TAB_BOTTOM + 4, W - 6, H - 4), LINE, radius=4)  # scrollbar, at the bottom
    c.rect((W - 14, 470, W - 6, H - 4), BOX_EDGE, radius=4)
    return finish(
        c, Focus(7, "Scroll down, click Save", rings=(save,), caption_at=(CONTENT_R, 560), caption_align="right")
    )


def draw_copy_key() -> Image.Image:
    c = settings_screen("Developer")
    tokens_page(c)
    c.shade(BACKDROP_ALPHA)
    x0, x1 = 300, 900
    c.rect((x0, 110, x1, 510), WHITE, radius=18)
    c.text(x0 + 40, 166, "Your new token", 30, INK, "bold")
    cross(c, x1 - 44, 166, MUTED)
    c.text(x0 + 40, 222, "Copy it now: it is shown only once.", 24, MUTED)
    copy = button(c, x1 - 40, 272, "Copy", align="right", icon=icon_copy)
    text_field(c, (x0 + 40, 272, copy[0] - 16, 328), "•" * 18, style="mono", size=26)
    divider(c, x0, x1, 380)
    c.text(x0 + 40, 424, "Keep this window open until", 20, ACCENT, "bold")
    c.text(x0 + 40, 454, "Aldense says you're connected.", 20, ACCENT, "bold")
    button(c, x1 - 40, 412, "Close", primary=False, align="right")
    return finish(
        c,
        Focus(
            8,
            "Click Copy and keep this open",
            rings=(copy,),
            caption_at=(W / 2, 556),
            caption_align="center",
            badge_corner="tr",
            spotlights=((x0, 110, x1, 510),),
        ),
    )


def chat_background(c: Canvas) -> None:
    """A neutral chat app: channel list on the left and the guide's last message."""
    c.rect((0, 0, CHAT_SIDEBAR_W, H), CHAT_SIDEBAR)
    c.text(24, 44, "Riverside Dental", 22, WHITE, "bold")
    for i, channel in enumerate(("# general", "# aldense-setup", "# front-desk")):
        y = 120 + i * 52
        if i == 1:
            c.rect((10, y - 22, CHAT_SIDEBAR_W - 10, y + 22), CHAT_ACTIVE, radius=8)
        c.text(24, y, channel, 22, WHITE if i == 1 else SIDEBAR_ICON, "bold" if i == 1 else "regular")
    c.rect((CHAT_SIDEBAR_W, 0, W, H), WHITE)
    left = CHAT_SIDEBAR_W + 24
    c.text(left, 44, "# aldense-setup", 26, INK, "bold")
    divider(c, CHAT_SIDEBAR_W, W, 86)
    for y, who, text in (
        (126, "Aldense Guide", "Step 8 of 9: Copy the key"),
        (396, "Aldense Guide", "Step 9 of 9: Enter the key"),
    ):
        c.rect((left, y - 10, left + 48, y + 38), PRIMARY, radius=10)
        icon_tooth(c, left + 24, y + 15, WHITE, PRIMARY)
        c.text(left + 68, y, who, 24, INK, "bold")
        c.text(left + 68, y + 36, text, 24, INK)
    button(c, left + 68, 460, "Enter the key privately", primary=False)


def slack_text(markdown: str) -> str:
    """Slack mrkdwn as it reads on screen: no bold or italic marks, short codes as the picture draws them."""
    return markdown.replace("*", "").replace("_", "").replace(":lock:", "").strip()


def key_form_view() -> dict[str, Any]:
    """Our key form exactly as the bot opens it in Slack (ids are placeholders; nothing here is sent anywhere)."""
    return key_modal("C0CLINIC", "U0ADMIN", min_length=20, max_length=200, region="detect")


def draw_enter_key() -> Image.Image:
    view = key_form_view()
    intro, region, key, footnote = view["blocks"]
    c = Canvas(WHITE)
    chat_background(c)
    c.shade(BACKDROP_ALPHA)
    x0, x1 = CHAT_SIDEBAR_W + 60, W - 60
    inner = x1 - x0 - 64
    bottom = 586
    c.rect((x0, 24, x1, bottom), WHITE, radius=14)
    c.text(x0 + 32, 66, view["title"]["text"], 28, INK, "bold")
    cross(c, x1 - 44, 66, MUTED)
    divider(c, x0, x1, 108)
    y = c.wrapped(x0 + 32, 136, slack_text(intro["text"]["text"]), 19, inner)
    y += 46
    field_label(c, x0 + 32, y, region["label"]["text"])
    text_field(c, (x0 + 32, y + 20, x1 - 32, y + 72), region["element"]["initial_option"]["text"]["text"], size=22)
    chevron_down(c, x1 - 64, y + 46, INK)
    y = c.wrapped(x0 + 32, y + 94, region["hint"]["text"], 17, inner, MUTED)
    y += 44
    field_label(c, x0 + 32, y, key["label"]["text"])
    text_field(c, (x0 + 32, y + 20, x1 - 32, y + 72), key["element"]["placeholder"]["text"], placeholder=True, size=22)
    y += 104
    icon_lock(c, x0 + 44, y, MUTED, WHITE)
    c.wrapped(x0 + 66, y, slack_text(footnote["elements"][0]["text"]), 17, inner - 40, MUTED)
    divider(c, x0, x1, y + 34)
    check = button(c, x1 - 32, y + 48, view["submit"]["text"], align="right", colour=CHAT_GREEN, height=48)
    button(c, check[0] - 16, y + 48, view["close"]["text"], primary=False, align="right", height=48)
    return finish(
        c,
        Focus(
            9,
            "Paste the key, click Check key",
            rings=(check,),
            caption_at=((x0 + x1) / 2, 602),
            caption_align="center",
            badge_corner="tr",
            spotlights=((x0, 24, x1, bottom),),
        ),
    )


PICTURES: dict[str, Callable[[], Image.Image]] = {
    "sign-in.png": draw_sign_in,
    "open-settings.png": draw_open_settings,
    "developer-tab.png": draw_developer_tab,
    "generate-token.png": draw_generate_token,
    "describe-token.png": draw_describe_token,
    "tick-permissions.png": draw_tick_permissions,
    "save-token.png": draw_save_token,
    "copy-key.png": draw_copy_key,
    "enter-key.png": draw_enter_key,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the PNGs")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in PICTURES.items():
        path = out / name
        draw().save(path, format="PNG", optimize=True)
        print(f"{path} {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
