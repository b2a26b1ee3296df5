"""The fonts the storyboard draws with.

Latin text uses a sans-serif font from fontconfig (DejaVu Sans on most Linux servers) or Pillow's
own default font. Chinese, Japanese and Korean need a CJK font, loaded only when a text has a
character the Latin font lacks: ``AGENTLOOM_STORYBOARD_FONT`` (a font file), else Noto Sans CJK
from the pinned ``noto-cjk-sans-otc`` package (a dependency, so every install has it, offline),
else the first font fontconfig lists for Chinese (``fc-list :lang=zh``), else one of the usual
files on Linux, macOS and Windows. From a collection (``.ttc``) the Simplified Chinese face is
used when it has one. Each character is drawn with the first font that has a glyph for it; when
none has, the card is still drawn (the character shows as the font's empty box), the missing font
is logged once, and ``FontSet.missing`` says so, so the renderer can tell the user.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PIL import ImageFont

logger = logging.getLogger("agentloom.plugins.video_generation")

FONT_ENV: Final = "AGENTLOOM_STORYBOARD_FONT"
_FC_TIMEOUT_S: Final = 5.0
# A character no font has: what a font draws for it is its "missing glyph" box.
_NONCHARACTER: Final = "\uffff"

# The pinned package carrying NotoSansCJK-Regular.ttc (SIL Open Font License 1.1).
_BUNDLED_CJK: Final = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")
# The face of a CJK collection to draw Chinese with: Simplified Chinese forms.
_CHINESE_FACE_SUFFIX: Final = " SC"
_MAX_FACES: Final = 32

_LATIN_FILES: Final = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)
_CJK_FILES: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


def _fontconfig(*args: str) -> list[str]:
    """Font files from a fontconfig command (``fc-list``/``fc-match``), [] when there is none."""
    command = shutil.which(args[0])
    if command is None:
        return []
    try:
        done = subprocess.run([command, *args[1:]], capture_output=True, text=True, timeout=_FC_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.strip().rstrip(":") for line in done.stdout.splitlines() if line.strip()]
    return [file for file in files if Path(file).is_file()]


def _first_existing(candidates: list[str] | tuple[str, ...]) -> str | None:
    return next((candidate for candidate in candidates if candidate and Path(candidate).is_file()), None)


@functools.cache
def latin_font_file() -> str | None:
    matched = _fontconfig("fc-match", "-f", "%{file}\n", "sans-serif:bold")
    return _first_existing([*matched, *_LATIN_FILES])


def _bundled_cjk_file() -> str | None:
    """Noto Sans CJK from its pinned package, when installed."""
    package, name = _BUNDLED_CJK
    try:
        return str(importlib.resources.files(package) / name)
    except ModuleNotFoundError:
        return None


@functools.cache
def cjk_font_file() -> str | None:
    """A font with Chinese glyphs (Noto Sans CJK and WenQuanYi also cover Japanese and Korean)."""
    configured = os.environ.get(FONT_ENV, "")
    listed = sorted(
        _fontconfig("fc-list", ":lang=zh", "file"),
        # Sans-serif and bold read best on a card; the sort is stable among equals.
        key=lambda file: (
            not any(word in file.lower() for word in ("sans", "hei", "gothic")),
            "bold" not in file.lower(),
        ),
    )
    found = _first_existing([configured, _bundled_cjk_file() or "", *listed, *_CJK_FILES])
    if found is None:
        logger.warning(
            "no CJK font on this machine: Chinese, Japanese and Korean text in storyboards shows as boxes; "
            "install one (the noto-cjk-sans-otc package that Agentloom pins, or e.g. fonts-noto-cjk) "
            "or set %s to a font file",
            FONT_ENV,
        )
    else:
        logger.info("storyboards draw CJK text with %s", found)
    return found


@functools.cache
def face_index(file: str) -> int:
    """The face of ``file`` to use: in a collection, the first Simplified Chinese face (Noto Sans
    CJK's first face is Japanese, whose forms of some characters differ), else the first."""
    for index in range(_MAX_FACES):
        try:
            family = ImageFont.truetype(file, 10, index=index).getname()[0] or ""
        except OSError:  # past the last face (or not a font at all: _load says so)
            break
        if family.endswith(_CHINESE_FACE_SUFFIX):
            return index
    return 0


def _load(file: str | None, size: int, *, chinese: bool = False) -> ImageFont.FreeTypeFont | None:
    if file is None:
        return None
    try:
        return ImageFont.truetype(file, size, index=face_index(file) if chinese else 0)
    except OSError:
        logger.warning("cannot load the font %s", file)
        return None


@dataclass
class FontSet:
    """The fonts of one size, in the order tried for each character; ``fallback`` loads one more
    (the CJK font) the first time a character is in none of them."""

    fonts: list[ImageFont.FreeTypeFont | ImageFont.ImageFont]
    fallback: Callable[[], ImageFont.FreeTypeFont | None] | None = None
    missing: set[str] = field(default_factory=set)
    _coverage: dict[tuple[int, str], bool] = field(default_factory=dict)

    def covers(self, index: int, character: str) -> bool:
        key = (index, character)
        if key not in self._coverage:
            font = self.fonts[index]
            glyph, empty = font.getmask(character), font.getmask(_NONCHARACTER)
            self._coverage[key] = character.isspace() or glyph.size != empty.size or bytes(glyph) != bytes(empty)
        return self._coverage[key]

    def font_for(self, character: str) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        for index, font in enumerate(self.fonts):
            if self.covers(index, character):
                return font
        if self.fallback is not None:
            extra, self.fallback = self.fallback(), None
            if extra is not None:
                self.fonts.append(extra)
                return self.font_for(character)
        self.missing.add(character)
        return self.fonts[0]


def font_set(size: int) -> FontSet:
    latin = _load(latin_font_file(), size)
    return FontSet(
        [latin if latin is not None else ImageFont.load_default(size=size)],
        fallback=lambda: _load(cjk_font_file(), size, chinese=True),
    )
