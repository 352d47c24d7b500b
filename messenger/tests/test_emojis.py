"""messenger/emojis.py: the emoji set the server accepts and the catalog the picker lists."""

import json

import emoji
import pytest

from messenger.emojis import NEW_CATEGORY, QUICK_REACTIONS, emoji_catalog, emoji_checked
from messenger.errors import BodyInvalid


def _catalog() -> dict:
    return json.loads(emoji_catalog()[0])


def test_the_catalog_lists_every_fully_qualified_emoji_of_the_package_once_without_skin_tones():
    expected = {
        character
        for character, data in emoji.EMOJI_DATA.items()
        if data["status"] == emoji.STATUS["fully_qualified"] and "skin_tone" not in data["en"]
    }

    listed = [character for character, _, _ in _catalog()["emoji"]]

    assert len(listed) == len(set(listed))
    assert set(listed) == expected
    assert all(emoji_checked(character) == character for character in listed)


def test_the_catalog_is_in_keyboard_order_by_category_with_the_newest_last():
    catalog = _catalog()
    categories = [catalog["categories"][category] for _, category, _ in catalog["emoji"]]

    assert catalog["categories"][0] == "Smileys & Emotion"
    assert catalog["categories"][-1] == NEW_CATEGORY
    assert categories == sorted(categories, key=catalog["categories"].index)  # each category in one run
    assert [character for character, _, _ in catalog["emoji"][:3]] == ["😀", "😃", "😄"]


def test_shortcodes_are_the_names_people_type_slacks_first():
    shortcodes = {character: names for character, _, names in _catalog()["emoji"]}

    assert shortcodes["👍"][:2] == ["+1", "thumbsup"]
    assert shortcodes["🎉"] == ["tada", "party_popper"]
    assert "joy" in shortcodes["😂"]
    assert all(name == name.lower() and ":" not in name for names in shortcodes.values() for name in names)


def test_the_quick_ten_are_in_the_catalog_and_the_client_lists_the_same():
    from pathlib import Path

    render_js = (Path(__file__).resolve().parents[2] / "static/js/render.js").read_text()
    listed = {character for character, _, _ in _catalog()["emoji"]}

    assert _catalog()["quick"] == list(QUICK_REACTIONS)
    assert set(QUICK_REACTIONS) <= listed
    assert f"QUICK_REACTIONS = {json.dumps(list(QUICK_REACTIONS), ensure_ascii=False)};" in render_js


@pytest.mark.parametrize(("typed", "stored"), [("❤", "❤️"), ("☺", "☺️"), ("👍🏿", "👍🏿")])
def test_an_emoji_is_stored_in_its_fully_qualified_form(typed, stored):
    assert emoji_checked(typed) == stored


@pytest.mark.parametrize("value", ["", "a", "👍👍", "🏻", "x" * 40])
def test_anything_but_one_emoji_is_refused(value):
    with pytest.raises(BodyInvalid) as refused:
        emoji_checked(value)

    assert refused.value.code == "emoji_invalid"
