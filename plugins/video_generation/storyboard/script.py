"""From a prompt to a storyboard: a title card and caption cards, each with its share of the time.

Pure data, no drawing: the prompt is split into sentences (Latin and CJK punctuation, line breaks),
neighbours are merged until every card can stay on screen long enough to be read, and the frames
of the clip are divided between the cards so that the video lasts exactly what was asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

FPS: Final = 24
# A card shorter than this cannot be read; the title card never takes more than TITLE_MAX_S.
MIN_CARD_S: Final = 1.5
TITLE_MAX_S: Final = 2.5
TITLE_MAX_CHARS: Final = 80
CAPTION_MAX_CHARS: Final = 220
# The cards cross-fade over this many frames (never more than a third of the shorter card).
FADE_FRAMES: Final = 8

# A sentence ends after . ! ? ; … (followed by a space or the end) or after CJK 。！？；, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|(?<=[。！？；])|\n+")
_TITLE_CUT = re.compile(r"[,，、:：—–\-(（]")


@dataclass(frozen=True)
class Card:
    """One still card: ``kind`` is ``"title"`` or ``"caption"``; it is shown for ``frames`` frames."""

    kind: str
    text: str
    frames: int
    index: int = 0  # the caption's number, from 1
    count: int = 0  # how many captions there are


@dataclass(frozen=True)
class Storyboard:
    title: str
    cards: tuple[Card, ...]
    fps: int

    @property
    def frames(self) -> int:
        return sum(card.frames for card in self.cards)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def sentences(prompt: str) -> list[str]:
    """The prompt's sentences, whitespace tidied, empty ones dropped."""
    parts = (" ".join(part.split()) for part in _SENTENCE_END.split(prompt.strip()))
    return [part for part in parts if part]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def title_of(prompt: str) -> str:
    """A short title: the first sentence up to its first pause, at most ``TITLE_MAX_CHARS``."""
    first = next(iter(sentences(prompt)), "") or "Untitled"
    head = _TITLE_CUT.split(first, maxsplit=1)[0].strip() or first
    return _shorten(head.rstrip(".!?;。！？；"), TITLE_MAX_CHARS)


def _merge(parts: list[str], count: int) -> list[str]:
    """``parts`` merged into ``count`` groups of neighbours, as even in length as greedy allows."""
    if len(parts) <= count:
        return parts
    total = sum(len(part) for part in parts)
    groups: list[list[str]] = [[]]
    done = 0
    for part in parts:
        remaining_groups = count - len(groups)
        target = total * len(groups) / count
        if groups[-1] and done + len(part) / 2 > target and remaining_groups > 0:
            groups.append([])
        groups[-1].append(part)
        done += len(part)
    joined = []
    for group in groups:
        cjk = all(_is_cjk_end(part) for part in group[:-1])
        joined.append(("" if cjk else " ").join(group))
    return joined


def _is_cjk_end(text: str) -> bool:
    return bool(text) and "\u2e80" <= text[-1] <= "\uffef"


def plan(prompt: str, duration_s: float, *, fps: int = FPS) -> Storyboard:
    """The storyboard of ``prompt`` lasting ``duration_s`` (rounded to whole frames)."""
    total = max(round(duration_s * fps), 1)
    title = title_of(prompt)
    parts = sentences(prompt) or [title]
    shortest = round(MIN_CARD_S * fps)
    title_frames = min(round(TITLE_MAX_S * fps), max(total // 4, 1))
    caption_frames = total - title_frames
    if caption_frames < shortest:
        # Too short for both: the title card alone.
        return Storyboard(title=title, cards=(Card("title", title, total),), fps=fps)
    captions = [_shorten(text, CAPTION_MAX_CHARS) for text in _merge(parts, caption_frames // shortest)]
    # Every caption gets the shortest readable time, and the rest in proportion to its length.
    spare = caption_frames - shortest * len(captions)
    weights = [max(len(text), 20) for text in captions]
    shares = [shortest + spare * weight // sum(weights) for weight in weights]
    shares[-1] += caption_frames - sum(shares)
    cards = [Card("title", title, title_frames)]
    cards += [
        Card("caption", text, frames, index=number, count=len(captions))
        for number, (text, frames) in enumerate(zip(captions, shares, strict=True), start=1)
    ]
    return Storyboard(title=title, cards=tuple(cards), fps=fps)
