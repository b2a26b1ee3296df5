"""Facts about the user from one turn: a chat model when the bot has one, rules otherwise.

The model is asked for JSON; anything it answers that is not the expected JSON (prose, a broken
object, a failed call) falls back to the rules, so a turn never loses its facts to a bad answer.
The rules only read what the user said in the first person, in English and Chinese.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from builder.memory.core.facts import CandidateFact, FactKind, normalise_text

logger = logging.getLogger(__name__)

MAX_FACT_CHARS = 500
MAX_FACTS_PER_TURN = 20


@dataclass(frozen=True, slots=True)
class TurnMessage:
    """One message of a turn: ``role`` is ``user`` or ``assistant``; ``id`` names the source turn."""

    role: str
    text: str
    id: str | None = None


TurnInput = TurnMessage | BaseMessage | Mapping[str, Any]


async def extract_facts(
    turn_messages: Sequence[TurnInput], *, model: BaseChatModel | None, now: datetime
) -> list[CandidateFact]:
    """Durable facts about the user in this turn, each observed ``now`` (the turn's date)."""
    messages = [as_turn_message(message) for message in turn_messages]
    source_ids = tuple(message.id for message in messages if message.id)
    if model is not None:
        facts = await _extract_with_model(messages, model)
        if facts is not None:
            return [_stamp(fact, now, source_ids) for fact in facts]
    return [_stamp(fact, now, source_ids) for fact in extract_facts_by_rules(messages)]


def as_turn_message(message: TurnInput) -> TurnMessage:
    if isinstance(message, TurnMessage):
        return message
    if isinstance(message, BaseMessage):
        role = {"human": "user", "ai": "assistant"}.get(message.type, message.type)
        return TurnMessage(role=role, text=str(message.text), id=message.id)
    role, text = str(message.get("role", "user")), str(message.get("content", ""))
    return TurnMessage(role=role, text=text, id=message.get("id"))


def _stamp(fact: CandidateFact, now: datetime, source_ids: tuple[str, ...]) -> CandidateFact:
    return CandidateFact(
        text=fact.text,
        kind=fact.kind,
        key=fact.key,
        value=fact.value,
        observed_at=fact.observed_at or now,
        source_turn_ids=fact.source_turn_ids or source_ids,
    )


# --- with a model -----------------------------------------------------------------------------------

EXTRACTION_PROMPT = """You keep a long-term memory of facts about the USER of a chat assistant.
From the conversation turn below, list the durable facts the USER states or clearly implies about
themselves: identity, home, job, family and pets, preferences, plans, important events. Ignore
small talk, questions, facts about the assistant and anything only true for this moment.

Answer with JSON only, no prose: {"facts": [{"text": "...", "kind": "...", "key": "...", "value": "..."}]}
- text: one short sentence in the user's language, in the third person ("The user lives in Paris").
- kind: one of profile, preference, plan, relation, event, other.
- key: a snake_case name when a newer fact of this kind replaces an older one (home_city, job,
  employer, name, age, birthday, relationship_status, "spouse_name"); null when facts accumulate.
- value: the fact's value under its key ("Paris"), or null.
Answer {"facts": []} when there is nothing worth remembering."""


class _ModelFact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=MAX_FACT_CHARS)
    kind: str = "other"
    key: str | None = None
    value: str | None = None


class _ModelAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    facts: list[_ModelFact] = Field(max_length=MAX_FACTS_PER_TURN)


