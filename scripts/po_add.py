"""Add or update 简体中文 entries in the catalogue without rewriting it (``make messages`` does the full sync).

    python scripts/po_add.py "English msgid" "中文译文" ["msgid 2" "译文 2" ...]

New entries are appended (the rest of the file is left as it is); an existing msgid gets the new
translation and loses a fuzzy mark. Compile afterwards: ``python manage.py compilemessages -l zh_Hans``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

CATALOGUE = Path(__file__).resolve().parent.parent / "builder" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def main(pairs: list[str]) -> int:
    if not pairs or len(pairs) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    po = polib.pofile(str(CATALOGUE))
    appended: list[str] = []
    rewrite = False
    for msgid, msgstr in zip(pairs[::2], pairs[1::2], strict=True):
        entry = po.find(msgid)
        if entry is None:
            flags = ["python-format"] if "%(" in msgid or "%s" in msgid or "%d" in msgid else []
            appended.append(str(polib.POEntry(msgid=msgid, msgstr=msgstr, flags=flags)))
        elif entry.msgstr != msgstr or entry.obsolete or "fuzzy" in entry.flags:
            entry.msgstr, entry.obsolete = msgstr, False
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            rewrite = True
    if rewrite:  # rare: polib re-wraps the whole file
        po.save(str(CATALOGUE))
    if appended:  # the usual case: new entries at the end, the rest of the file untouched
        with CATALOGUE.open("a", encoding="utf-8") as catalogue:
            catalogue.write("\n" + "\n".join(appended))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
