"""Sections -> chunks, the units that are indexed and retrieved.

Two modes (DESIGN §6): ``general`` splits each section into chunks of at most ``chunk_size`` with
some overlap; ``parent_child`` splits each section into large parents and each parent into small
children: the children are indexed (a small chunk matches a question sharply), and retrieval
returns a matched child's parent (a large chunk gives the model enough context).

Sizes are counted in characters by default. A character count is exact, free, the same for every
model and language, and needs no tokenizer (tiktoken downloads its vocabulary on first use, which
fails offline). The defaults keep an English chunk under the 256 word pieces all-MiniLM-L6-v2
reads. Pass ``length_function`` to count a particular model's tokens instead.

Chunks never cross a section, so each keeps its section's page, sheet, rows or headings. The
splitting itself is LangChain's ``RecursiveCharacterTextSplitter``, with separators that also
break Chinese text at sentence and clause marks (kept at the end of their sentence).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator, model_validator

from builder.knowledge.loading.sections import LoadedSection

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

MIN_CHUNK_SIZE = 50
MAX_CHUNK_SIZE = 8000
DEFAULT_CHUNK_SIZE = 800
DEFAULT_OVERLAP = 100
# Paragraph, line, sentence (Chinese, then English), clause, word, and at last any character.
DEFAULT_SEPARATORS: tuple[str, ...] = (
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    ". ",
    "! ",
    "? ",
    "；",
    "; ",
    "，",
    ", ",
    " ",
    "",
)
# The splitter's last resort turns its input into a list of single characters, so it never gets
# more than this at once: a 20 MB line with no separator would otherwise take gigabytes.
MAX_SPLITTER_INPUT = 100_000

LengthFunction = Callable[[str], int]


class Splitting(BaseModel):
    """How one level of chunks is cut."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_size: int = Field(
        default=DEFAULT_CHUNK_SIZE, ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE, description="Maximum chunk length."
    )
    chunk_overlap: int = Field(
        default=DEFAULT_OVERLAP,
        ge=0,
        description="How much of a chunk's end starts the next chunk (default: 1/8 of its size).",
    )
    separators: tuple[str, ...] = Field(
        default=DEFAULT_SEPARATORS, min_length=1, description="Tried in order: the first that cuts small enough wins."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_overlap_follows_size(cls, data: Any) -> Any:
        # {"chunk_size": 60} alone must not inherit an overlap of 100.
        if isinstance(data, dict) and "chunk_overlap" not in data and isinstance(data.get("chunk_size"), int):
            return {**data, "chunk_overlap": min(DEFAULT_OVERLAP, data["chunk_size"] // 8)}
        return data

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_smaller_than_size(cls, overlap: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size")
        if size is not None and overlap >= size:
            raise ValueError(f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})")
        return overlap

    @field_validator("separators")
    @classmethod
    def _unescaped(cls, separators: tuple[str, ...]) -> tuple[str, ...]:
        # Typed in a form, "\n" arrives as backslash + n.
        return tuple(separator.replace("\\n", "\n").replace("\\t", "\t") for separator in separators)


class GeneralChunking(Splitting):
    mode: Literal["general"] = "general"


class ParentChildChunking(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["parent_child"] = "parent_child"
    parent: Splitting = Splitting(chunk_size=2000, chunk_overlap=0)
    child: Splitting = Splitting(chunk_size=300, chunk_overlap=50)

    @field_validator("child")
    @classmethod
    def _child_smaller_than_parent(cls, child: Splitting, info: ValidationInfo) -> Splitting:
        parent = info.data.get("parent")
        if parent is not None and child.chunk_size >= parent.chunk_size:
            raise ValueError(
                f"child.chunk_size ({child.chunk_size}) must be smaller than parent.chunk_size ({parent.chunk_size})"
            )
        return child


ChunkingSettings = Annotated[GeneralChunking | ParentChildChunking, Field(discriminator="mode")]
_SETTINGS = TypeAdapter[GeneralChunking | ParentChildChunking](ChunkingSettings)


def parse_chunking_settings(data: Mapping[str, Any]) -> GeneralChunking | ParentChildChunking:
    """Validate settings as stored or posted (``{"mode": "general", "chunk_size": 500, …}``);
    raises pydantic's ``ValidationError``, whose ``loc`` names the bad field."""
    return _SETTINGS.validate_python(data)


@dataclass(frozen=True)
class Chunk:
    """``position`` is the chunk's place in document order (0-based, per list). A child chunk has
    ``parent_position``: the position of its parent in ``ChunkedDocument.parents``."""

    position: int
    text: str
    metadata: dict[str, Any]
    parent_position: int | None = None


@dataclass(frozen=True)
class ChunkedDocument:
    chunks: list[Chunk]
    """What is indexed and matched: every chunk in general mode, the children in parent-child mode."""
    parents: list[Chunk] = field(default_factory=list)

    def context_for(self, chunk: Chunk) -> Chunk:
        """What retrieval returns for a matched chunk: its parent, or the chunk itself."""
        return chunk if chunk.parent_position is None else self.parents[chunk.parent_position]


def chunk_sections(
    sections: Sequence[LoadedSection],
    settings: GeneralChunking | ParentChildChunking,
    *,
    length_function: LengthFunction = len,
) -> ChunkedDocument:
    if isinstance(settings, GeneralChunking):
        return ChunkedDocument(chunks=_chunks(sections, settings, length_function))
    parents = _chunks(sections, settings.parent, length_function)
    children: list[Chunk] = []
    child_splitter = _splitter(settings.child, length_function)
    for parent in parents:
        for text in child_splitter.split_text(parent.text):
            children.append(Chunk(len(children), text, dict(parent.metadata), parent_position=parent.position))
    return ChunkedDocument(chunks=children, parents=parents)


def _chunks(sections: Sequence[LoadedSection], splitting: Splitting, length_function: LengthFunction) -> list[Chunk]:
    splitter = _splitter(splitting, length_function)
    chunks: list[Chunk] = []
    for section in sections:
        for block in _bounded_blocks(section.text, splitting.separators):
            for text in splitter.split_text(block):
                chunks.append(Chunk(len(chunks), text, section.metadata))
    return chunks


def _splitter(splitting: Splitting, length_function: LengthFunction) -> RecursiveCharacterTextSplitter:
    # Imported here, not at the top: the parser process (isolation.py) imports this package, never chunks.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    separators = list(splitting.separators)
    if "" not in separators:  # without it a chunk may exceed chunk_size (an embedding model truncates it)
        separators.append("")
    return RecursiveCharacterTextSplitter(
        chunk_size=splitting.chunk_size,
        chunk_overlap=splitting.chunk_overlap,
        separators=separators,
        keep_separator="end",
        length_function=length_function,
    )


def _bounded_blocks(text: str, separators: Sequence[str]) -> Iterator[str]:
    """``text`` in pieces of at most MAX_SPLITTER_INPUT characters, each cut at the best separator
    in its second half (or anywhere, if it has none)."""
    start = 0
    while len(text) - start > MAX_SPLITTER_INPUT:
        window = text[start : start + MAX_SPLITTER_INPUT]
        cut = MAX_SPLITTER_INPUT
        for separator in separators:
            found = window.rfind(separator, MAX_SPLITTER_INPUT // 2) if separator else -1
            if found > 0:
                cut = found + len(separator)
                break
        yield window[:cut]
        start += cut
    yield text[start:]
