"""Drawing the storyboard's cards with Pillow: a title card, then one card per caption.

Text is laid out by hand so that Latin and CJK mix: a line breaks between words, or between any
two CJK characters (but not before closing punctuation), each character is drawn with the first
font that has it (``fonts.FontSet``), and a text shrinks until it fits its box.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw

from plugins.video_generation.storyboard.fonts import FontSet, font_set
from plugins.video_generation.storyboard.script import Card, Storyboard

LOCAL_BADGE: Final = "STORYBOARD · RENDERED LOCALLY"
LOCAL_NOTICE: Final = "Drawn from your prompt by Agentloom's local storyboard renderer: not an AI-generated video."
NO_FONT_NOTICE: Final = "This server has no font for some of this text: an administrator can install a CJK font."
MIN_FONT_PX: Final = 12
TEXT: Final = (250, 250, 250)
MUTED: Final = (220, 224, 235)
# (top, bottom) colours of each card's gradient; a storyboard starts at a place chosen by its title.
PALETTE: Final = (
    ((31, 41, 89), (12, 16, 38)),
    ((84, 36, 96), (30, 12, 40)),
    ((18, 84, 92), (6, 32, 40)),
    ((120, 52, 40), (44, 18, 14)),
    ((40, 92, 58), (12, 36, 22)),
    ((70, 70, 82), (24, 24, 30)),
)
# Never at the start of a line: CJK and Latin closing punctuation.
_NO_LINE_START: Final = frozenset("，。、；：！？）」』】》〉”’,.;:!?)]}…")


def _is_cjk(character: str) -> bool:
    return "\u2e80" <= character <= "\ua4cf" or "\uac00" <= character <= "\ud7af" or "\uf900" <= character <= "\uffef"


def _tokens(text: str) -> Iterator[str]:
    """Words, single CJK characters and the spaces between them, in order."""
    word = ""
    for character in text:
        if character.isspace() or _is_cjk(character) or character in _NO_LINE_START:
            if word:
                yield word
                word = ""
            yield " " if character.isspace() else character
        else:
            word += character
    if word:
        yield word


def _width(text: str, fonts: FontSet) -> float:
    return sum(fonts.font_for(character).getlength(character) for character in text)


def wrap(text: str, fonts: FontSet, max_width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        candidate = line + token
        if not line or _width(candidate, fonts) <= max_width or token in _NO_LINE_START:
            line = candidate if line or token != " " else ""
            continue
        lines.append(line.rstrip())
        line = "" if token == " " else token
        # A word wider than the line is cut where it overflows.
        while _width(line, fonts) > max_width and len(line) > 1:
            cut = max(
                (end for end in range(1, len(line)) if _width(line[:end], fonts) <= max_width),
                default=1,
            )
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class Block:
    lines: list[str]
    fonts: FontSet
    line_height: int


def fit(text: str, size: int, max_width: int, max_height: int, max_lines: int) -> Block:
    """``text`` wrapped at the largest size up to ``size`` that fits the box (or the smallest size)."""
    while True:
        fonts = font_set(size)
        lines = wrap(text, fonts, max_width)
        line_height = round(size * 1.35)
        fits = len(lines) <= max_lines and len(lines) * line_height <= max_height
        if fits or size <= MIN_FONT_PX:
            if not fits:
                lines = lines[:max_lines]
                lines[-1] = lines[-1].rstrip()[:-1] + "…" if len(lines[-1]) > 1 else "…"
            return Block(lines=lines, fonts=fonts, line_height=line_height)
        size = max(MIN_FONT_PX, int(size * 0.9))


def _draw_line(draw: ImageDraw.ImageDraw, x: float, y: float, line: str, fonts: FontSet, fill: tuple[int, ...]) -> None:
    for character in line:
        font = fonts.font_for(character)
        draw.text((x, y), character, font=font, fill=fill)
        x += font.getlength(character)


def draw_block(
    draw: ImageDraw.ImageDraw, block: Block, center_x: float, top: float, fill: tuple[int, ...] = TEXT
) -> float:
    """Draw centred lines from ``top``; the y below the block."""
    for number, line in enumerate(block.lines):
        _draw_line(
            draw, center_x - _width(line, block.fonts) / 2, top + number * block.line_height, line, block.fonts, fill
        )
    return top + len(block.lines) * block.line_height


def _background(size: tuple[int, int], colours: tuple[tuple[int, int, int], tuple[int, int, int]]) -> Image.Image:
    top, bottom = (Image.new("RGB", size, colour) for colour in colours)
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(bottom, top, mask)


def palette_start(title: str) -> int:
    return hashlib.sha256(title.encode()).digest()[0] % len(PALETTE)


@dataclass(frozen=True)
class Drawn:
    image: Image.Image
    # Characters no font on this machine could draw (a CJK prompt without a CJK font).
    missing: frozenset[str]


def draw_card(card: Card, storyboard: Storyboard, size: tuple[int, int], position: int) -> Drawn:
    width, height = size
    unit = min(width, height)
    margin = round(unit * 0.07)
    colours = PALETTE[(palette_start(storyboard.title) + position) % len(PALETTE)]
    image = _background(size, colours)
    draw = ImageDraw.Draw(image)
    small = round(unit * 0.034)
    badge = fit(LOCAL_BADGE, small, width - 2 * margin, small * 2, 1)
    draw_block(draw, badge, width / 2, margin, MUTED)
    used = [badge.fonts]
    inner = width - 2 * margin
    if card.kind == "title":
        title = fit(card.text, round(unit * 0.1), inner, round(height * 0.45), 4)
        notice = fit(LOCAL_NOTICE, small, inner, small * 4, 3)
        scenes = max((other.count for other in storyboard.cards), default=0)
        summary_text = f"{scenes} scene{'s' if scenes != 1 else ''} · {storyboard.duration_s:.1f} s" if scenes else ""
        summary = fit(summary_text, small, inner, small * 2, 1)
        body = len(title.lines) * title.line_height + small + len(notice.lines) * notice.line_height
        below = draw_block(draw, title, width / 2, (height - body) / 2)
        draw_block(draw, notice, width / 2, below + small, MUTED)
        draw_block(draw, summary, width / 2, height - margin - summary.line_height, MUTED)
        used += [title.fonts, notice.fonts, summary.fonts]
    else:
        heading = fit(f"Scene {card.index} / {card.count}", round(unit * 0.045), inner, unit, 1)
        caption = fit(card.text, round(unit * 0.075), inner, round(height * 0.6), 8)
        body = len(heading.lines) * heading.line_height + small + len(caption.lines) * caption.line_height
        below = draw_block(draw, heading, width / 2, (height - body) / 2, MUTED)
        draw_block(draw, caption, width / 2, below + small)
        _scene_dots(draw, card, width, height - margin)
        used += [heading.fonts, caption.fonts]
    if any(fonts.missing for fonts in used):
        warning = fit(NO_FONT_NOTICE, small, inner, small * 4, 3)
        draw_block(draw, warning, width / 2, height - 2 * margin - len(warning.lines) * warning.line_height, MUTED)
    return Drawn(image=image, missing=frozenset().union(*(fonts.missing for fonts in used)))


def _scene_dots(draw: ImageDraw.ImageDraw, card: Card, width: int, baseline: int) -> None:
    radius = max(3, round(min(width, baseline) * 0.006))
    gap = radius * 4
    left = width / 2 - (card.count - 1) * gap / 2
    for number in range(1, card.count + 1):
        x = left + (number - 1) * gap
        fill = TEXT if number == card.index else (120, 124, 140)
        draw.ellipse((x - radius, baseline - radius, x + radius, baseline + radius), fill=fill)
