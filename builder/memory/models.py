"""What a bot remembers about each of its end users: their user variables and long-term facts.

An end user is a string id within one bot (see ``end_user_id_of``): a signed-in person is their
user id; an API key's end users live in the key's own namespace (``key:<key id>:<name>``, or
``key:<key id>`` for its callers who name nobody), so different principals never share a memory.
Nothing here is shared between bots.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from builder.bots.models import Bot
from builder.core.models import BaseModel
from builder.memory.core import FactKind

END_USER_ID_MAX = 200  # Conversation.end_user_id
API_KEY_NAMESPACE = "key:"
# The longest end-user name an API client may give (``user``): its key's namespace takes the rest.
END_USER_NAME_MAX = END_USER_ID_MAX - len(API_KEY_NAMESPACE) - len(uuid.UUID(int=0).hex) - 1
FACT_KINDS = [
    (FactKind.PROFILE.value, _("Who they are")),
    (FactKind.PREFERENCE.value, _("Preference")),
    (FactKind.PLAN.value, _("Plan")),
    (FactKind.RELATION.value, _("Family, friends and pets")),
    (FactKind.EVENT.value, _("Event")),
    (FactKind.OTHER.value, _("Other")),
    (FactKind.TURN.value, _("Conversation turn")),
]


def api_end_user_id(api_key_id: Any, name: str) -> str:
    """The end user ``name`` of an API key as memory knows them ("": the key's callers who name nobody).

    Namespaced by the key: two keys' "alice" are two people, and no key reaches a signed-in
    person's memory (a user id) or the key creator's. Revoking a key and making a new one starts
    new end users (the bot's editors still see the old ones under ``end-users/``).
    """
    namespace = f"{API_KEY_NAMESPACE}{uuid.UUID(str(api_key_id)).hex}"
    return f"{namespace}:{name}" if name else namespace


def end_user_id_of(conversation: Any) -> str:
    """Whom a conversation's runs remember and recall (its memory's end-user id): "" when nobody is known.

    A key's conversation: the key's end user (``api_end_user_id``). A signed-in person's: their
    user id. Conversations from before keys owned theirs keep the end user their client named.
    """
    if conversation.api_key_id is not None:
        return api_end_user_id(conversation.api_key_id, conversation.end_user_id)
    return str(conversation.end_user_id or conversation.user_id or "")


def speaker_id_of(conversation: Any) -> str:
    """``sys.user_id``: whom the bot speaks with, as the bot's graph sees them: the name an API
    client gave its end user ("" when none), a signed-in person's user id."""
    if conversation.api_key_id is not None:
        return str(conversation.end_user_id)
    return end_user_id_of(conversation)


class EndUser(BaseModel):
    """One end user of one bot, as the bot knows them: their user variables and when they were last seen.

    The user variables are one JSON object per end user rather than a row per variable: a run reads
    and writes them all at once (one query each way), they are small, and merging a run's changes
    into the object under a row lock keeps concurrent conversations of one user from losing writes.
    Only values that were set are stored; declared defaults fill the rest at run time, so changing a
    default in the builder reaches every end user who never set that variable.
    """

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="end_users")
    end_user_id = models.CharField(_("end user id"), max_length=END_USER_ID_MAX)
    variables: models.JSONField[Any, Any] = models.JSONField(_("user variables"), default=dict, blank=True)
    # Their last turn that changed their user variables or that the bot learned from.
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "end_user_id"]
        constraints = [models.UniqueConstraint(fields=["bot", "end_user_id"], name="memory_end_user_unique")]
        verbose_name = _("end user")
        verbose_name_plural = _("end users")

    def __str__(self) -> str:
        return self.end_user_id


class Fact(models.Model):
    """A remembered fact (``builder.memory.core.MemoryFact``): the record the search index mirrors.

    Superseded facts stay (with ``superseded_by``) so the user can see what the bot once believed;
    only current ones are in the index. Not a ``BaseModel``: ``updated_at`` is the fact's own
    (consolidation sets it when the fact is said again or replaced), not the row's last write.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="memory_facts")
    end_user_id = models.CharField(_("end user id"), max_length=END_USER_ID_MAX)
    text = models.TextField(_("text"))
    kind = models.CharField(_("kind"), max_length=16, choices=FACT_KINDS)
    # Facts with the same key replace each other (home_city); value is the normalised value under it.
    key = models.CharField(max_length=200, null=True, blank=True)
    value = models.TextField(null=True, blank=True)
    observed_at = models.DateTimeField(_("observed at"))
    updated_at = models.DateTimeField(_("updated at"))
    # The messages the fact was extracted from (Message ids).
    source_turn_ids: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    superseded_by = models.CharField(max_length=64, null=True, blank=True)
    context = models.TextField(blank=True)
    metadata: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["observed_at", "updated_at", "id"]
        indexes = [models.Index(fields=["bot", "end_user_id"], name="memory_fact_scope")]
        verbose_name = _("remembered fact")
        verbose_name_plural = _("remembered facts")

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def is_current(self) -> bool:
        return self.superseded_by is None
