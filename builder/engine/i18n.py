"""Translation markers for the engine, which cannot import Django.

Django's ``makemessages`` extracts every literal passed to ``gettext_noop``; the Django layer then
translates the English template at display time with ``gettext(template) % params``.
"""


def gettext_noop(message: str) -> str:
    """Mark ``message`` for extraction and return it unchanged."""
    return message
