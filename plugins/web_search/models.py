"""What the ``search`` tool takes and gives: the JSON Schemas a model and the builder's form read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

TimeRange = Literal["day", "week", "month", "year"]
Safesearch = Literal["off", "moderate", "strict"]


class SearchInput(BaseModel):
    query: str = Field(
        min_length=1, max_length=400, description="What to search for, as you would type it into a search engine."
    )
    count: int = Field(default=5, ge=1, le=20, description="How many results to return (1-20).")
    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$",
        description="Language of the results, as an ISO 639-1 code with an optional region: en, de, zh-CN. "
        "Leave it out for the provider's default.",
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="Country to search from, as a two-letter code (US, DE, CN), where the provider supports it.",
    )
    time_range: TimeRange | None = Field(
        default=None, description="Only results from the last day, week, month or year."
    )
    fetch_pages: bool = Field(
        default=False,
        description="Also read the top result pages and return their text (slower; use it when snippets are "
        "not enough).",
    )
    max_pages: int = Field(default=3, ge=1, le=10, description="With fetch_pages: how many of the top results to read.")


class SearchResult(BaseModel):
    title: str = Field(description="The page's title.")
    url: str = Field(description="The page's address.")
    snippet: str = Field(description="What the provider quotes or summarises from the page.")
    date: str | None = Field(default=None, description="When the page was published (ISO 8601), if known.")
    source: str = Field(description="The site: its name when the provider gives one, else its host name.")
    provider: str = Field(description="The search provider that found it.")
    page_text: str | None = Field(
        default=None, description="With fetch_pages: the page's readable text, cut to the configured length."
    )
    page_error: str | None = Field(
        default=None, description="With fetch_pages: why this page could not be read (the result itself stands)."
    )


class SearchOutput(BaseModel):
    query: str = Field(description="The query that was searched.")
    provider: str = Field(description="The search provider used.")
    results: list[SearchResult] = Field(description="The results, best first.")