async def _extract_with_model(messages: Sequence[TurnMessage], model: BaseChatModel) -> list[CandidateFact] | None:
    """The model's facts, or ``None`` when it failed or did not answer the expected JSON."""
    transcript = "\n".join(f"{message.role.upper()}: {message.text}" for message in messages)
    try:
        answer = await model.ainvoke([SystemMessage(EXTRACTION_PROMPT), HumanMessage(transcript)])
        parsed = _ModelAnswer.model_validate(_json_object(str(answer.text)))
    except (ValueError, ValidationError) as exc:
        logger.info("memory extraction: unusable model answer, using the rules: %s", exc)
        return None
    except Exception as exc:  # a provider error must not lose the turn's facts
        logger.warning("memory extraction: model call failed, using the rules: %s", exc)
        return None
    return [
        CandidateFact(
            text=fact.text.strip(),
            kind=_kind(fact.kind),
            key=_key(fact.key),
            value=fact.value.strip() if fact.value and fact.value.strip() else None,
        )
        for fact in parsed.facts
        if fact.text.strip()
    ]


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def _json_object(text: str) -> Any:
    """The JSON in a model's answer, tolerating a code fence around it."""
    fenced = _FENCE.match(text)
    return json.loads(fenced.group(1) if fenced else text)


def _kind(value: str) -> FactKind:
    try:
        return FactKind(value.strip().lower())
    except ValueError:
        return FactKind.OTHER


def _key(value: str | None) -> str | None:
    if not value:
        return None
    key = re.sub(r"[^\w:]+", "_", value.strip().lower()).strip("_")
    return key or None


# --- by rules ---------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s*|\n+")
_CLAUSE = r"[^.,!?;:()\n]+"
_ZH_CLAUSE = r"[^，。！？；、,.!?;\s]+"
# Capitalised words: "New York", "San Francisco" (a place or company name).
_PROPER = r"([A-Z][\w'&-]*(?:\s+(?:(?:of|de|la)\s+)?[A-Z][\w'&-]*)*)"

_UNIQUE_RELATIONS = {
    "wife": "spouse",
    "husband": "spouse",
    "partner": "partner",
    "boyfriend": "partner",
    "girlfriend": "partner",
    "fiancé": "partner",
    "fiancee": "partner",
    "fiance": "partner",
    "mother": "mother",
    "mom": "mother",
    "mum": "mother",
    "father": "father",
    "dad": "father",
    "妻子": "spouse",
    "老婆": "spouse",
    "丈夫": "spouse",
    "老公": "spouse",
    "男朋友": "partner",
    "女朋友": "partner",
    "妈妈": "mother",
    "母亲": "mother",
    "爸爸": "father",
    "父亲": "father",
}
_RELATIONS_EN = (
    "wife|husband|partner|boyfriend|girlfriend|fiancé|fiancee|fiance|mother|mom|mum|father|dad"
    "|son|daughter|brother|sister|dog|cat|best friend"
)
_RELATIONS_ZH = "妻子|老婆|丈夫|老公|男朋友|女朋友|妈妈|母亲|爸爸|父亲|儿子|女儿|哥哥|姐姐|弟弟|妹妹|狗|猫|好朋友"
_NEGATIVE_EN = {"hate", "dislike", "can't stand", "cannot stand", "don't like", "do not like"}
_NEGATIVE_ZH = {"讨厌", "不喜欢", "不爱"}
_PROFESSION_ZH = (
    r"[\u4e00-\u9fff]{0,6}(?:工程师|程序员|医生|护士|老师|教师|律师|设计师|会计|经理|学生|研究员"
    r"|厨师|司机|记者|作家|演员|警察|销售)"
)
_OPINIONS_EN = "love|like|enjoy|adore|hate|dislike|can't stand|cannot stand|don't like|do not like"
_THIRD_PERSON = {"can't stand": "can't stand", "don't like": "doesn't like", "do not like": "doesn't like"}

Rule = Callable[[re.Match[str]], CandidateFact | None]


def _clean(value: str) -> str:
    return value.strip().strip("\"'“”‘’").strip()


def _name(match: re.Match[str]) -> CandidateFact:
    name = _clean(match.group(1))
    zh = _is_zh(name)
    return CandidateFact(f"用户叫{name}" if zh else f"The user's name is {name}", FactKind.PROFILE, "name", name)


