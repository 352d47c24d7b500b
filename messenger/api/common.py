"""What every router of the API shares: the id check on paths and the directory search query."""

from __future__ import annotations

from django.http import Http404
from ninja import Field, Schema


class SearchQuery(Schema):
    search: str = Field("", max_length=100)
    limit: int = Field(50, ge=1, le=200)


def path_id(value: int) -> int:
    """A path id the database can hold, or 404 (never a 500 from an overflowing integer)."""
    if not 1 <= value <= 2**62:
        raise Http404
    return value
