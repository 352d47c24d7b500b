"""Blind index for keyword search: keyed hashes of normalized words, so the database can match words it cannot read.

A token is HMAC-SHA256(search key, normalized word), truncated to 16 bytes. The search key is derived from the
primary key of the ring under its own purpose label, never used for sealing; rotating the primary key changes every
token, so the index is rebuilt after a rotation (`manage.py rebuild_search_index`). What such an index reveals:
equal words are linkable across messages, how many distinct words a message has, and when each word was used;
not the words, their order, or the text.

The archive writes, purges and rebuilds its tokens in archive.search_index and archive.services and searches them
in archive.selectors (docs/security.md, "The search index"); this module is the tokenizing and query layer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from core.crypto import KeyRing, configured_key_ring

PURPOSE = b"parley:blind-index:v1"
TOKEN_BYTES = 16
WORD_PATTERN = re.compile(r"\w+", re.UNICODE)


def normalize_word(word: str) -> str:
    """Case-folded, accents removed (NFKD, combining marks dropped): 'Éclair' and 'eclair' match."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The normalized words of `text`, in order, repeats kept (phrase checks need the order)."""
    return [normalize_word(match) for match in WORD_PATTERN.findall(normalize_word(text))]


@cache
def _search_key(primary_key: bytes) -> bytes:
    return hmac.new(primary_key, PURPOSE, hashlib.sha256).digest()


def search_key(ring: KeyRing | None = None) -> bytes:
    """The index key, derived from the ring's primary key under its own purpose label."""
    ring = ring or configured_key_ring()
    return _search_key(ring.keys[ring.primary_id])


def token(word: str, *, ring: KeyRing | None = None) -> bytes:
    """The blind token of one word (normalized first)."""
    return hmac.new(search_key(ring), normalize_word(word).encode(), hashlib.sha256).digest()[:TOKEN_BYTES]


def text_tokens(text: str, *, ring: KeyRing | None = None) -> set[bytes]:
    """The distinct tokens of a text: what the index stores for it (one row per distinct word)."""
    key = search_key(ring)
    return {hmac.new(key, word.encode(), hashlib.sha256).digest()[:TOKEN_BYTES] for word in set(words(text))}


class QueryError(ValueError):
    """A search query that cannot be understood (unbalanced quotes, only NOT terms)."""


@dataclass(frozen=True)
class Query:
    """A parsed keyword query: any group may match (OR); within a group every term must (AND), none of the excluded.

    A term is a tuple of normalized words: one word, or a quoted phrase whose words the index narrows to
    candidates and the caller verifies in order after opening the text.
    """

    groups: tuple[tuple[tuple[str, ...], ...], ...]
    excluded: tuple[tuple[str, ...], ...] = field(default=())

    def phrases(self) -> list[tuple[str, ...]]:
        return [term for group in self.groups for term in group if len(term) > 1]


def parse_query(text: str) -> Query:
    """Parse `budget "q3 plan" OR forecast NOT draft` (also `-draft`); AND is implied between terms."""
    try:
        parts = shlex.split(text, posix=True)
    except ValueError:
        raise QueryError("A quoted phrase is not closed.") from None
    groups: list[list[tuple[str, ...]]] = [[]]
    excluded: list[tuple[str, ...]] = []
    negate = False
    for part in parts:
        if part == "OR":
            groups.append([])
            continue
        if part in ("AND", "NOT"):
            negate = negate or part == "NOT"
            continue
        if part.startswith("-") and len(part) > 1:
            negate, part = True, part[1:]
        term = tuple(words(part))
        if term:
            (excluded if negate else groups[-1]).append(term)
        negate = False
    kept = tuple(tuple(group) for group in groups if group)
    if not kept:
        raise QueryError("The query needs at least one word to look for.")
    return Query(groups=kept, excluded=tuple(excluded))


def contains_phrase(text_words: list[str], phrase: tuple[str, ...]) -> bool:
    """Whether the words of `phrase` appear consecutively in `text_words`."""
    size = len(phrase)
    return any(tuple(text_words[i : i + size]) == phrase for i in range(len(text_words) - size + 1))


def matches(text: str, query: Query) -> bool:
    """Whether an opened text satisfies the query: the exact check after the index has narrowed the candidates."""
    text_words = words(text)
    present = set(text_words)

    def has(term: tuple[str, ...]) -> bool:
        return term[0] in present if len(term) == 1 else contains_phrase(text_words, term)

    if any(has(term) for term in query.excluded):
        return False
    return any(all(has(term) for term in group) for group in query.groups)