def _home(verb: str) -> Rule:
    def rule(match: re.Match[str]) -> CandidateFact | None:
        place = _clean(match.group(1)).removesuffix("了").removesuffix("去")
        if not place:
            return None
        if _is_zh(place):
            text = f"用户搬到了{place}" if verb == "moved" else f"用户住在{place}"
        else:
            text = f"The user moved to {place}" if verb == "moved" else f"The user lives in {place}"
        return CandidateFact(text, FactKind.PROFILE, "home_city", place)

    return rule


def _opinion(match: re.Match[str]) -> CandidateFact | None:
    verb, thing = match.group(1).lower(), _clean(match.group(2))
    if not thing or len(thing) > 80:
        return None
    zh = _is_zh(verb)
    negative = verb in (_NEGATIVE_ZH if zh else _NEGATIVE_EN)
    if zh:
        text = f"用户{verb}{thing}"
    else:
        verb = _THIRD_PERSON.get(verb, verb + "s")
        text = f"The user {verb} {thing}"
    key = f"opinion:{normalise_text(thing)}"
    return CandidateFact(text, FactKind.PREFERENCE, key, "dislikes" if negative else "likes")


def _job(match: re.Match[str]) -> CandidateFact | None:
    job = _clean(match.group(1))
    if not job:
        return None
    text = f"用户是{job}" if _is_zh(job) else f"The user works as {job}"
    return CandidateFact(text, FactKind.PROFILE, "job", job)


def _employer(match: re.Match[str]) -> CandidateFact | None:
    employer = _clean(match.group(1))
    if not employer:
        return None
    text = f"用户在{employer}工作" if _is_zh(employer) else f"The user works at {employer}"
    return CandidateFact(text, FactKind.PROFILE, "employer", employer)


def _birthday(match: re.Match[str]) -> CandidateFact | None:
    day = _clean(match.group(1))
    if not day:
        return None
    text = f"用户的生日是{day}" if _is_zh(day) or _is_zh(match.group(0)) else f"The user's birthday is {day}"
    return CandidateFact(text, FactKind.PROFILE, "birthday", day)


def _age(match: re.Match[str]) -> CandidateFact:
    age = match.group(1)
    text = f"用户{age}岁" if _is_zh(match.group(0)) else f"The user is {age} years old"
    return CandidateFact(text, FactKind.PROFILE, "age", age)


def _relation(match: re.Match[str]) -> CandidateFact | None:
    role, name = match.group(1).lower(), _clean(match.group(2))
    if not name:
        return None
    unique = _UNIQUE_RELATIONS.get(role)
    key = f"relation:{unique}" if unique else f"relation:{role}:{normalise_text(name)}"
    text = f"用户的{role}叫{name}" if _is_zh(role) else f"The user's {role} is called {name}"
    return CandidateFact(text, FactKind.RELATION, key, name)


def _has_relation(match: re.Match[str]) -> CandidateFact | None:
    what = _clean(match.group(1))
    text = f"用户有{what}" if _is_zh(what) else f"The user has {what}"
    return CandidateFact(text, FactKind.RELATION)


def _plan(match: re.Match[str]) -> CandidateFact | None:
    plan = _clean(match.group(1))
    if len(plan) < 2:
        return None
    text = f"用户打算{plan}" if _is_zh(plan) else f"The user plans to {plan}"
    return CandidateFact(text, FactKind.PLAN)


