"""Sealed values inside audit-log rows open only in their own row, and a row cannot be made to show otherwise."""

import pytest

from core.crypto import DecryptionError
from core.sealed_audit import (
    SEALED_CHANGES_KEY,
    changes_as_written,
    changes_shown,
    changes_with_fields_sealed,
    opened_json_value,
    sealed_json_value,
)

ORIGINAL = {"name": ["desk", "fx"], "topic": ["", "layoffs"]}


def test_a_sealed_original_opens_as_written_in_its_own_row_and_shows_only_what_is_clear():
    sealed = changes_with_fields_sealed(ORIGINAL, fields={"topic"}, log_id=7)

    assert "layoffs" not in str(sealed)
    assert changes_shown(sealed) == {"name": ["desk", "fx"]}
    assert changes_as_written(sealed, log_id=7) == ORIGINAL
    assert changes_as_written(sealed, log_id=8) == sealed  # copied into another row: stays as stored


def test_a_row_whose_clear_part_was_edited_or_whose_hidden_fields_were_widened_is_not_passed_off_as_written():
    sealed = changes_with_fields_sealed(ORIGINAL, fields={"topic"}, log_id=7)
    edited = {**sealed, "name": ["desk", "other"]}
    hiding_more = {SEALED_CHANGES_KEY: {**sealed[SEALED_CHANGES_KEY], "fields": ["name", "topic"]}}

    assert changes_as_written(edited, log_id=7) == edited
    assert changes_as_written(hiding_more, log_id=7) == hiding_more


def test_sealed_words_open_only_for_their_row_and_purpose():
    words = sealed_json_value("acme merger", purpose="search_words", log_id=3)

    assert opened_json_value(words, purpose="search_words", log_id=3) == "acme merger"
    for purpose, log_id in (("search_words", 4), ("changes", 3)):
        with pytest.raises(DecryptionError):
            opened_json_value(words, purpose=purpose, log_id=log_id)
