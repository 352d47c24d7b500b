"""Blind index tokens and queries: normalization, keyed tokens, and the exact check after the index narrows."""

import hashlib
import hmac

import pytest

from core import blind_index
from core.blind_index import QueryError, parse_query
from core.crypto import KeyRing, new_key_entry

RING = KeyRing.from_spec(new_key_entry("k1"))


def test_words_are_case_folded_and_stripped_of_accents():
    assert blind_index.words("Éclair, CAFÉ straße naïve!") == ["eclair", "cafe", "strasse", "naive"]


def test_equal_words_give_equal_tokens_whatever_their_case_or_accents():
    assert blind_index.token("Café", ring=RING) == blind_index.token("cafe", ring=RING)
    assert blind_index.token("cafe", ring=RING) != blind_index.token("caff", ring=RING)


def test_tokens_depend_on_the_key_and_hold_no_plain_hash_of_the_word():
    other = KeyRing.from_spec(new_key_entry("k1"))
    word_token = blind_index.token("budget", ring=RING)

    assert word_token != blind_index.token("budget", ring=other)
    assert len(word_token) == blind_index.TOKEN_BYTES
    assert word_token not in hashlib.sha256(b"budget").digest()
    # The search key is not the sealing key itself: a token under the raw key differs.
    raw = hmac.new(RING.keys["k1"], b"budget", hashlib.sha256).digest()[: blind_index.TOKEN_BYTES]
    assert word_token != raw


def test_text_tokens_are_distinct_per_word():
    tokens = blind_index.text_tokens("the plan, THE Plan and the budget", ring=RING)

    assert len(tokens) == 4
    assert blind_index.token("budget", ring=RING) in tokens


def test_parse_and_or_not_and_phrases():
    query = parse_query('budget "Q3 plan" OR forecast NOT draft -old')

    assert query.groups == ((("budget",), ("q3", "plan")), (("forecast",),))
    assert query.excluded == (("draft",), ("old",))
    assert query.phrases() == [("q3", "plan")]


@pytest.mark.parametrize("text", ['"open phrase', "NOT draft", "  ", "-x"])
def test_queries_that_cannot_be_answered_are_refused_clearly(text):
    with pytest.raises(QueryError):
        parse_query(text)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("budget", True),
        ("BUDGET plan", True),
        ('"q3 plan"', True),
        ('"plan q3"', False),
        ("missing OR budget", True),
        ("budget NOT draft", True),
        ("budget NOT cafe", False),
        ("budget missing", False),
    ],
)
def test_matches_is_the_exact_check(query, found):
    assert blind_index.matches("The Q3 plan: budget at the Café.", parse_query(query)) is found