_RULES: list[tuple[re.Pattern[str], Rule]] = [
    # English. Verbs are matched case-insensitively, names and places must be capitalised.
    (re.compile(r"(?i:\bmy name is|\bcall me|\bi'?m called|\bi am called)\s+" + _PROPER), _name),
    (
        re.compile(r"(?i:\bi(?:'ve| have)?\s+(?:just\s+|recently\s+)?(?:moved|relocated)\s+to)\s+" + _PROPER),
        _home("moved"),
    ),
    (re.compile(r"(?i:\bi\s+(?:now\s+)?(?:live|am living|'m living)\s+in)\s+" + _PROPER), _home("lives")),
    (
        re.compile(r"(?i:\bi\s+(?:really\s+|absolutely\s+|just\s+)?(" + _OPINIONS_EN + r"))\s+(" + _CLAUSE + ")"),
        _opinion,
    ),
    (re.compile(r"(?i:\bi\s+work\s+as\s+(?:an?\s+)?)([^.,!?;:()\n]+?)(?=\s+(?:at|for|in)\b|[.,!?;]|$)"), _job),
    (re.compile(r"(?i:\bi\s+work\s+(?:as\s+[^.,!?;]+?\s+)?(?:at|for))\s+" + _PROPER), _employer),
    (re.compile(r"(?i:\bmy birthday is(?:\s+on)?|\bi was born on)\s+(" + _CLAUSE + ")"), _birthday),
    (re.compile(r"(?i:\bi(?:'m| am)\s+(\d{1,3})\s+(?:years old|yo\b))"), _age),
    (
        re.compile(r"(?i:\bmy\s+(" + _RELATIONS_EN + r")(?:'s name)?\s+is\s+(?:called\s+|named\s+)?)" + _PROPER),
        _relation,
    ),
    (re.compile(r"(?i:\bi\s+have\s+((?:an?|one|two|three|\d+)\s+(?:" + _RELATIONS_EN + r")s?))\b"), _has_relation),
    (re.compile(r"(?i:\bi(?:'m| am)\s+(?:going|planning)\s+to|\bi\s+plan\s+to)\s+(" + _CLAUSE + ")"), _plan),
    # Chinese.
    (re.compile(r"(?:我叫|我的名字是|我的名字叫)(" + _ZH_CLAUSE + ")"), _name),
    (re.compile(r"我(?:刚|刚刚|最近|已经)?搬(?:家)?(?:到|去)了?(" + _ZH_CLAUSE + ")"), _home("moved")),
    (re.compile(r"我(?:现在)?住在(" + _ZH_CLAUSE + r")"), _home("lives")),
    (re.compile(r"我(?:很|特别|非常|最|超)?(不喜欢|不爱|喜欢|讨厌|爱)(" + r"[^，。！？；,.!?;]+" + ")"), _opinion),
    (re.compile(r"我是(?:一名|一个|个|名)?(" + _PROFESSION_ZH + ")"), _job),
    (re.compile(r"我在(" + _ZH_CLAUSE + r"?)(?:工作|上班)"), _employer),
    (re.compile(r"我的生日是(" + _ZH_CLAUSE + ")"), _birthday),
    (re.compile(r"我(?:今年)?(\d{1,3})岁"), _age),
    (re.compile(r"我的?(" + _RELATIONS_ZH + r")(?:叫|名字叫|名字是)(" + _ZH_CLAUSE + ")"), _relation),
    (re.compile(r"我(?:打算|计划|准备)(" + r"[^，。！？；,.!?;]+" + ")"), _plan),
]


def extract_facts_by_rules(messages: Sequence[TurnInput]) -> list[CandidateFact]:
    """Facts from the first-person statements of the user's messages (English and Chinese)."""
    facts: dict[str, CandidateFact] = {}
    for message in map(as_turn_message, messages):
        if message.role != "user":
            continue
        for sentence in _sentences(message.text):
            for pattern, rule in _RULES:
                for match in pattern.finditer(sentence):
                    fact = rule(match)
                    if fact is not None and len(fact.text) <= MAX_FACT_CHARS:
                        facts.setdefault(normalise_text(fact.text), fact)
    return list(facts.values())[:MAX_FACTS_PER_TURN]


def _sentences(text: str) -> Iterator[str]:
    for sentence in _SENTENCE_END.split(text):
        if sentence.strip():
            yield sentence.strip()


def _is_zh(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))
