"""Chinese captions in the storyboard: drawn with a real CJK font (the pinned Noto Sans CJK when the
machine has none), not as the font's empty boxes; without any CJK font the fallback is said once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from PIL import ImageChops

from plugins.video_generation.storyboard import fonts
from plugins.video_generation.storyboard.cards import Drawn, draw_card
from plugins.video_generation.storyboard.script import Card, Storyboard

# Any character no font has: what a font draws for it is its .notdef box.
NOT_A_CHARACTER = "\uffff"


@pytest.fixture(autouse=True)
def fresh_font_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test looks the CJK font up again (and leaves no patched answer behind)."""
    monkeypatch.delenv(fonts.FONT_ENV, raising=False)
    fonts.cjk_font_file.cache_clear()
    yield
    fonts.cjk_font_file.cache_clear()


def caption(text: str) -> Drawn:
    """A caption card whose only difference from another is ``text``."""
    card = Card(kind="caption", text=text, frames=1, index=1, count=1)
    return draw_card(card, Storyboard(title="故事", cards=(card,), fps=24), (640, 360), 1)


def bitmap(font: object, character: str) -> bytes:
    return bytes(font.getmask(character))  # type: ignore[attr-defined]


def test_chinese_characters_are_drawn_as_their_own_glyphs() -> None:
    size = fonts.font_set(48)
    fox, river = size.font_for("狐"), size.font_for("河")

    assert fox is river and fox.getname()[0] == "Noto Sans CJK SC"  # type: ignore[union-attr]
    assert bitmap(fox, "狐") != bitmap(fox, "河")
    assert bitmap(fox, NOT_A_CHARACTER) not in (bitmap(fox, "狐"), bitmap(fox, "河"))
    assert size.missing == set()
    fox_card, river_card = caption("狐"), caption("河")
    assert not fox_card.missing and not river_card.missing
    assert ImageChops.difference(fox_card.image, river_card.image).getbbox() is not None


def test_the_cjk_font_comes_with_agentloom_and_loads_only_for_text_that_needs_it() -> None:
    assert fonts.cjk_font_file() == fonts._bundled_cjk_file()
    size = fonts.font_set(40)

    latin = [size.font_for(character) for character in "A fox"]

    assert len(size.fonts) == 1 and all(font is size.fonts[0] for font in latin)
    size.font_for("狐")
    assert len(size.fonts) == 2


def test_without_any_cjk_font_the_card_says_so_and_the_server_logs_it_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A machine with neither the package, nor fontconfig, nor a usual CJK font file.
    monkeypatch.setattr(fonts, "_BUNDLED_CJK", ("agentloom_no_such_font_package", "none.ttc"))
    monkeypatch.setattr(fonts, "_CJK_FILES", ())
    monkeypatch.setenv("PATH", "")
    caplog.set_level(logging.INFO, logger="agentloom.plugins.video_generation")

    fox_card, river_card = caption("狐"), caption("河")

    assert fox_card.missing == {"狐"} and river_card.missing == {"河"}
    # Both boxes: the two cards differ in nothing but the caption, so they are the same picture.
    assert ImageChops.difference(fox_card.image, river_card.image).getbbox() is None
    warnings = [record for record in caplog.records if "no CJK font" in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
