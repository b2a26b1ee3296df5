"""Add or update 简体中文 entries in the catalogue without rewriting it (``make messages`` does the full sync).

    python scripts/po_add.py "English msgid" "中文译文" ["msgid 2" "译文 2" ...]

Existing entries with the same msgid get the new translation (and lose a fuzzy mark); new ones are
appended. Compile afterwards: ``python manage.py compilemessages -l zh_Hans``.
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
    for msgid, msgstr in zip(pairs[::2], pairs[1::2], strict=True):
        entry = po.find(msgid)
        if entry is None:
            flags = ["python-format"] if "%(" in msgid or "%s" in msgid or "%d" in msgid else []
            po.append(polib.POEntry(msgid=msgid, msgstr=msgstr, flags=flags))
        else:
            entry.msgstr = msgstr
            entry.obsolete = False
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    po.save(str(CATALOGUE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
