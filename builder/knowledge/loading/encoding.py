"""Bytes of a text document -> str, for the encodings people actually upload: UTF-8 (with or
without BOM), UTF-16/32 (Windows "Unicode" exports), and GBK/GB18030 (Chinese Windows, Excel's CSV)."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from builder.knowledge.loading.errors import DocumentError, ErrorCode

# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAMPLE_BYTES = 8192
# GB2312 and GBK labels are read as GB18030, their superset: a "gb2312" page uses GBK characters.
_GB_ALIASES = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}
_UTF16_OR_32 = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7"]
# Below this many bytes charset detection is a guess; GB18030 is the likelier legacy encoding here.
_MIN_BYTES_TO_TRUST_DETECTION = 200
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


def utf16_without_bom(sample: bytes) -> str | None:
    """ASCII-heavy UTF-16 has a NUL in every other byte; which half says the byte order."""
    if len(sample) < 4:
        return None
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls > half * 0.3 and even_nuls < half * 0.05:
        return "utf-16-le"
    if even_nuls > half * 0.3 and odd_nuls < half * 0.05:
        return "utf-16-be"
    return None


def looks_like_text(sample: bytes) -> bool:
    """No NUL bytes and almost no other control characters (or a BOM / UTF-16 byte pattern)."""
    if bom_encoding(sample) or utf16_without_bom(sample):
        return True
    if b"\x00" in sample:
        return False
    controls = sum(sample.count(byte) for byte in (*range(1, 9), *range(14, 27), *range(28, 32)))
    return controls <= len(sample) // 100 + 2  # a stray bell or form feed is not binary


def html_meta_charset(data: bytes) -> str | None:
    """The charset a page declares in a ``<meta>`` tag within its first 4 KB (where it must be)."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def decode_text(data: bytes, *, declared_charset: str | None = None) -> str:
    """Decode ``data``: BOM, then strict UTF-8, then the charset the file or server declared, then
    GB18030, then detection. Raises ``unknown_encoding`` when nothing reads it cleanly."""
    encoding = bom_encoding(data)
    if encoding:
        return _strict(data[len(_bom_of(encoding)) :], encoding)
    utf16 = utf16_without_bom(data[:_SAMPLE_BYTES])
    if utf16:
        return _strict(data, utf16)
    try:
        return data.decode("utf-8")  # valid UTF-8 with non-ASCII bytes is almost never anything else
    except UnicodeDecodeError:
        pass
    declared = _codec_name(declared_charset)
    if declared and declared != "utf-8":
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):  # LookupError: "zlib", "base64"… are not text encodings
            pass
    return _legacy(data)


def _legacy(data: bytes) -> str:
    gb18030 = _plausible_gb18030(data)
    best = from_bytes(data, cp_exclusion=_UTF16_OR_32).best()
    guessed = _codec_name(best.encoding) if best is not None else None
    if gb18030 is not None and (guessed is None or guessed == "gb18030" or len(data) < _MIN_BYTES_TO_TRUST_DETECTION):
        return gb18030
    if guessed is None:
        raise DocumentError(ErrorCode.UNKNOWN_ENCODING)
    return data.decode(guessed, errors="replace")


def _plausible_gb18030(data: bytes) -> str | None:
    """GB18030 decodes most byte strings; Big5 or binary read as GB18030 shows private-use code
    points or control characters, which real Chinese text does not have."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    if _PRIVATE_USE.search(text) or _CONTROL.search(text):
        return None
    return text


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DocumentError(ErrorCode.UNKNOWN_ENCODING) from error


def _bom_of(encoding: str) -> bytes:
    return next(bom for bom, name in _BOMS if name == encoding)


def _codec_name(label: str | None) -> str | None:
    """A charset label (``GBK``, ``"utf8"``, ``x-gbk``) -> a Python codec name, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _GB_ALIASES:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
